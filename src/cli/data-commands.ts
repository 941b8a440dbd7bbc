/** `ofp generate` and `ofp publish`: put events on the file bus. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { publishJsonLines } from '../bus/file-publisher';
import { generate, type GenerateOptions } from '../generator/generate';

function num(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`);
    return n;
  };
}

export function registerDataCommands(program: Command): void {
  program
    .command('generate')
    .description('write deterministic, realistic 6B traffic to the file bus (OFP_BUS_ROOT)')
    .option('--seed <seed>', 'uint64 seed; same options give byte-identical output', '1')
    .option('--count <n>', 'records to write (both streams, injected kinds included)', num('count'))
    .option('--rate <n>', 'records per second of event time', num('rate'))
    .option('--duration <d>', 'event-time span, e.g. 30m, 2h, 7d')
    .option('--start <ts>', 'event time of the first flow, YYYY-MM-DDTHH:MM:SS.ffffffZ')
    .option('--runs <n>', 'number of runs (distinct pins)', num('runs'))
    .option('--partitions <n>', 'partitions per stream', num('partitions'))
    .option('--out-of-order <f>', 'fraction of events published late (ts earlier)', num('out-of-order'))
    .option('--duplicates <f>', 'fraction of exact re-sends', num('duplicates'))
    .option('--anomalies <f>', 'fraction of re-sends with a different payload', num('anomalies'))
    .option('--unparseable <f>', 'fraction of unparseable records', num('unparseable'))
    .option('--pins-invalid <f>', 'fraction of records with a bad pin', num('pins-invalid'))
    .option('--envelope-invalid <f>', 'fraction of records with a bad envelope', num('envelope-invalid'))
    .option('--payload-invalid <f>', 'fraction of records with a bad payload', num('payload-invalid'))
    .option('--too-late <f>', 'fraction of records older than the lateness horizon', num('too-late'))
    .option(
      '--irrelevant <f>',
      'fraction of decision_response records on the traffic stream',
      num('irrelevant'),
    )
    .option('--bus <dir>', 'bus root (default OFP_BUS_ROOT or .data/bus)')
    .option('--no-progress', 'do not draw a progress bar')
    .action(async (o) => {
      const options: GenerateOptions = {
        seed: o.seed,
        count: o.count,
        rate: o.rate,
        duration: o.duration,
        start: o.start,
        runs: o.runs,
        partitions: o.partitions,
        outOfOrderFraction: o.outOfOrder,
        duplicateFraction: o.duplicates,
        anomalyFraction: o.anomalies,
        unparseableFraction: o.unparseable,
        pinsInvalidFraction: o.pinsInvalid,
        envelopeInvalidFraction: o.envelopeInvalid,
        payloadInvalidFraction: o.payloadInvalid,
        tooLateFraction: o.tooLate,
        irrelevantFraction: o.irrelevant,
        progress: o.progress === false ? false : undefined,
      };
      const busRoot = o.bus ?? loadConfig().busRoot;
      const summary = await generate(options, busRoot);
      process.stdout.write(
        `${summary.events} records written to ${busRoot} in ${(summary.elapsedMs / 1000).toFixed(2)} s ` +
          `(${Math.round(summary.eventsPerSecond)} records/s); classes ${JSON.stringify(summary.classes)}\n`,
      );
    });

  program
    .command('publish')
    .description('append JSONL envelopes from a file or stdin to a stream of the file bus')
    .requiredOption('--stream <name>', 'stream (topic) to append to')
    .option('--partitions <n>', 'partitions of the stream', num('partitions'), 4)
    .option('--key <path>', 'dotted path of the partition key', 'payload.flow_id')
    .option('--bus <dir>', 'bus root (default OFP_BUS_ROOT or .data/bus)')
    .argument('[file]', 'JSONL file; stdin when absent or "-"')
    .action(async (file: string | undefined, o) => {
      const input = file && file !== '-' ? fs.createReadStream(file) : process.stdin;
      const busRoot = o.bus ?? loadConfig().busRoot;
      const s = await publishJsonLines(input, o.stream, {
        busRoot,
        partitions: o.partitions,
        partitionKey: o.key,
      });
      process.stdout.write(`${s.records} records appended to ${o.stream} ${JSON.stringify(s.partitions)}`);
      if (s.unkeyed > 0)
        process.stdout.write(
          `; ${s.unkeyed} without a readable key went to partition 0 (lines ${s.unkeyedLines.join(', ')})`,
        );
      process.stdout.write('\n');
    });
}
