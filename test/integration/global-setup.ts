/**
 * Starts one real PostgreSQL (embedded) and one real Temporal dev server for the whole integration run, and
 * migrates a template database that each test file clones (CREATE DATABASE ... TEMPLATE is fast, migrations are
 * not). DATABASE_URL / TEMPORAL_ADDRESS point the tests at external servers instead.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { logger } from '../../src/logger';
import { startEmbeddedPostgres } from '../../src/services/embedded-postgres';
import { findFreePort } from '../../src/services/ports';
import { startTemporalDevServer } from '../../src/services/temporal-server';
import { migrateDatabase } from '../../src/runtime/migrate';

export const TEMPLATE_DB = 'ofp_test_template';

export default async function globalSetup(): Promise<void> {
  const log = logger.child({ component: 'test-setup' });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-it-'));
  fs.chmodSync(dataDir, 0o777);
  const stops: (() => Promise<void>)[] = [];
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const started = Date.now();
    const db = await startEmbeddedPostgres({ dataDir, port: await findFreePort(), log, unsafeFast: true });
    stops.push(db.stop);
    adminUrl = db.url;
    log.info({ ms: Date.now() - started }, 'embedded PostgreSQL for tests');
  }
  let temporalAddress = process.env.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    const started = Date.now();
    const server = await startTemporalDevServer({
      dataDir,
      port: await findFreePort(),
      uiPort: null,
      namespace: 'default',
      log,
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 400 },
      readyTimeoutMs: 60_000,
    });
    stops.push(server.stop);
    temporalAddress = server.address;
    log.info({ ms: Date.now() - started }, 'Temporal dev server for tests');
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE_DB}`;
  await migrateDatabase(templateUrl.toString(), log);

  process.env.OFP_TEST_ADMIN_URL = adminUrl;
  process.env.OFP_TEST_TEMPORAL_ADDRESS = temporalAddress;
  process.env.OFP_TEST_DATA_DIR = dataDir;
  (globalThis as Record<string, unknown>).__OFP_TEST_STOPS__ = stops;
}
