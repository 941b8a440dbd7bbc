/**
 * Child processes for the embedded services (PostgreSQL, Temporal dev server) that do not outlive us.
 *
 * - They run in their own process group (`detached`), so a Ctrl-C in the terminal reaches only us and we stop them
 *   in order (gateway and worker first, then Temporal, then PostgreSQL) instead of all of them dying at once.
 * - On Linux they are started through `setpriv --pdeathsig`, so the kernel signals them if we die without stopping
 *   them (SIGKILL, crash). Where that is unavailable they stay in our process group, so terminal signals reach them.
 * - A process 'exit' handler signals them on a normal exit that skipped `stop()`.
 * - A pid file records child and owner; the next start finds a child whose owner is gone (an orphan) and stops it,
 *   so a killed run does not leave a port or a data directory locked.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from '../logger';
import { ServiceStartError } from './errors';
import { sleep } from './ports';

export type ServiceLogger = Pick<Logger, 'info' | 'warn' | 'debug' | 'error'>;

export interface ManagedProcessOptions {
  /** Service name for messages (`postgres`, `temporal`). */
  name: string;
  command: string;
  args: string[];
  /** The child's stdout and stderr are appended here (the child writes to the file itself: no pipe through us). */
  logFile: string;
  /** Where to record the child's and our pid (see `reclaimOrphan`). */
  pidFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user (used to run PostgreSQL as `postgres` when we are root). */
  uid?: number;
  gid?: number;
  /** Signal that asks the child to shut down cleanly (PostgreSQL: SIGINT = fast shutdown; Temporal: SIGTERM). */
  stopSignal: NodeJS.Signals;
}

export interface ManagedProcess {
  readonly pid: number;
  /** Settles when the child has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /**
   * Sends `stopSignal`, waits up to `timeoutMs`, then SIGKILL. Idempotent.
   * @param timeoutMs default 15000.
   */
  stop(timeoutMs?: number): Promise<void>;
}

interface PidFileContent {
  pid: number;
  pidStart?: string;
  owner: number;
  ownerStart?: string;
  command: string;
}

const live = new Set<{ child: ChildProcess; signal: NodeJS.Signals }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: we can only send the signal; the children finish shutting down alone.
  process.on('exit', () => {
    for (const { child, signal } of live) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  });
}

let pdeathsigSupport: boolean | undefined;

/** Whether `setpriv --pdeathsig` works here (util-linux >= 2.33, Linux only). */
export function parentDeathSignalSupported(): boolean {
  if (pdeathsigSupport === undefined) {
    pdeathsigSupport =
      process.platform === 'linux' &&
      spawnSync('setpriv', ['--pdeathsig', 'TERM', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  }
  return pdeathsigSupport;
}

/** Start time of a process (clock ticks since boot, from /proc) to tell a pid from a later process reusing it. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses; fields after the last ')' are plain.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `pid` is alive and (where /proc tells) is still the process that had start time `start`. */
function isSameProcess(pid: number, start: string | undefined): boolean {
  if (!isProcessAlive(pid)) return false;
  if (start === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === start;
}

/** The command line of a process, joined with spaces ('' if unknown). */
export function processCommandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    const ps = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout.trim() : '';
  }
}

/** Waits until `pid` is gone; false on timeout. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Signals `pid` with `signal`, then SIGKILL after `timeoutMs`; resolves when it is gone. */
export async function terminatePid(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  if (await waitForExit(pid, timeoutMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(pid, 5000);
}

/**
 * Stops a child left by an earlier run whose owner is gone, using `pidFile`.
 *
 * Throws `ServiceStartError` if the owner is still alive: another `ofp` process uses the same data directory.
 * `matches` must confirm the command line (a pid from an old file may belong to an unrelated process by now).
 */
export async function reclaimOrphan(opts: {
  name: string;
  pidFile: string;
  dataDir: string;
  stopSignal: NodeJS.Signals;
  matches: (commandLine: string) => boolean;
  log: ServiceLogger;
}): Promise<void> {
  let content: PidFileContent;
  try {
    content = JSON.parse(fs.readFileSync(opts.pidFile, 'utf8')) as PidFileContent;
  } catch {
    fs.rmSync(opts.pidFile, { force: true });
    return;
  }
  const childAlive =
    isSameProcess(content.pid, content.pidStart) && opts.matches(processCommandLine(content.pid));
  if (childAlive && content.owner === process.pid) {
    throw new ServiceStartError(
      opts.name,
      `${opts.name} under ${opts.dataDir} is already running in this process`,
    );
  }
  if (childAlive && isSameProcess(content.owner, content.ownerStart)) {
    throw new ServiceStartError(
      opts.name,
      `${opts.name} under ${opts.dataDir} is already run by another process (pid ${content.owner}); stop it or set OFP_DATA_DIR to another directory`,
    );
  }
  if (childAlive) {
    opts.log.warn(
      { orphanPid: content.pid },
      `stopping ${opts.name} left running by an earlier run that ended abruptly`,
    );
    await terminatePid(content.pid, opts.stopSignal, 15000);
  }
  fs.rmSync(opts.pidFile, { force: true });
}

/** Spawns a managed child (see the module comment). Throws `ServiceStartError` if it cannot be spawned. */
export async function spawnManaged(opts: ManagedProcessOptions): Promise<ManagedProcess> {
  const wrap = parentDeathSignalSupported();
  // The signal the kernel sends if we die: the service's clean-shutdown signal.
  const command = wrap ? 'setpriv' : opts.command;
  const args = wrap
    ? ['--pdeathsig', opts.stopSignal.replace(/^SIG/, ''), '--', opts.command, ...opts.args]
    : opts.args;
  const out = fs.openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      uid: opts.uid,
      gid: opts.gid,
      detached: wrap,
      stdio: ['ignore', out, out],
    });
  } finally {
    // The child holds its own copy of the descriptor.
    fs.closeSync(out);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err) => resolve(err));
  });
  if (spawnError || child.pid === undefined) {
    throw new ServiceStartError(opts.name, `cannot run ${opts.command}: ${spawnError?.message ?? 'no pid'}`, {
      cause: spawnError,
    });
  }
  const pid = child.pid;
  const entry = { child, signal: opts.stopSignal };
  live.add(entry);
  installExitHook();
  let running = true;
  void exited.then(() => {
    running = false;
    live.delete(entry);
    fs.rmSync(opts.pidFile, { force: true });
  });
  const content: PidFileContent = {
    pid,
    pidStart: processStartTime(pid),
    owner: process.pid,
    ownerStart: processStartTime(process.pid),
    command: [opts.command, ...opts.args].join(' '),
  };
  fs.writeFileSync(opts.pidFile, JSON.stringify(content) + '\n');

  let stopping: Promise<void> | undefined;
  return {
    pid,
    exited,
    isRunning: () => running,
    stop(timeoutMs = 15000) {
      stopping ??= (async () => {
        if (!running) return;
        child.kill(opts.stopSignal);
        const timer = new Promise<'timeout'>((resolve) =>
          setTimeout(() => resolve('timeout'), timeoutMs).unref(),
        );
        if ((await Promise.race([exited, timer])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
      })();
      return stopping;
    },
  };
}

/** The last `lines` lines of a log file ('' if unreadable), for error messages and --verbose. */
export function tailFile(file: string, lines = 20): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(length);
      fs.readSync(fd, buf, 0, length, size - length);
      return buf
        .toString('utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n')
        .trim();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}
