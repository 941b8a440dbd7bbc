/**
 * Gateway latency under load (issue "Serving" numbers). The gateway runs as its own process (`ofp serve`, compiled
 * as the image runs it); the open-loop load generator (bench/load-generator.ts) runs here, on the same 2-core machine,
 * over keep-alive connections at a fixed request rate.
 *   BENCH_HOT_EVENTS      events of the hot merchant inside its 7d window (default 1,000,000)
 *   BENCH_RPS             rate of the 1 key × 1 group scenario, or a comma-separated sweep (default 2000)
 *   BENCH_SECONDS         duration of each measured run (default 10)
 *   BENCH_WARMUP_SECONDS  warm-up before each measured run (default 5)
 *   BENCH_READ_CONCURRENCY  comma-separated values of the gateway's OFP_READ_CONCURRENCY, one gateway each
 *   BENCH_GATEWAY_ENVS    gateways with other settings, one per `;`-separated set of `NAME=value` (space-separated)
 *   BENCH_BASELINE_BUILD  another build's dist/src/cli/main.js, measured first on the same data
 *   BENCH_FLOOR           0 to skip the bare HTTP server measured at the 1 key x 1 group rates (default 1)
 *   BENCH_FLOOR_BURN_US   CPU microseconds the bare server spends per request, comma-separated (default 0)
 */
import { fork, spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FileEventBus } from '../src/bus/file-bus';
import { FilePublisher } from '../src/bus/file-publisher';
import { envelopeSchema, payloadSchemas } from '../src/contracts';
import { RecordParser } from '../src/core/envelope';
import { loadPolicyFile } from '../src/core/policy-file';
import { streamsOf } from '../src/core/policy';
import { formatTimestamp, parseTimestamp } from '../src/core/time';
import { createPool } from '../src/db/pool';
import { SeriesResolver } from '../src/db/projection-store';
import { EXAMPLE_QUERY } from '../src/graphql/example-query';
import { merchantAnchorBurst } from '../src/generator/burst';
import { generate } from '../src/generator/generate';
import { deriveRuns } from '../src/generator/runs';
import { PartitionApplier } from '../src/projector/partition-applier';
import { findFreePort } from '../src/services/ports';
import { describeSteal, machineCpu } from './machine-cpu';
import { openLoopLoad, postRequest, takeResponse, type LoadResult } from './load-generator';
import {
  benchDir,
  cpuPerItem,
  processCpu,
  type ProcessCpu,
  freshBenchDatabase,
  log,
  mb,
  percentile,
  report,
  rssOf,
  startBenchServices,
} from './support';

const HOT_EVENTS = Number(process.env.BENCH_HOT_EVENTS ?? 1_000_000);
/** One rate or a comma-separated sweep, e.g. `500,1000,2000`. */
const RPS_LIST = (process.env.BENCH_RPS ?? '2000').split(',').map(Number);
const RPS = RPS_LIST[RPS_LIST.length - 1];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/**
 * Warm-up before each measured run, at its rate (at most 400 req/s). Default 5 s: the gateway's CPU per request
 * keeps falling for the first couple of thousand requests while V8 optimises the hot path.
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
/** Rate of the hot-merchant scenario. Default 500. */
const HOT_RPS = Number(process.env.BENCH_HOT_RPS ?? 500);
const TOKEN = 'reader-bench-token';
const ANCHOR = 'fp.bus.context.flow_anchor.fraud.v1';
const START = '2026-02-06T17:00:00.000000Z';
const HOT_MERCHANT = '999999999';
const policy = loadPolicyFile(path.resolve(__dirname, '../config/features.yaml'));

/** 1,000,000 flow anchors of one merchant spread evenly over 7 days, written straight to partition files. */
async function writeHotMerchant(
  busRoot: string,
  runIndex: number,
): Promise<{ pins: ReturnType<typeof deriveRuns>[number]['pins']; last: string }> {
  const pins = deriveRuns(5n, 1, parseTimestamp(START)!)[runIndex].pins;
  const publisher = new FilePublisher(busRoot);
  let batch: { line: string; key: string }[] = [];
  let last = 0;
  for (const r of merchantAnchorBurst({
    pins,
    merchantId: Number(HOT_MERCHANT),
    from: parseTimestamp(START)!,
    stepMicros: Math.floor((7 * 86_400_000_000 - 1_000_000) / HOT_EVENTS),
    count: HOT_EVENTS,
    flowIdBase: 7_000_000_000n,
    eventIdPrefix: 'hot-',
  })) {
    batch.push({ line: r.line, key: r.key });
    last = r.ts;
    if (batch.length === 20_000) {
      await publisher.publish(ANCHOR, batch, { partitions: 2 });
      batch = [];
    }
  }
  if (batch.length) await publisher.publish(ANCHOR, batch, { partitions: 2 });
  return { pins, last: formatTimestamp(last) };
}

