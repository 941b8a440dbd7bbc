/**
 * File bus throughput: generates traffic into a temporary bus, then reads every partition back through
 * FileEventBus in batches of 5,000 (as a projector would).
 *
 *   npx tsx bench/bus.bench.ts [events=500000] [partitions=4]
 *
 * Prints one line per phase and a JSON summary line at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileEventBus } from '../src/bus/file-bus';
import { generate } from '../src/generator/generate';

const BATCH = 5000;

async function main(): Promise<void> {
  const events = Number(process.argv[2] ?? 500_000);
  const partitions = Number(process.argv[3] ?? 4);
  const cores = os.availableParallelism();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-bus-bench-'));
  try {
    let started = process.hrtime.bigint();
    let cpu = process.cpuUsage();
    const summary = await generate(
      { count: events, partitions, runs: 3, seed: 1, outOfOrderFraction: 0.01, duplicateFraction: 0.005 },
      root,
    );
    const generateSeconds = seconds(started);
    const generateCpu = cpuSeconds(cpu);
    const generateRate = Math.round(events / generateSeconds);
    console.log(`generate: ${events} events in ${generateSeconds.toFixed(2)} s = ${generateRate} events/s`);
    // CPU time (all threads of the process) tells how fast it would run with a core to itself on a busy machine.
    console.log(
      `generate cpu: ${generateCpu.toFixed(2)} s = ${Math.round(events / generateCpu)} events per CPU-second`,
    );

    const bus = new FileEventBus(root);
    let records = 0;
    let bytes = 0;
    started = process.hrtime.bigint();
    cpu = process.cpuUsage();
    for (const stream of await bus.listStreams()) {
      for (const partition of await bus.listPartitions(stream)) {
        let offset = 0;
        for (;;) {
          const r = await bus.read(stream, partition, offset, BATCH);
          if (r.records.length === 0) break;
          records += r.records.length;
          for (const rec of r.records) bytes += rec.raw.length;
          offset = r.nextOffset;
        }
      }
    }
    const readSeconds = seconds(started);
    const readCpu = cpuSeconds(cpu);
    const readRate = Math.round(records / readSeconds);
    await bus.close();
    console.log(`reader: ${records} records in ${readSeconds.toFixed(2)} s = ${readRate} records/s`);
    console.log(
      `reader cpu: ${readCpu.toFixed(2)} s = ${Math.round(records / readCpu)} records per CPU-second`,
    );
    console.log(`cores: ${cores} (os.availableParallelism()), load average ${os.loadavg()[0].toFixed(2)}`);
    if (records !== summary.events)
      throw new Error(`read ${records} records but generated ${summary.events}`);
    console.log(
      JSON.stringify({
        bench: 'bus',
        events,
        partitions,
        cores,
        loadAverage1m: Number(os.loadavg()[0].toFixed(2)),
        avgLineChars: Math.round(bytes / records),
        generateSeconds: Number(generateSeconds.toFixed(3)),
        generateEventsPerSecond: generateRate,
        generateCpuSeconds: Number(generateCpu.toFixed(3)),
        readSeconds: Number(readSeconds.toFixed(3)),
        readRecordsPerSecond: readRate,
        readCpuSeconds: Number(readCpu.toFixed(3)),
        readBatch: BATCH,
      }),
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
