/**
 * `node bin/ofp <command>` as a child process: its stdout and stderr go to a log file in a fresh directory (the
 * child's OFP_DATA_DIR), whose text explains a failure; it can be signalled, stopped and awaited.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './services';

export const REPO_ROOT = path.resolve(__dirname, '../../..');

export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

export interface ChildOfp {
  pid: number;
  /** The child's own directory (pass it as OFP_DATA_DIR). */
  dir: string;
  logFile: string;
  /** Resolves when the process has exited (with its code or the signal that ended it). */
  exited: Promise<ExitStatus>;
  /** How the process ended, once it has. */
  exitStatus(): ExitStatus | undefined;
  isRunning(): boolean;
  /** Sends `signal` to this process (by pid) and waits for it to exit. */
  kill(signal: NodeJS.Signals): Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs` (default 15 s). */
  stop(graceMs?: number): Promise<void>;
  logText(): string;
  logTail(lines?: number): string;
}

/** A fresh directory for a child, made before its environment (which names it) is. */
export function childDir(name: string): string {
  return tempDir(`ofp-child-${name}-`);
}

/** Starts `bin/ofp <command>` with `env`, logging to `<dir>/<name>.log`. */
export function spawnOfp(command: string, name: string, dir: string, env: NodeJS.ProcessEnv): ChildOfp {
  const logFile = path.join(dir, `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/ofp'), command], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start the child ${name} (see ${logFile})`);
  const pid = child.pid;
  let exit: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  const logText = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    pid,
    dir,
    logFile,
    exited,
    exitStatus: () => exit,
    isRunning: () => exit === undefined,
    async kill(signal) {
      if (exit === undefined) process.kill(pid, signal);
      return exited;
    },
    async stop(graceMs = 15_000) {
      if (exit !== undefined) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (exit === undefined) process.kill(pid, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
    logText,
    logTail: (lines = 30) => logText().split('\n').slice(-lines).join('\n'),
  };
}
