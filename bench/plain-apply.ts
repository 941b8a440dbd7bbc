/**
 * The projector's apply code driven by plain loops (one per partition), no Temporal: the baseline the projector bench
 * measures Temporal's overhead against. It runs as its own process under the same Node options as `ofp worker`, so
 * the two differ only by Temporal. Usage: `plain-apply.ts <database url> <bus root> <batch size>`; prints
 * `{"seconds": …, "cpuSeconds": …, "bytesWritten": …}` (wall time, this process's CPU and the bytes it sent while
 * applying) when every partition is applied to its end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileEventBus } from '../src/bus/file-bus';
import { envelopeSchema, payloadSchemas } from '../src/contracts';
import { RecordParser } from '../src/core/envelope';
import { loadPolicyFile } from '../src/core/policy-file';
import { streamsOf } from '../src/core/policy';
import { createPool } from '../src/db/pool';
import { SeriesResolver } from '../src/db/projection-store';
import { PartitionApplier } from '../src/projector/partition-applier';
import { log } from './support';

async function main(url: string, busRoot: string, batch: number): Promise<void> {
  const policy = loadPolicyFile(path.resolve(__dirname, '../config/features.yaml'));
  const parser = new RecordParser({ envelopeSchema, payloadSchemas });
  const bus = new FileEventBus(busRoot);
  const pool = createPool(url, { max: 8 });
  const parts: [string, number][] = [];
  for (const stream of streamsOf(policy.groups))
    for (const partition of await bus.listPartitions(stream)) parts.push([stream, partition]);
  const series = new SeriesResolver(pool);
  const applier = new PartitionApplier({ pool, bus, policy, parser, series, log });
  const started = Date.now();
  const cpuAtStart = process.cpuUsage();
  const writtenAtStart = bytesWritten();
  await Promise.all(
    parts.map(async ([stream, partition]) => {
      for (;;) {
        const r = await applier.applyOnce(stream, partition, { maxRecords: batch });
        if (r.counts.read === 0) return;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuAtStart);
  const result = {
    seconds: (Date.now() - started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    bytesWritten: bytesWritten() - writtenAtStart,
    series: series.stats,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await pool.end();
  await bus.close();
}

/** Bytes this process has written through system calls (Linux `wchar`): here, the statements sent to PostgreSQL. */
function bytesWritten(): number {
  try {
    const m = /^wchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

const [url, busRoot, batch] = process.argv.slice(2);
main(url, busRoot, Number(batch)).catch((err) => {
  process.stderr.write(`plain apply failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
