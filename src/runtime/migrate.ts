/** Applies the committed Prisma migrations (`prisma migrate deploy`) with the offline JavaScript schema engine. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { projectRoot } from './project-root';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export const REPO_ROOT = projectRoot();

const MIGRATIONS_DIR = path.join(REPO_ROOT, 'prisma', 'migrations');

/**
 * True when every committed migration is recorded as applied. Starting the Prisma CLI costs seconds, so a warm
 * start checks Prisma's own ledger first and runs `migrate deploy` only when something is missing.
 */
async function upToDate(databaseUrl: string): Promise<boolean> {
  const wanted = fs
    .readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    const { rows } = await client.query(
      `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const applied = new Set(rows.map((r) => r.migration_name as string));
    return wanted.every((m) => applied.has(m));
  } catch {
    return false; // no ledger yet (fresh database) or unreadable: let Prisma decide and report
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function migrateDatabase(
  databaseUrl: string,
  log: { info: (o: object, m: string) => void },
): Promise<void> {
  if (await upToDate(databaseUrl)) {
    log.info({}, 'database schema is up to date');
    return;
  }
  const prismaCli = require.resolve('prisma/build/index.js');
  const started = Date.now();
  const output: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [prismaCli, 'migrate', 'deploy'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    const tail = output.join('').trim().split('\n').slice(-30).join('\n');
    throw new MigrationError(`prisma migrate deploy failed (exit ${code}):\n${tail}`);
  }
  log.info({ ms: Date.now() - started }, 'database migrations applied');
}
