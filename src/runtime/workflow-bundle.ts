/**
 * The workflow bundle, built once per workflow-code version in a child process and cached. Bundling (webpack + swc)
 * inside the worker would leave hundreds of megabytes in the worker's heap for its whole life; a prebuilt bundle
 * keeps the worker small and its start fast.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const WORKFLOWS_DIR = path.resolve(__dirname, '../workflows');

/** Hash of the workflow sources and the SDK version: a new bundle whenever either changes. */
function bundleKey(): string {
  const h = createHash('sha256');
  for (const f of fs.readdirSync(WORKFLOWS_DIR).sort())
    h.update(f).update(fs.readFileSync(path.join(WORKFLOWS_DIR, f)));
  h.update(require('@temporalio/workflow/package.json').version);
  return h.digest('hex').slice(0, 16);
}

function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'ofp', 'workflow-bundles');
}

/** Returns the path of a bundle for the current workflow code, building it (in a child process) if needed. */
export async function workflowBundlePath(): Promise<string> {
  const file = path.join(cacheDir(), `workflows-${bundleKey()}.js`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fromTs = __filename.endsWith('.ts');
  const script = path.join(__dirname, `bundle-workflows${fromTs ? '.ts' : '.js'}`);
  const tmp = `${file}.${process.pid}.tmp`;
  await run(process.execPath, [...(fromTs ? ['-r', 'tsx/cjs'] : []), script, WORKFLOWS_DIR, tmp], {
    maxBuffer: 16 << 20,
  });
  fs.renameSync(tmp, file); // atomic: concurrent workers never read a half-written bundle
  return file;
}
