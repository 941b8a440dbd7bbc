/** Test-side access to the servers of global-setup: a fresh migrated database per call, the Temporal address. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const TEMPLATE_DB = 'ofp_test_template';

/** Creates a database cloned from the migrated template and returns its URL. */
export async function freshDatabase(): Promise<string> {
  const adminUrl = process.env.OFP_TEST_ADMIN_URL;
  if (!adminUrl)
    throw new Error('OFP_TEST_ADMIN_URL is not set: run integration tests through jest (global-setup)');
  const name = `ofp_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export function temporalAddress(): string {
  const a = process.env.OFP_TEST_TEMPORAL_ADDRESS;
  if (!a)
    throw new Error(
      'OFP_TEST_TEMPORAL_ADDRESS is not set: run integration tests through jest (global-setup)',
    );
  return a;
}

/** A fresh directory inside the run's data directory, which global-teardown removes (nothing is left in /tmp). */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(process.env.OFP_TEST_DATA_DIR ?? os.tmpdir(), prefix));
}

export function uniqueTaskQueue(name: string): string {
  return `${name}-${randomBytes(4).toString('hex')}`;
}
