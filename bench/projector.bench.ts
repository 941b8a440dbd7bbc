/**
 * Projector throughput, Temporal overhead, freshness and memory (issue "Projector" numbers).
 *   BENCH_EVENTS   backlog size (default 1,000,000)
 *   BENCH_PARTITIONS partitions per stream (default 2)
 *   BENCH_PG_STATEMENTS=1 also prints PostgreSQL's time per statement (pg_stat_statements)
 *   BENCH_PG_SETTINGS  settings for the embedded PostgreSQL, e.g. "max_wal_size=8GB checkpoint_timeout=30min"
 * Prints each figure; run with `npm run bench:projector`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { FileEventBus } from '../src/bus/file-bus';
import { FilePublisher } from '../src/bus/file-publisher';
import { loadPolicyFile } from '../src/core/policy-file';
import { streamsOf } from '../src/core/policy';
import { createPool, type Pool } from '../src/db/pool';
import type { SeriesResolver } from '../src/db/projection-store';
import { generate, generateToLines } from '../src/generator/generate';
import { describeSteal, machineCpu } from './machine-cpu';
import {
  benchDir,
  cpuPerItem,
  describeWal,
  dropBenchDatabase,
  freshBenchDatabase,
  mb,
  percentile,
  processCpu,
  report,
  rssOf,
  startBenchServices,
  statementBreakdown,
  walCounters,
  type ProcessCpu,
} from './support';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 2);
/** Batches per activity to compare, e.g. `1,8` (1 = one activity per batch). Default `1,16` (16: the worker's default). */
const BATCHES_PER_ACTIVITY = (process.env.BENCH_BATCHES_PER_ACTIVITY ?? '1,16').split(',').map(Number);
const BATCH = Number(process.env.BENCH_BATCH ?? 2000);
const policy = loadPolicyFile(path.resolve(__dirname, '../config/features.yaml'));

async function ensureCheckpoints(
  url: string,
  bus: FileEventBus,
): Promise<{ stream: string; partition: number }[]> {
  const pool = createPool(url, { max: 1 });
  const parts: { stream: string; partition: number }[] = [];
  for (const stream of streamsOf(policy.groups)) {
    for (const partition of await bus.listPartitions(stream)) {
      parts.push({ stream, partition });
      await pool.query(
        `INSERT INTO checkpoints (stream, partition, next_offset) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`,
        [stream, partition],
      );
    }
  }
  await pool.end();
  return parts;
}

/** Records on the bus not yet applied, over every partition of every stream (one without a checkpoint yet: all). */
async function caughtUp(pool: Pool, bus: FileEventBus): Promise<{ behind: number; applied: number }> {
  const { rows } = await pool.query(`SELECT stream, partition, next_offset FROM checkpoints`);
  const at = new Map(rows.map((r) => [`${r.stream}/${r.partition}`, r.next_offset as number]));
  let behind = 0;
  let applied = 0;
  for (const stream of streamsOf(policy.groups)) {
    for (const partition of await bus.listPartitions(stream)) {
      const next = at.get(`${stream}/${partition}`) ?? 0;
      behind += Math.max(0, (await bus.endOffset(stream, partition)) - next);
      applied += next;
    }
  }
  return { behind, applied };
}

/** Node options of both drivers, as deployed (Dockerfile, docker-compose.yml). */
const NODE_OPTIONS = process.env.BENCH_WORKER_NODE_OPTIONS ?? '--max-old-space-size=256';

/**
 * The same apply code, driven by plain loops instead of Temporal (bench/plain-apply.ts), in its own process with the
 * worker's Node options, so that the two runs differ by Temporal alone.
 */
