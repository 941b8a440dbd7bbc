/** Shared bench plumbing: throwaway PostgreSQL and Temporal servers, fresh migrated databases, percentiles. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { logger } from '../src/logger';
import { migrateDatabase } from '../src/runtime/migrate';
import { startEmbeddedPostgres } from '../src/services/embedded-postgres';
import { findFreePort } from '../src/services/ports';
import { startTemporalDevServer } from '../src/services/temporal-server';

export const log = logger.child({ component: 'bench' });
log.level = process.env.OFP_LOG_LEVEL ?? 'warn';

export function benchDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o777);
  return dir;
}

/**
 * Settings for the embedded PostgreSQL: `BENCH_PG_SETTINGS="max_wal_size=8GB checkpoint_timeout=30min"`, and
 * pg_stat_statements loaded with `BENCH_PG_STATEMENTS=1` (see `statementBreakdown`).
 */
function benchPgSettings(): Record<string, string> {
  const out: Record<string, string> = {};
  if (process.env.BENCH_PG_STATEMENTS === '1') out.shared_preload_libraries = 'pg_stat_statements';
  for (const pair of (process.env.BENCH_PG_SETTINGS ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`BENCH_PG_SETTINGS: "${pair}" is not name=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (Object.keys(out).length > 0) report('PostgreSQL settings', JSON.stringify(out));
  return out;
}

export async function startBenchServices(dir: string, withTemporal: boolean) {
  const db: { url: string; pid?: number; stop(): Promise<void> } = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, stop: async () => undefined }
    : await startEmbeddedPostgres({
        dataDir: dir,
        port: await findFreePort(),
        log,
        settings: benchPgSettings(),
      });
  const temporal = !withTemporal
    ? undefined
    : process.env.TEMPORAL_ADDRESS
      ? { address: process.env.TEMPORAL_ADDRESS, stop: async () => undefined }
      : await startTemporalDevServer({
          dataDir: dir,
          port: await findFreePort(),
          uiPort: null,
          namespace: 'default',
          log,
        });
  return {
    adminUrl: db.url,
    /** The embedded PostgreSQL's postmaster; undefined with DATABASE_URL. */
    postgresPid: db.pid,
    temporalAddress: temporal?.address,
    /** The embedded Temporal dev server; undefined with TEMPORAL_ADDRESS or without Temporal. */
    temporalPid: temporal !== undefined && 'pid' in temporal ? temporal.pid : undefined,
    async stop() {
      await temporal?.stop();
      await db.stop();
      // Bench databases grow to gigabytes: keep them only when asked to (OFP_BENCH_KEEP=1).
      if (process.env.OFP_BENCH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Drops a bench database, so that the next run does not share PostgreSQL's and the kernel's caches with it. */
export async function dropBenchDatabase(adminUrl: string, name: string): Promise<void> {
  await adminStatements(adminUrl, [`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
}

/** Runs statements in order on one connection to `adminUrl`. */
async function adminStatements(adminUrl: string, statements: string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (const sql of statements) await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** Creates and migrates a new database next to `adminUrl`. */
export async function freshBenchDatabase(adminUrl: string, name: string): Promise<string> {
  await adminStatements(adminUrl, [`DROP DATABASE IF EXISTS ${name}`, `CREATE DATABASE ${name}`]);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrateDatabase(url.toString(), log);
  return url.toString();
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

/** Samples resident memory every 200 ms; returns the maximum seen. */
export function rssSampler(): { max(): number; stop(): void } {
  let max = process.memoryUsage().rss;
  const t = setInterval(() => (max = Math.max(max, process.memoryUsage().rss)), 200);
  return { max: () => max, stop: () => clearInterval(t) };
}

export function report(name: string, value: string): void {
  process.stdout.write(`${name.padEnd(52)} ${value}\n`);
}

/** Resident memory of a process in bytes; 0 once it has exited. */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds so far of named processes, and of PostgreSQL under `postgres`. */
export type ProcessCpu = Record<string, number>;

/** Kernel clock ticks per second (USER_HZ): 100 on Linux. */
const CLOCK_TICKS = 100;

/**
 * CPU seconds so far of each named process and, under `postgres`, of the bench's PostgreSQL: its postmaster, the
 * backends it runs and those that exited (reaped children count in the postmaster's own figures). PostgreSQL is NaN
 * when it is not the embedded one (DATABASE_URL): its processes are not ours to count.
 */
export function processCpu(
  named: Record<string, number | undefined>,
  postmasterPid: number | undefined,
): ProcessCpu {
  const out: ProcessCpu = { postgres: postmasterPid === undefined ? NaN : 0 };
  const nameOf = new Map<number, string>();
  for (const [name, pid] of Object.entries(named)) {
    out[name] = 0;
    if (pid !== undefined) nameOf.set(pid, name);
  }
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
    const pid = Number(d);
    const name = nameOf.get(pid);
    if (name !== undefined) out[name] += own;
    else if (pid === postmasterPid) out.postgres += own + (Number(f[13]) + Number(f[14])) / CLOCK_TICKS;
    else if (postmasterPid !== undefined && Number(f[1]) === postmasterPid) out.postgres += own;
  }
  return out;
}

/** CPU per item of one process between two readings, e.g. `312 µs` (`n/a` where it could not be counted). */
export function cpuPerItem(a: ProcessCpu, b: ProcessCpu, name: string, n: number): string {
  const v = ((b[name] - a[name]) / n) * 1e6;
  return Number.isNaN(v) ? 'n/a' : `${Math.round(v)} µs`;
}

type Queryable = { query: pg.Pool['query'] };

/** PostgreSQL's cluster-wide WAL and checkpoint counters (PostgreSQL 17's pg_stat_wal and pg_stat_checkpointer). */
export interface WalCounters {
  bytes: number;
  fullPageImages: number;
  checkpointsTimed: number;
  checkpointsRequested: number;
}

/** The counters now, or undefined where the server has no such views (PostgreSQL before 17). */
export async function walCounters(pool: Queryable): Promise<WalCounters | undefined> {
  try {
    const { rows } = await pool.query(
      `SELECT w.wal_bytes::float8 AS bytes, w.wal_fpi::float8 AS fpi, c.num_timed::float8 AS timed,
              c.num_requested::float8 AS requested
         FROM pg_stat_wal w, pg_stat_checkpointer c`,
    );
    const r = rows[0];
    return {
      bytes: r.bytes,
      fullPageImages: r.fpi,
      checkpointsTimed: r.timed,
      checkpointsRequested: r.requested,
    };
  } catch {
    return undefined;
  }
}

/** WAL written per item between two readings, and the checkpoints it caused, e.g. `1,234 bytes per event (…)`. */
export function describeWal(
  a: WalCounters | undefined,
  b: WalCounters | undefined,
  n: number,
  unit: string,
): string {
  if (!a || !b) return 'n/a';
  const bytes = b.bytes - a.bytes;
  return (
    `${Math.round(bytes / n).toLocaleString('en-US')} bytes per ${unit}, ` +
    `${((b.fullPageImages - a.fullPageImages) / n).toFixed(2)} full-page images per ${unit}, ` +
    `${(bytes / 2 ** 30).toFixed(1)} GB in all; checkpoints: ${b.checkpointsRequested - a.checkpointsRequested} ` +
    `forced by WAL volume, ${b.checkpointsTimed - a.checkpointsTimed} on time`
  );
}

/**
 * Where PostgreSQL's time goes, statement by statement (`BENCH_PG_STATEMENTS=1`): `reset` before a run, `print` after
 * it. Executor wall time (waits for locks, I/O and the CPU included, so it adds up to more than PostgreSQL's CPU
 * time) of every database in the cluster, so only meaningful while one run is going.
 */
export const statementBreakdown = {
  enabled: process.env.BENCH_PG_STATEMENTS === '1',
  async reset(pool: Queryable): Promise<void> {
    if (!this.enabled) return;
    try {
      await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await pool.query('SELECT pg_stat_statements_reset()');
    } catch (err) {
      // A server of DATABASE_URL may not load the module: the bench goes on without the breakdown.
      report('  statement time', `n/a (${(err as Error).message})`);
      this.enabled = false;
    }
  },
  async print(pool: Queryable, n: number, unit: string): Promise<void> {
    if (!this.enabled) return;
    const { rows } = await pool.query(
      `SELECT calls::float8 AS calls, total_exec_time AS ms, query FROM pg_stat_statements
        WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 8`,
    );
    for (const r of rows) {
      const text = String(r.query).replace(/\s+/g, ' ').trim().slice(0, 70);
      report(`  statement time ${((r.ms * 1000) / n).toFixed(1)} µs/${unit}`, `${r.calls} calls: ${text}`);
    }
  },
};
