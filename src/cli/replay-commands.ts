/**
 * `ofp replay` and `ofp parity`: reproduce answers from the file bus alone (SPEC 6). The logic lives in src/replay;
 * this file maps options to it and prints.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { FileEventBus } from '../bus/file-bus';
import { envelopeSchema, payloadSchemas } from '../contracts';
import { RecordParser } from '../core/envelope';
import { loadPolicyFile } from '../core/policy-file';
import { ProgressBar } from '../generator/progress';
import { parseTokens, tokenFor } from '../serving/auth';
import { defaultReplayWorkers } from '../replay/parallel';
import { formatParityReport, runParity } from '../replay/parity';
import { formatReplayOutcome, replayCommand, type ReplayOutputFormat } from '../replay/replay-command';

function count(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min)
      throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
    return n;
  };
}

function context(o: { bus?: string; policy?: string }) {
  const config = loadConfig();
  const policy = loadPolicyFile(o.policy ?? config.policyPath);
  return {
    config,
    policy,
    parser: new RecordParser({ envelopeSchema, payloadSchemas }),
    bus: new FileEventBus(o.bus ?? config.busRoot),
  };
}

/** Progress bars on stderr (only on a terminal unless forced), one per phase. */
function progressBars(enabled: boolean | undefined) {
  const bars = new Map<string, { bar: ProgressBar; total: number; done: number }>();
  return {
    update(label: string, unit: string, done: number, total: number) {
      let b = bars.get(label);
      if (!b) {
        for (const other of bars.values()) if (other.done < other.total) other.bar.finish(other.done);
        bars.set(label, (b = { bar: new ProgressBar(total, { label, unit, enabled }), total, done: 0 }));
      }
      b.done = done;
      b.bar.update(done);
      if (done >= total) {
        b.bar.finish(done);
        b.done = b.total = done;
        bars.delete(label);
      }
    },
    finish() {
      for (const b of bars.values()) b.bar.finish(b.done);
      bars.clear();
    },
  };
}

export function registerReplayCommands(program: Command): void {
  program
    .command('replay')
    .description(
      'reproduce one features answer from the file bus alone, at a given basis; prints the snapshot and its hash',
    )
    .requiredOption('--pins <json|file>', 'ContextPins as JSON (GraphQL or envelope names) or a JSON file')
    .requiredOption('--as-of <ts>', 'asOf, YYYY-MM-DDTHH:MM:SS.ffffffZ')
    .requiredOption('--keys <keys>', 'keyType:keyId,... e.g. merchant_id:42,device_id:7')
    .requiredOption('--groups <groups>', 'name/version,... e.g. merchant_velocity/v1')
    .requiredOption('--basis <basis>', "the answer's inputBasis JSON, or stream:partition=offset,... pairs")
    .option('--bus <dir>', 'bus root (default OFP_BUS_ROOT or .data/bus)')
    .option('--policy <file>', 'feature policy (default OFP_POLICY or config/features.yaml)')
    .option(
      '--format <format>',
      'document (the hashed section-6 document), graphql (as the gateway answers) or canonical (JCS text, then the hash)',
      'document',
    )
    .option(
      '--workers <n>',
      'worker threads that parse records (0: none)',
      count('workers', 0),
      defaultReplayWorkers(),
    )
    .option('--no-progress', 'do not draw a progress bar')
    .action(async (o) => {
      if (!['document', 'graphql', 'canonical'].includes(o.format))
        throw new Error(`--format must be document, graphql or canonical, got ${o.format}`);
      const { policy, parser, bus } = context(o);
      const bars = progressBars(o.progress === false ? false : undefined);
      try {
        const outcome = await replayCommand(
          { pins: o.pins, asOf: o.asOf, keys: o.keys, groups: o.groups, basis: o.basis },
          {
            bus,
            policy,
            parser,
            workers: o.workers,
            onProgress: (n, total) => bars.update('replay', 'records', n, total),
          },
        );
        bars.finish();
        process.stdout.write(`${formatReplayOutcome(outcome, o.format as ReplayOutputFormat)}\n`);
        if (outcome.kind === 'error') {
          process.stderr.write(`ofp: the replayed answer is ${outcome.code}: ${outcome.detail}\n`);
          process.exitCode = 1;
        }
      } finally {
        bars.finish();
        await bus.close();
      }
    });

  program
    .command('parity')
    .description(
      'ask a running gateway random requests drawn from the bus and compare each answer with an offline replay at its basis',
    )
    .option('--samples <n>', 'requests to draw', count('samples', 1), 300)
    .option('--seed <seed>', 'uint64 seed of the draw', '1')
    .option('--url <url>', 'gateway URL (default http://127.0.0.1:OFP_HTTP_PORT)')
    .option('--token <token>', 'reader token (default: the reader token of OFP_TOKENS)')
    .option('--bus <dir>', 'bus root (default OFP_BUS_ROOT or .data/bus)')
    .option('--policy <file>', 'feature policy (default OFP_POLICY or config/features.yaml)')
    .option('--concurrency <n>', 'requests in flight', count('concurrency', 1), 4)
    .option(
      '--workers <n>',
      'worker threads that parse records during replays (0: none)',
      count('workers', 0),
      defaultReplayWorkers(),
    )
    .option('--max-diffs <n>', 'mismatches to print in full', count('max-diffs', 0), 20)
    .option('--no-progress', 'do not draw progress bars')
    .action(async (o) => {
      const { config, policy, parser, bus } = context(o);
      const token =
        o.token ??
        (process.env.OFP_TOKENS ? tokenFor(parseTokens(process.env.OFP_TOKENS), 'reader') : undefined);
      if (!token) throw new Error('--token is required (a reader token of the gateway; or set OFP_TOKENS)');
      const bars = progressBars(o.progress === false ? false : undefined);
      try {
        const report = await runParity({
          url: o.url ?? `http://127.0.0.1:${config.httpPort}`,
          token,
          samples: o.samples,
          seed: o.seed,
          bus,
          policy,
          parser,
          workers: o.workers,
          concurrency: o.concurrency,
          onProgress: (phase, done, total) =>
            bars.update(
              phase === 'replay' ? 'replay ' : phase === 'ask' ? 'ask    ' : 'compare',
              phase === 'replay' ? 'records' : 'requests',
              done,
              total,
            ),
        });
        bars.finish();
        process.stdout.write(`${formatParityReport(report, { maxMismatches: o.maxDiffs })}\n`);
        if (report.mismatches.length > 0) process.exitCode = 1;
      } finally {
        bars.finish();
        await bus.close();
      }
    });
}