async function project(url: string, busRoot: string): Promise<number> {
  const bus = new FileEventBus(busRoot);
  const pool = createPool(url, { max: 6 });
  const parser = new RecordParser({ envelopeSchema, payloadSchemas });
  const applier = new PartitionApplier({ pool, bus, policy, parser, series: new SeriesResolver(pool), log });
  const parts: [string, number][] = [];
  for (const s of streamsOf(policy.groups)) for (const p of await bus.listPartitions(s)) parts.push([s, p]);
  for (const [s, p] of parts)
    await pool.query(
      `INSERT INTO checkpoints (stream, partition, next_offset) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`,
      [s, p],
    );
  const started = Date.now();
  let applied = 0;
  await Promise.all(
    parts.map(async ([s, p]) => {
      for (;;) {
        const r = await applier.applyOnce(s, p, { maxRecords: 5000 });
        applied += r.counts.applied;
        if (r.counts.read === 0) return;
      }
    }),
  );
  const rate = applied / ((Date.now() - started) / 1000);
  // Settle before measuring: autovacuum would otherwise work through the freshly loaded tables during the first
  // scenarios (as it does for a while after any large backfill).
  await pool.query('VACUUM (ANALYZE)');
  await pool.end();
  await bus.close();
  return rate;
}

interface Scenario {
  name: string;
  rps: number;
  /** Prebuilt requests, sent in turn. */
  requests: Buffer[];
}

/** Sends a scenario's requests at its rate; returns sorted latencies (ms) and failures. */
function load(port: number, s: Scenario, seconds: number, rps = s.rps): Promise<LoadResult> {
  return openLoopLoad({
    port,
    requests: s.requests,
    rps,
    seconds,
    accept: (status, body) => status === 200 && body.includes('"FeatureSnapshot"'),
  });
}

function cpuPerRequest(a: ProcessCpu, b: ProcessCpu, n: number): string {
  return `gateway ${cpuPerItem(a, b, 'gateway', n)}, PostgreSQL ${cpuPerItem(a, b, 'postgres', n)}, load generator ${cpuPerItem(a, b, 'loadgen', n)}`;
}

interface GatewayConfiguration {
  /** Printed before its figures when several configurations are compared. */
  label: string;
  /** The compiled CLI to run. */
  main: string;
  env: Record<string, string>;
}

/**
 * The gateways to measure, on the same data: this checkout's build (`npm run bench:serve` builds it first), once per
 * value of BENCH_READ_CONCURRENCY (OFP_READ_CONCURRENCY of the gateway), preceded by BENCH_BASELINE_BUILD (the
 * `dist/src/cli/main.js` of another build) when given.
 */
function gatewayConfigurations(): GatewayConfiguration[] {
  const own = path.resolve(__dirname, '../dist/src/cli/main.js');
  const values = (process.env.BENCH_READ_CONCURRENCY ?? '').split(',').filter(Boolean);
  const envSets = (process.env.BENCH_GATEWAY_ENVS ?? '').split(';').filter((v) => v.trim() !== '');
  const configs: GatewayConfiguration[] = [
    ...values.map((v) => ({
      label: `this build, OFP_READ_CONCURRENCY=${v}`,
      main: own,
      env: { OFP_READ_CONCURRENCY: v },
    })),
    ...envSets.map((set) => ({
      label: `this build, ${set.trim()}`,
      main: own,
      env: Object.fromEntries(
        set
          .trim()
          .split(/\s+/)
          .map((kv) => kv.split('=', 2)),
      ),
    })),
  ];
  if (configs.length === 0) configs.push({ label: '', main: own, env: {} });
  const baseline = process.env.BENCH_BASELINE_BUILD;
  if (baseline) {
    configs.unshift({ label: `baseline ${baseline}`, main: path.resolve(baseline), env: {} });
    if (configs[1].label === '') configs[1].label = 'this build';
  }
  return configs;
}

