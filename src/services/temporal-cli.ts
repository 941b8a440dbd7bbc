/**
 * Finding or obtaining the Temporal CLI binary, which runs the embedded Temporal dev server (`temporal server
 * start-dev`).
 *
 * The vendor's download site is unreachable on the machines this project builds on, but the Go module proxy is
 * reachable, so the CLI is built from its Go module once and cached outside the clone. Order of preference:
 *   1. `OFP_TEMPORAL_BIN`                      (an explicit binary)
 *   2. `temporal` on PATH
 *   3. the cached build `<cache>/ofp/temporal-<version>/temporal`
 *   4. `go install github.com/temporalio/cli/cmd/temporal@<version>` into that cache (about 5 minutes the first time)
 *   5. the binary `@temporalio/testing` downloads from the vendor's site (works only with internet access)
 *   6. `TemporalCliUnavailableError` saying what to install, or to point TEMPORAL_ADDRESS at an existing server.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TemporalCliUnavailableError } from './errors';
import type { ServiceLogger } from './process';

/** The pinned CLI version (bundles Temporal server 1.29.1). Later tags carry a `replace` that `go install` refuses. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** Tried, in order, when the pinned tag cannot be fetched or built. */
export const TEMPORAL_CLI_FALLBACK_VERSIONS: readonly string[] = ['v1.4.1'];
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** `go install` of the pinned module needs Go >= 1.25; older Go >= 1.21 fetches that toolchain from the module proxy. */
const GO_MIN_MINOR = 21;

const exeName = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

export interface EnsureTemporalCliOptions {
  log: ServiceLogger;
  /** Environment to read `OFP_TEMPORAL_BIN`, `PATH`, `XDG_CACHE_HOME` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where build progress goes (go's output, elapsed time). Default `process.stderr`. */
  progress?: NodeJS.WritableStream;
  /** Whether to build with Go / download when nothing is found. Default true; false only looks. */
  obtain?: boolean;
}

/** `$XDG_CACHE_HOME/ofp` or `~/.cache/ofp`: outside the clone, so fresh clones reuse the build. */
export function ofpCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'ofp');
}

/** Where the Go build of `version` is cached. */
export function cachedTemporalCliPath(
  version: string = TEMPORAL_CLI_VERSION,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return path.join(ofpCacheDir(env), `temporal-${version}`, exeName);
}

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Looks without obtaining: steps 1-3 and an earlier SDK download. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.OFP_TEMPORAL_BIN;
  if (explicit) {
    if (!isExecutableFile(explicit)) {
      throw new TemporalCliUnavailableError(`OFP_TEMPORAL_BIN=${explicit} is not an executable file`);
    }
    return explicit;
  }
  const onPath = findOnPath(exeName, env);
  if (onPath) return onPath;
  for (const version of [TEMPORAL_CLI_VERSION, ...TEMPORAL_CLI_FALLBACK_VERSIONS]) {
    const cached = cachedTemporalCliPath(version, env);
    if (isExecutableFile(cached)) return cached;
  }
  return findSdkDownload(env);
}

/**
 * Path of a Temporal CLI binary, building or downloading it if needed (see the module comment).
 * Throws `TemporalCliUnavailableError` if none can be had.
 */
export async function ensureTemporalCli(opts: EnsureTemporalCliOptions): Promise<string> {
  const env = opts.env ?? process.env;
  const found = findTemporalCli(env);
  if (found) {
    opts.log.debug({ path: found }, 'temporal CLI found');
    return found;
  }
  if (opts.obtain === false) throw unavailable('the Temporal CLI is not installed', env);
  const progress = opts.progress ?? process.stderr;

  const go = goVersion(env);
  const failures: string[] = [];
  if (go && go.minor >= GO_MIN_MINOR) {
    for (const version of [TEMPORAL_CLI_VERSION, ...TEMPORAL_CLI_FALLBACK_VERSIONS]) {
      try {
        return await goInstall(version, env, progress, opts.log);
      } catch (err) {
        failures.push(`go install @${version}: ${(err as Error).message}`);
        opts.log.warn({ version, err: (err as Error).message }, 'building the Temporal CLI failed');
      }
    }
  } else {
    failures.push(go ? `Go ${go.text} is older than 1.${GO_MIN_MINOR}` : 'Go is not installed');
  }

  try {
    return await sdkDownload(env, opts.log);
  } catch (err) {
    failures.push(summariseDownloadError(err));
  }
  opts.log.debug({ failures }, 'no way to obtain the Temporal CLI');
  throw unavailable(failures.join('; '), env);
}

function unavailable(reason: string, env: NodeJS.ProcessEnv): TemporalCliUnavailableError {
  return new TemporalCliUnavailableError(
    `the Temporal CLI (which runs the embedded Temporal server) is missing and could not be obtained (${reason}); ` +
      `it needs Go >= 1.25 or internet access: install Go and run \`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}\` ` +
      `with GOBIN=${path.dirname(cachedTemporalCliPath(TEMPORAL_CLI_VERSION, env))} (or \`ofp temporal install\`), ` +
      `or set OFP_TEMPORAL_BIN to a temporal binary, or set TEMPORAL_ADDRESS to use an existing Temporal server`,
  );
}

/**
 * CLI entry (`ofp temporal install`): ensures the binary, printing progress to stderr and the path to stdout.
 * @returns the binary's path.
 */
