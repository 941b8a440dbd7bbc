/**
 * Replay throughput: generates N events (default 1,000,000) into a bus directory once (kept for later runs), then
 * replays the whole bus offline (replayBus, the code `ofp replay` and `ofp parity` use) sequentially and with worker
 * threads, and prints records/s of wall time and of CPU time, and whether both replays agree.
 *
 *   npx tsx bench/replay.bench.ts [--events 1000000] [--bus /tmp/ofp-replay-bench-1000000] [--workers 2] [--sequential]
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
import { fullBasis, replayBus, replayStateDigest } from '../src/replay/replay';

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
  console.log(`generated ${summary.events} records into ${busRoot} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function main(): Promise<void> {
  const events = Number(arg('events', '1000000'));
  const busRoot = arg('bus', path.join(os.tmpdir(), `ofp-replay-bench-${events}`));
  const workers = Number(arg('workers', String(defaultReplayWorkers())));
  await ensureBus(busRoot, events);
  const policy = loadPolicyFile(path.resolve(__dirname, '../config/features.yaml'));
  const parser = new RecordParser({ envelopeSchema, payloadSchemas });
  const modes = process.argv.includes('--sequential') ? [0, workers] : [workers];
  const digests: string[] = [];
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
  if (digests.length > 1) console.log(digests.every((d) => d === digests[0]) ? 'sequential and parallel replays agree' : 'MISMATCH between replays');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
