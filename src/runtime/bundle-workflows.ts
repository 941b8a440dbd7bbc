/** Child-process entry: bundles the workflows folder to a file (see workflow-bundle.ts). */
import fs from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const [workflowsPath, out] = process.argv.slice(2);
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (m: string) => process.stderr.write(m + '\n'),
    },
  });
  fs.writeFileSync(out, code);
}

main().catch((err) => {
  process.stderr.write(`bundling workflows failed: ${(err as Error).message}\n`);
  process.exit(1);
});