/** Starts one gateway over the projected data and runs every scenario against it. */
async function benchGateway(
  g: GatewayConfiguration,
  url: string,
  busRoot: string,
  gen: Awaited<ReturnType<typeof generate>>,
  hot: Awaited<ReturnType<typeof writeHotMerchant>>,
  postgresPid: number | undefined,
): Promise<{ request: Buffer; answer: string }> {
  const port = await findFreePort();
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  if (g.label) report('gateway', g.label);
  const gw = spawn(process.execPath, [...nodeArgs, g.main, 'serve'], {
    env: {
      ...process.env,
      ...g.env,
      DATABASE_URL: url,
      OFP_BUS_ROOT: busRoot,
      OFP_HTTP_PORT: String(port),
      OFP_TOKENS: `reader:${TOKEN}`,
      OFP_LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      // As deployed (the Dockerfile's heap cap).
      NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS ?? '--max-old-space-size=256',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (i > 200) throw new Error('gateway did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const pins = gen.runs[0];
    const asOf = gen.eventTime!.to;
    const keysOf = async (g: string, n: number) => {
      const pool = createPool(url, { max: 1 });
      const { rows } = await pool.query(
        `SELECT key_id FROM series WHERE group_name = $1 AND field = 'amount' ORDER BY id LIMIT $2`,
        [g, n],
      );
      await pool.end();
      return rows.map((r) => r.key_id as string);
    };
    const merchants = await keysOf('merchant_velocity', 200);
    const groups5 = [
      'merchant_velocity',
      'device_velocity',
      'account_velocity',
      'instrument_velocity',
      'flow_activity',
    ];
    const keyTypes: Record<string, string> = {
      merchant_velocity: 'merchant_id',
      device_velocity: 'device_id',
      account_velocity: 'account_id',
      instrument_velocity: 'instrument_id',
      flow_activity: 'flow_id',
    };
    const keys10: { keyType: string; keyId: string }[] = [];
    for (const g of groups5)
      for (const k of await keysOf(g, 2)) keys10.push({ keyType: keyTypes[g], keyId: k });
    const request = (variables: object) =>
      postRequest(
        '/graphql',
        { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        JSON.stringify({ query: EXAMPLE_QUERY, variables }),
      );
    const scenarios: Scenario[] = [
      {
        name: `1 key x 1 group @ ${RPS} req/s`,
        rps: RPS,
        requests: merchants.map((keyId) =>
          request({
            pins,
            asOf,
            keys: [{ keyType: 'merchant_id', keyId }],
            groups: [{ name: 'merchant_velocity', version: 'v1' }],
          }),
        ),
      },
      {
        name: '10 keys x 5 groups @ 200 req/s',
        rps: 200,
        requests: [
          request({ pins, asOf, keys: keys10, groups: groups5.map((name) => ({ name, version: 'v1' })) }),
        ],
      },
      {
        name: `hot merchant (${HOT_EVENTS} events in 7d) @ ${HOT_RPS} req/s`,
        rps: HOT_RPS,
        requests: [
          request({
            pins: hot.pins,
            asOf: hot.last,
            keys: [{ keyType: 'merchant_id', keyId: HOT_MERCHANT }],
            groups: [{ name: 'merchant_velocity', version: 'v1' }],
          }),
        ],
      },
    ];
    let maxRss = 0;
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssOf(gw.pid!))), 200);
    // Steady state: each measured run follows its own warm-up (warmUp); the CPU each process spent is reported per
    // request.
    const measure = async (name: string, s: Scenario, rps: number): Promise<void> => {
      await warmUp(port, s, rps);
      const before = processCpu({ gateway: gw.pid, loadgen: process.pid }, postgresPid);
      const batchesBefore = await readBatches(port);
      const machineBefore = machineCpu();
      const r = await load(port, s, SECONDS, rps);
      const machine = describeSteal(machineBefore, machineCpu());
      const batches = await readBatches(port);
      const perStatement =
        (batches.requests - batchesBefore.requests) / (batches.statements - batchesBefore.statements);
      if (gw.exitCode !== null) throw new Error(`the gateway exited with ${gw.exitCode}`);
      const cpu = cpuPerRequest(
        before,
        processCpu({ gateway: gw.pid, loadgen: process.pid }, postgresPid),
        r.sent,
      );
      report(
        name,
        // Failed requests are left out of the latencies, so a run with any is flagged rather than summarised.
        r.failed > 0
          ? `${r.failed} of ${r.sent} requests FAILED (latencies of the rest are not a fair summary); CPU per request ${cpu}; ${machine}`
          : `${latencies(r)}; ${perStatement.toFixed(2)} requests per read statement; CPU per request ${cpu}; ${machine}`,
      );
    };
    for (const rps of RPS_LIST.slice(0, -1))
      await measure(`1 key x 1 group @ ${rps} req/s`, scenarios[0], rps);
    for (const s of scenarios) await measure(s.name, s, s.rps);
    clearInterval(sampler);
    report('gateway resident memory (max under load)', `${mb(maxRss)} MB`);
    const sample = scenarios[0].requests[0];
    return { request: sample, answer: await answerOf(port, sample) };
  } finally {
    const exited = new Promise((r) => gw.once('exit', r));
    gw.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
}

/**
 * Before each measured run: a warm-up of the scenario's own requests (connections, caches, plans), then a pause that
 * lets its backlog drain.
 */
async function warmUp(port: number, s: Scenario, rps: number): Promise<void> {
  await load(port, s, WARMUP_SECONDS, Math.min(rps, 400));
  await new Promise((r) => setTimeout(r, 1000));
}

/** A run's latencies and counts, as every bench line prints them. */
function latencies(r: LoadResult): string {
  return `p50 ${percentile(r.lat, 50).toFixed(2)} ms, p99 ${percentile(r.lat, 99).toFixed(2)} ms, max ${r.lat[r.lat.length - 1].toFixed(1)} ms, ${r.sent} sent, ${r.failed} failed`;
}

/** Read statements the gateway ran so far, and the requests they read (its `ofp_read_batch_requests` histogram). */
async function readBatches(port: number): Promise<{ statements: number; requests: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    statements: value('ofp_read_batch_requests_count'),
    requests: value('ofp_read_batch_requests_sum'),
  };
}

/** The gateway's answer body to one prebuilt request, sent once on its own connection. */
function answerOf(port: number, req: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(req));
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const r = takeResponse(buf);
      if (!r) return;
      socket.destroy();
      if (r.status === 200) resolve(r.body.toString('utf8'));
      else reject(new Error(`the gateway answered ${r.status}: ${r.body.toString('utf8')}`));
    });
    socket.on('error', reject);
  });
}

