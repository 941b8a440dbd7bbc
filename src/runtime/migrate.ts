/** Applies the committed Prisma migrations (`prisma migrate deploy`) with the offline JavaScript schema engine. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export const REPO_ROOT = path.resolve(__dirname, '../..');

export async function migrateDatabase(databaseUrl: string, log: { info: (o: object, m: string) => void }): Promise<void> {
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
    const tail = output.join('').trim().split('\n').slice(-8).join('\n');
    throw new MigrationError(`prisma migrate deploy failed (exit ${code}):\n${tail}`);
  }
  log.info({ ms: Date.now() - started }, 'database migrations applied');
}
