/**
 * Replay throughput: generates N events (default 1,000,000) into a bus directory once (kept for later runs), then
 * replays the whole bus offline (replayBus, the code `ofp replay` and `ofp parity` use) sequentially and with worker
 * threads, and prints records/s of wall time and of CPU time, and whether both replays agree.
 *
 *   npx tsx bench/replay.bench.ts [--events 1000000] [--bus /tmp/ofp-replay-bench-1000000] [--workers 2] [--sequential]
 *
 * With --sequential it first replays on one thread, measuring the CPU time of the stateless stage (read + parse +
 * validate + hash: what worker threads take over) apart from the stateful stage (classify + absorb: the main
 * thread's share), then with workers, and checks that both replays agree. On a shared machine wall time depends on
 * the load; CPU time does not (much), so both are printed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileEventBus } from '../src/bus/file-bus';
import { envelopeSchema, payloadSchemas } from '../src/contracts';
import { RecordParser } from '../src/core/envelope';
import { loadPolicyFile } from '../src/core/policy-file';
import { generate } from '../src/generator/generate';
import { defaultReplayWorkers } from '../src/replay/parallel';
import { prepareRecord } from '../src/core/projection';
import { Replayer, checkBasisOnBus, fullBasis, replayBus, replayStateDigest } from '../src/replay/replay';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function ensureBus(busRoot: string, events: number): Promise<void> {
  const marker = path.join(busRoot, '.complete');
  if (fs.existsSync(marker)) return;
  fs.rmSync(busRoot, { recursive: true, force: true });
  const started = Date.now();
  const summary = await generate(
    {
      seed: 42,
      count: events,
      rate: 200,
      partitions: 4,
      runs: 2,
      outOfOrderFraction: 0.05,
      duplicateFraction: 0.02,
      anomalyFraction: 0.005,
      unparseableFraction: 0.002,
      pinsInvalidFraction: 0.002,
      envelopeInvalidFraction: 0.002,
      payloadInvalidFraction: 0.002,
      tooLateFraction: 0.002,
      irrelevantFraction: 0.01,
      progress: false,
    },
    busRoot,
  );
  fs.writeFileSync(marker, JSON.stringify(summary.classes));
  console.log(
    `generated ${summary.events} records into ${busRoot} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** One-thread replay with the CPU time of each stage measured apart. */
async function sequentialSplit(
  busRoot: string,
  policy: ReturnType<typeof loadPolicyFile>,
  parser: RecordParser,
): Promise<string> {
  const bus = new FileEventBus(busRoot);
  const basis = await fullBasis(bus, policy);
  const parts = await checkBasisOnBus(bus, basis);
  const replayer = new Replayer(policy, basis);
  let stateless = 0;
  let stateful = 0;
  let records = 0;
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const started = process.hrtime.bigint();
  const c0 = cpu();
  for (const { stream, partition, until } of parts) {
    for (let at = 0; at < until;) {
      const a = cpu();
      const read = await bus.read(stream, partition, at, Math.min(Number(arg('batch', '5000')), until - at));
      const prepared = read.records.map((r) => prepareRecord(r, policy, parser));
      const b = cpu();
      replayer.absorbPrepared(prepared);
      const c = cpu();
      stateless += b - a;
      stateful += c - b;
      records += read.records.length;
      at = read.nextOffset;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const total = cpu() - c0;
  const cores = os.cpus().length;
  console.log(
    `replay (sequential): ${records} records in ${seconds.toFixed(2)} s = ${Math.round(records / seconds)} records/s; ` +
      `${total.toFixed(1)} CPU-s = ${Math.round(records / total)} records/CPU-s; stateless stage (read, parse, validate, hash) ` +
      `${stateless.toFixed(1)} CPU-s, stateful stage (classify, absorb) ${stateful.toFixed(1)} CPU-s, GC and rest ${(total - stateless - stateful).toFixed(1)} CPU-s ` +
      `-> with the stateless stage on ${cores} worker threads of an idle ${cores}-core machine: about ` +
      `${Math.max(stateful, total / cores).toFixed(1)} s (load now ${os.loadavg()[0].toFixed(1)})`,
  );
  await bus.close();
  return replayStateDigest(replayer.state);
}

async function main(): Promise<void> {
  const events = Number(arg('events', '1000000'));
  const busRoot = arg('bus', path.join(os.tmpdir(), `ofp-replay-bench-${events}`));
  const workers = Number(arg('workers', String(defaultReplayWorkers())));
  await ensureBus(busRoot, events);
  const policy = loadPolicyFile(path.resolve(__dirname, '../config/features.yaml'));
  const parser = new RecordParser({ envelopeSchema, payloadSchemas });
  const modes = [workers];
  const digests: string[] = [];
  if (process.argv.includes('--sequential')) digests.push(await sequentialSplit(busRoot, policy, parser));
  for (const w of modes) {
    const bus = new FileEventBus(busRoot);
    const basis = await fullBasis(bus, policy);
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    const state = await replayBus(bus, policy, parser, basis, { workers: w });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu); // main thread and worker threads of this process
    const cpuSeconds = (used.user + used.system) / 1e6;
    const records = Object.values(state.counts).reduce((a, b) => a + b, 0);
    digests.push(replayStateDigest(state));
    console.log(
      `replay (${w === 0 ? 'sequential' : `${w} workers`}): ${records} records in ${seconds.toFixed(2)} s = ` +
        `${Math.round(records / seconds)} records/s; ${cpuSeconds.toFixed(1)} CPU-s = ${Math.round(records / cpuSeconds)} records/CPU-s ` +
        `(${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}, node ${process.version}, heap ${Math.round(process.memoryUsage().heapUsed / 1e6)} MB)`,
    );
    console.log(`  classes ${JSON.stringify(state.counts)}`);
    await bus.close();
  }
  if (digests.length > 1)
    console.log(
      digests.every((d) => d === digests[0])
        ? 'sequential and parallel replays agree'
        : 'MISMATCH between replays',
    );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