export async function installTemporal(opts: {
  log: ServiceLogger;
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}): Promise<string> {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const env = opts.env ?? process.env;
  const existing = findTemporalCli(env);
  if (existing) {
    stderr.write(`Temporal CLI already available (${describeBinary(existing)})\n`);
    stdout.write(existing + '\n');
    return existing;
  }
  stderr.write(`Temporal CLI not found; obtaining ${TEMPORAL_CLI_VERSION}\n`);
  const file = await ensureTemporalCli({ log: opts.log, env, progress: stderr });
  stderr.write(`Temporal CLI ready (${describeBinary(file)})\n`);
  stdout.write(file + '\n');
  return file;
}

function describeBinary(file: string): string {
  const run = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 10000 });
  return run.status === 0 ? run.stdout.trim() : file;
}

/** `go version` parsed, or undefined if Go is not on PATH. */
export function goVersion(
  env: NodeJS.ProcessEnv = process.env,
): { text: string; major: number; minor: number } | undefined {
  const run = spawnSync('go', ['version'], { encoding: 'utf8', env, timeout: 30000 });
  if (run.status !== 0) return undefined;
  const m = /go(\d+)\.(\d+)(\S*)/.exec(run.stdout);
  if (!m) return undefined;
  return { text: `${m[1]}.${m[2]}${m[3]}`, major: Number(m[1]), minor: Number(m[2]) };
}

/**
 * Builds the CLI with `go install` into a temporary GOBIN, then moves the binary into the cache, so that an
 * interrupted or concurrent build never leaves a half-written binary at the cached path.
 */
async function goInstall(
  version: string,
  env: NodeJS.ProcessEnv,
  progress: NodeJS.WritableStream,
  log: ServiceLogger,
): Promise<string> {
  const target = cachedTemporalCliPath(version, env);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmpBin = fs.mkdtempSync(path.join(path.dirname(target), '.build-'));
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
  progress.write(
    `building the Temporal CLI ${version} with \`go install ${TEMPORAL_CLI_MODULE}@${version}\` ` +
      `(first time only, about 5 minutes on 2 cores; cached at ${target})\n`,
  );
  log.info({ version, target }, 'building the Temporal CLI with go install');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', ['install', `${TEMPORAL_CLI_MODULE}@${version}`], {
        // GOFLAGS from the user could add -mod=vendor or similar, which `go install pkg@version` rejects.
        env: { ...env, GOBIN: tmpBin, GOFLAGS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let lastOutput = '';
      const forward = (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        lastOutput = (lastOutput + text).slice(-2000);
        progress.write(text);
      };
      child.stdout.on('data', forward);
      child.stderr.on('data', forward);
      // Compiling prints nothing for minutes: show that it is alive.
      const ticker = setInterval(() => progress.write(`  ... still building (${elapsed()})\n`), 15000);
      child.once('error', (err) => {
        clearInterval(ticker);
        reject(err);
      });
      child.once('close', (code, signal) => {
        clearInterval(ticker);
        if (code === 0) resolve();
        else {
          const last = lastOutput.trim().split('\n').slice(-3).join(' | ');
          reject(new Error(`exit ${code ?? signal}${last ? `: ${last}` : ''}`));
        }
      });
    });
    const built = path.join(tmpBin, exeName);
    if (!isExecutableFile(built)) throw new Error(`go install did not produce ${built}`);
    fs.renameSync(built, target);
  } finally {
    fs.rmSync(tmpBin, { recursive: true, force: true });
  }
  progress.write(`built the Temporal CLI ${version} in ${elapsed()}: ${target}\n`);
  log.info({ version, target, seconds: Math.round((Date.now() - started) / 1000) }, 'built the Temporal CLI');
  return target;
}

/** The SDK's download error repeats the URL and wraps causes; keep the host and the innermost cause. */
function summariseDownloadError(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const host = /https?:\/\/([^/\s)]+)/.exec(msg)?.[1] ?? "the vendor's site";
  return `download from ${host} failed (${msg.split(': ').slice(-2).join(': ')})`;
}

/** Where `@temporalio/testing` is told to download the CLI (so it survives /tmp cleanups). */
function sdkDownloadDir(env: NodeJS.ProcessEnv): string {
  return path.join(ofpCacheDir(env), 'sdk-download');
}

/** A CLI that `@temporalio/testing` downloaded earlier (its files are named `temporal-cli-<sdk>-<version>`). */
function findSdkDownload(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of [sdkDownloadDir(env), os.tmpdir()]) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    const hit = names
      .filter((n) => n.startsWith('temporal-cli-'))
      .sort()
      .reverse()
      .map((n) => path.join(dir, n))
      .find(isExecutableFile);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * Lets `@temporalio/testing` download the CLI (it starts a dev server, which we stop at once). Offline, this fails
 * quickly with a DNS or connection error, which the caller reports.
 */
async function sdkDownload(env: NodeJS.ProcessEnv, log: ServiceLogger): Promise<string> {
  const dir = sdkDownloadDir(env);
  fs.mkdirSync(dir, { recursive: true });
  log.info({ dir }, 'trying to download the Temporal CLI through @temporalio/testing');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const testEnv = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir: dir }, ui: false },
  });
  await testEnv.teardown();
  const file = findSdkDownload(env);
  if (!file) throw new Error(`@temporalio/testing started a server but no temporal-cli-* file is in ${dir}`);
  return file;
}
