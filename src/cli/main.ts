/**
 * `ofp`: the command-line program. Every command prints one clear line on failure (stack traces only with
 * --verbose) and exits non-zero.
 */
import { Command } from 'commander';
import { logger } from '../logger';
import { registerServiceCommands } from './service-commands';
import { registerDataCommands } from './data-commands';
import { registerReplayCommands } from './replay-commands';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('ofp')
    .description('Online Feature Plane: exact point-in-time fraud features over GraphQL')
    .option('--verbose', 'print stack traces of errors')
    .showHelpAfterError();
  registerServiceCommands(program);
  registerDataCommands(program);
  registerReplayCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as Error;
    if (program.opts().verbose || process.argv.includes('--verbose')) logger.error({ err: e }, e.message);
    process.stderr.write(`ofp: ${e.message}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main(process.argv);
