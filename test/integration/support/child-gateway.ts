/**
 * `node bin/ofp serve` as a child process, for tests that must see whether the gateway process itself survives (an
 * unhandled 'error' event would end it). It listens on a free port (OFP_HTTP_PORT=0); its URL is read from its own
 * "gateway listening" log line. Its stdout and stderr go to a log file whose tail explains a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './services';

const REPO_ROOT = path.resolve(__dirname, '../../..');

export interface ChildGatewayOptions {
  databaseUrl: string;
  busRoot: string;
  /** `role:token,...` (OFP_TOKENS). */
  tokens: string;
  policyPath?: string;
  /** How long to wait for the gateway to listen. Default 90 s (tsx compiles the sources first). */
  startTimeoutMs?: number;
}

export interface ChildGateway {
  pid: number;
  url: string;
  logFile: string;
  isRunning(): boolean;
  /** How the process ended, once it has. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  logText(): string;
  logTail(lines?: number): string;
}

export async function startChildGateway(o: ChildGatewayOptions): Promise<ChildGateway> {
  const dir = tempDir('ofp-child-gateway-');
  const logFile = path.join(dir, 'gateway.log');
  const out = fs.openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    OFP_BUS_ROOT: o.busRoot,
    OFP_DATA_DIR: dir,
    OFP_POLICY: o.policyPath ?? path.join(REPO_ROOT, 'config/features.yaml'),
    OFP_TOKENS: o.tokens,
    OFP_HTTP_PORT: '0',
    OFP_HTTP_HOST: '127.0.0.1',
    OFP_LOG_LEVEL: 'info',
    OFP_LOG_PRETTY: '0',
  };
  // Operator mutations are not under test: no Temporal, so the gateway needs only PostgreSQL.
  delete env.TEMPORAL_ADDRESS;
  const child: ChildProcess = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/ofp'), 'serve'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start the child gateway (see ${logFile})`);
  const pid = child.pid;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
  });
  const logText = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const logTail = (lines = 30) => logText().split('\n').slice(-lines).join('\n');
  const stop = async (graceMs = 15_000) => {
    if (exit) return;
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (!exit) process.kill(pid, 'SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (o.startTimeoutMs ?? 90_000);
  let url: string | undefined;
  while (url === undefined) {
    for (const line of logText().split('\n')) {
      if (!line.includes('gateway listening')) continue;
      const logged = (JSON.parse(line) as { url: string }).url;
      url = logged.replace(/\/graphql$/, '');
    }
    if (url !== undefined) break;
    if (exit)
      throw new Error(`the child gateway exited (${JSON.stringify(exit)}) before listening:\n${logTail()}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the child gateway did not listen in time:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid,
    url,
    logFile,
    isRunning: () => exit === undefined,
    exitStatus: () => exit,
    stop,
    logText,
    logTail,
  };
}