async function applyWithoutTemporal(url: string, busRoot: string): Promise<PlainResult> {
  const bus = new FileEventBus(busRoot);
  await ensureCheckpoints(url, bus);
  await bus.close();
  const child = spawn(
    process.execPath,
    [
      '--require',
      require.resolve('tsx/cjs'),
      path.resolve(__dirname, 'plain-apply.ts'),
      url,
      busRoot,
      String(BATCH),
    ],
    {
      env: { ...process.env, OFP_LOG_LEVEL: 'warn', NODE_OPTIONS },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new Error(`plain apply exited with ${code}`);
  const probe = new FileEventBus(busRoot);
  const pool = createPool(url, { max: 1 });
  const left = await caughtUp(pool, probe);
  await Promise.all([pool.end(), probe.close()]);
  if (left.behind !== 0) throw new Error(`plain apply stopped ${left.behind} records short of the bus end`);
  // The result is the line with `seconds` (a log line may come before or after it).
  const result = out
    .split('\n')
    .map((l) => (/^\{"seconds":/.test(l) ? (JSON.parse(l) as PlainResult) : undefined))
    .find((r) => r !== undefined);
  if (!result) throw new Error(`plain apply printed no result: ${out.slice(0, 500)}`);
  return result;
}

/** What bench/plain-apply.ts prints. */
interface PlainResult {
  seconds: number;
  cpuSeconds: number;
  bytesWritten: number;
  series: SeriesResolver['stats'];
}

/** The projector as it runs in production: `ofp worker` in its own process (so its memory is its own). */
function spawnWorker(
  url: string,
  busRoot: string,
  temporalAddress: string,
  taskQueue: string,
  batchesPerActivity: number,
): ChildProcess {
  return spawn(process.execPath, [path.resolve(__dirname, '../bin/ofp'), 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      TEMPORAL_ADDRESS: temporalAddress,
      OFP_BUS_ROOT: busRoot,
      OFP_TASK_QUEUE: taskQueue,
      OFP_ID_PREFIX: taskQueue,
      OFP_BATCH_SIZE: String(BATCH),
      OFP_BATCHES_PER_ACTIVITY: String(batchesPerActivity),
      OFP_LOG_LEVEL: 'warn',
      // A heap cap makes V8 collect before it grows the heap.
      NODE_OPTIONS,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function main(): Promise<void> {
  const dir = benchDir('ofp-bench-proj-');
  report('cores', String(os.availableParallelism()));
  const services = await startBenchServices(dir, true);
  try {
    const busRoot = path.join(dir, 'bus');
    const gen = await generate(
      {
        seed: 5,
        count: EVENTS,
        rate: 200,
        partitions: PARTITIONS,
        runs: 2,
        duplicateFraction: 0.01,
        outOfOrderFraction: 0.02,
        progress: false,
      },
      busRoot,
    );
    report(
      'backlog generated',
      `${gen.events} records, ${PARTITIONS} partitions per stream (${(gen.elapsedMs / 1000).toFixed(1)} s)`,
    );

    // Each run gets a fresh database and the previous run's is dropped first, so that no run shares PostgreSQL's
    // and the kernel's caches with the gigabytes an earlier run wrote.
    const plainUrl = await freshBenchDatabase(services.adminUrl, 'bench_plain');
    // Cluster-wide counters, read over one connection of their own.
    const statsPool = createPool(services.adminUrl, { max: 1 });
    const plainWal = await walCounters(statsPool);
    await statementBreakdown.reset(statsPool);
    const plainCpu = machineCpu();
    const pgBefore = processCpu({}, services.postgresPid);
    const plain = await applyWithoutTemporal(plainUrl, busRoot);
    const plainSeconds = plain.seconds;
    const plainRate = gen.events / plainSeconds;
    report(
      'apply without Temporal',
      `${plainSeconds.toFixed(1)} s = ${Math.round(plainRate)} events/s (${describeSteal(plainCpu, machineCpu())})`,
    );
    report(
      '  CPU per event',
      `apply process ${Math.round((plain.cpuSeconds / gen.events) * 1e6)} µs, PostgreSQL ${cpuPerItem(pgBefore, processCpu({}, services.postgresPid), 'postgres', gen.events)}`,
    );
    report('  bytes sent to PostgreSQL per event', `${Math.round(plain.bytesWritten / gen.events)}`);
    report('  WAL', describeWal(plainWal, await walCounters(statsPool), gen.events, 'event'));
    await statementBreakdown.print(statsPool, gen.events, 'event');
    const ids = plain.series;
    report(
      '  series ids',
      `${ids.cached} from the cache, ${ids.lookedUp} looked up (${ids.found} found), ${ids.inserted} inserted, ${ids.conflicts} inserts met an existing series (${ids.upserted} keys upserted instead)`,
    );

    let worker: ChildProcess | undefined;
    let maxRss = 0;
    const sampler = setInterval(() => worker?.pid && (maxRss = Math.max(maxRss, rssOf(worker.pid))), 200);
    let temporalUrl = '';
    let previous = 'bench_plain';
    for (const n of BATCHES_PER_ACTIVITY) {
      if (worker) await stopChild(worker);
      await dropBenchDatabase(services.adminUrl, previous);
      previous = `bench_temporal_${n}`;
      temporalUrl = await freshBenchDatabase(services.adminUrl, previous);
      const walAtStart = await walCounters(statsPool);
      await statementBreakdown.reset(statsPool);
      const started = Date.now();
      const cpuAtStart = machineCpu();
      worker = spawnWorker(temporalUrl, busRoot, services.temporalAddress!, `bench-${n}-${Date.now()}`, n);
      const probe = new FileEventBus(busRoot);
      // One connection for the polls, as the plain run has none: no login per poll on the shared cores.
      const probePool = createPool(temporalUrl, { max: 1 });
      let firstProgress: number | undefined;
      let cpuAtFirst: ProcessCpu | undefined;
      let appliedAtFirst = 0;
      const cpuOf = () =>
        processCpu({ worker: worker!.pid, temporal: services.temporalPid }, services.postgresPid);
      for (;;) {
        const { behind, applied } = await caughtUp(probePool, probe);
        if (firstProgress === undefined && applied > 0) {
          firstProgress = Date.now();
          cpuAtFirst = cpuOf();
          appliedAtFirst = applied;
        }
        if (behind === 0) break;
        if (worker.exitCode !== null) throw new Error(`ofp worker exited with ${worker.exitCode}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const cpu = describeSteal(cpuAtStart, machineCpu());
      const cpuAtEnd = cpuOf();
      await Promise.all([probePool.end(), probe.close()]);
      const seconds = (Date.now() - started) / 1000;
      const rate = gen.events / seconds;
      report(
        `through Temporal (ofp worker), ${n} batch(es) of ${BATCH}/activity`,
        `${seconds.toFixed(1)} s = ${Math.round(rate)} events/s (incl. worker start, first batch applied after ${((firstProgress! - started) / 1000).toFixed(1)} s; ${cpu})`,
      );
      report(
        `  Temporal overhead (1 - temporal/plain rate)`,
        `${(((plainRate - rate) / plainRate) * 100).toFixed(1)} %`,
      );
      // From the first applied batch on, so that the worker's start is left out.
      const events = gen.events - appliedAtFirst;
      const per = (name: string) => cpuPerItem(cpuAtFirst!, cpuAtEnd, name, events);
      report(
        '  CPU per event after the first batch',
        `ofp worker ${per('worker')}, PostgreSQL ${per('postgres')}, Temporal server ${per('temporal')}`,
      );
      report('  WAL', describeWal(walAtStart, await walCounters(statsPool), gen.events, 'event'));
      await statementBreakdown.print(statsPool, gen.events, 'event');
    }
    await statsPool.end();
    if (!worker) throw new Error('BENCH_BATCHES_PER_ACTIVITY is empty');
    // Freshness: a producer appends at 2,000 events/s; latency from append to applied per batch of appends.
    const fresh = generateToLines({
      seed: 9,
      count: 20_000,
      rate: 2000,
      partitions: PARTITIONS,
      runs: 1,
      progress: false,
    });
    const publisher = new FilePublisher(busRoot);
    const probe = new FileEventBus(busRoot);
    const pool = createPool(temporalUrl, { max: 2 });
    const pending: { stream: string; partition: number; offset: number; at: number }[] = [];
    const latencies: number[] = [];
    const emissions = fresh.emissions;
    const tickMs = 10;
    const perTick = Math.round((2000 * tickMs) / 1000);
    let i = 0;
    const producerStart = Date.now();
    const freshCpu = machineCpu();
    const polling = (async () => {
      while (i < emissions.length || pending.length > 0) {
        const { rows } = await pool.query(`SELECT stream, partition, next_offset FROM checkpoints`);
        const now = Date.now();
        const at = new Map(rows.map((r) => [`${r.stream}/${r.partition}`, r.next_offset as number]));
        for (let k = pending.length - 1; k >= 0; k--) {
          const p = pending[k];
          if ((at.get(`${p.stream}/${p.partition}`) ?? 0) > p.offset) {
            latencies.push(now - p.at);
            pending.splice(k, 1);
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    while (i < emissions.length) {
      const due = Math.min(
        emissions.length,
        Math.round(((Date.now() - producerStart) / 1000) * 2000) + perTick,
      );
      const batch = emissions.slice(i, due);
      i = due;
      const byStream = new Map<string, { line: string; key: string }[]>();
      for (const e of batch) {
        const list = byStream.get(e.stream) ?? [];
        list.push({ line: e.line, key: e.key });
        byStream.set(e.stream, list);
      }
      for (const [stream, records] of byStream) {
        const written = await publisher.publish(stream, records, { partitions: PARTITIONS });
        const at = Date.now();
        for (const partition of written.keys()) {
          pending.push({ stream, partition, offset: (await probe.endOffset(stream, partition)) - 1, at });
        }
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    await polling;
    report('freshness run', describeSteal(freshCpu, machineCpu()));
    latencies.sort((a, b) => a - b);
    report('freshness at 2,000 events/s: append→applied p50', `${percentile(latencies, 50)} ms`);
    report('freshness at 2,000 events/s: append→applied p99', `${percentile(latencies, 99)} ms`);
    await pool.end();
    await probe.close();
    await stopChild(worker);
    clearInterval(sampler);
    report('ofp worker resident memory (max, sampled every 200 ms)', `${mb(maxRss)} MB`);
  } finally {
    await services.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
