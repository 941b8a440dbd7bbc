/**
 * `node bin/ofp worker` as a child process, for faults that need a real process to die (SIGKILL). Its stdout and
 * stderr go to a log file whose tail is shown when a test needs to explain a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './services';

const REPO_ROOT = path.resolve(__dirname, '../../..');

export interface ChildWorkerOptions {
  databaseUrl: string;
  temporalAddress: string;
  busRoot: string;
  taskQueue: string;
  idPrefix: string;
  policyPath?: string;
  logLevel?: string;
}

export interface ChildWorker {
  pid: number;
  logFile: string;
  /** Resolves when the process has exited (with its code or the signal that ended it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** Sends `signal` to this process (by pid) and waits for it to exit. */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  logTail(lines?: number): string;
}

export function startChildWorker(o: ChildWorkerOptions): ChildWorker {
  const dir = tempDir('ofp-child-worker-');
  const logFile = path.join(dir, 'worker.log');
  const out = fs.openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    TEMPORAL_ADDRESS: o.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    OFP_BUS_ROOT: o.busRoot,
    OFP_TASK_QUEUE: o.taskQueue,
    OFP_ID_PREFIX: o.idPrefix,
    OFP_DATA_DIR: dir,
    OFP_POLICY: o.policyPath ?? path.join(REPO_ROOT, 'config/features.yaml'),
    OFP_LOG_LEVEL: o.logLevel ?? 'warn',
  };
  const child: ChildProcess = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/ofp'), 'worker'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start the child worker (see ${logFile})`);
  const pid = child.pid;
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  const kill = async (signal: NodeJS.Signals) => {
    if (running) process.kill(pid, signal);
    return exited;
  };
  return {
    pid,
    logFile,
    exited,
    isRunning: () => running,
    kill,
    async stop(graceMs = 15_000) {
      if (!running) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (running) process.kill(pid, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
    logTail(lines = 30) {
      try {
        return fs.readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}
