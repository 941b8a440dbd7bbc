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

export async function startBenchServices(dir: string, withTemporal: boolean) {
  const db: { url: string; pid?: number; stop(): Promise<void> } = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, stop: async () => undefined }
    : await startEmbeddedPostgres({ dataDir: dir, port: await findFreePort(), log });
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
    async stop() {
      await temporal?.stop();
      await db.stop();
      // Bench databases grow to gigabytes: keep them only when asked to (OFP_BENCH_KEEP=1).
      if (process.env.OFP_BENCH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates and migrates a new database next to `adminUrl`. */
export async function freshBenchDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
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