/**
 * The floor (bench/bare-http-server.ts): a Node HTTP server that only parses each request and answers the gateway's
 * own answer, measured like the gateway at the 1 key x 1 group rates. The gateway's tail can come no closer to zero
 * than this on the same machine.
 */
async function benchBareServer(answer: string, request: Buffer, burnUs: number): Promise<void> {
  const server = fork(path.resolve(__dirname, 'bare-http-server.ts'), {
    execArgv: [
      '--require',
      require.resolve('tsx/cjs'),
      ...(process.env.BENCH_GATEWAY_NODE_OPTIONS ?? '--max-old-space-size=256').split(' '),
    ],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.once('message', (m) => resolve(Number(m)));
      server.once('error', reject);
      server.send({ answer, burnUs });
    });
    const s: Scenario = { name: 'bare', rps: RPS, requests: [request] };
    const label = burnUs > 0 ? `bare HTTP server + ${burnUs} µs CPU per request` : 'bare HTTP server (floor)';
    for (const rps of RPS_LIST) {
      await warmUp(port, s, rps);
      const before = processCpu({ server: server.pid, loadgen: process.pid }, undefined);
      const machineBefore = machineCpu();
      const r = await load(port, s, SECONDS, rps);
      const machine = describeSteal(machineBefore, machineCpu());
      const after = processCpu({ server: server.pid, loadgen: process.pid }, undefined);
      report(
        `${label} @ ${rps} req/s`,
        `${latencies(r)}; CPU per request server ${cpuPerItem(before, after, 'server', r.sent)}, load generator ${cpuPerItem(before, after, 'loadgen', r.sent)}; ${machine}`,
      );
    }
  } finally {
    server.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  report('cores', String(os.availableParallelism()));
  const dir = benchDir('ofp-bench-serve-');
  const services = await startBenchServices(dir, false);
  const busRoot = path.join(dir, 'bus');
  try {
    const gen = await generate(
      { seed: 5, count: 100_000, rate: 200, partitions: 2, runs: 1, progress: false },
      busRoot,
    );
    const hot = await writeHotMerchant(busRoot, 0);
    const url = await freshBenchDatabase(services.adminUrl, 'bench_serve');
    const rate = await project(url, busRoot);
    report(
      'dataset',
      `${gen.events} generated + ${HOT_EVENTS} hot-merchant events, projected at ${Math.round(rate)} events/s`,
    );

    let last: { request: Buffer; answer: string } | undefined;
    for (const g of gatewayConfigurations())
      last = await benchGateway(g, url, busRoot, gen, hot, services.postgresPid);
    if (last && process.env.BENCH_FLOOR !== '0')
      for (const burnUs of (process.env.BENCH_FLOOR_BURN_US ?? '0').split(',').map(Number))
        await benchBareServer(last.answer, last.request, burnUs);
  } finally {
    await services.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
