/**
 * Checks the GraphiQL page in headless Chromium (Debian `chromium`): starts a gateway against a throwaway embedded
 * PostgreSQL, loads /graphql in the browser, waits until GraphiQL has rendered its editor with the prefilled
 * features query, and saves a screenshot. Exits non-zero if the page does not render.
 *   npm run check:graphiql   (CHROMIUM=/path/to/chromium to use another browser)
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FileEventBus } from '../src/bus/file-bus';
import { loadConfig } from '../src/config';
import { loadPolicyFile } from '../src/core/policy-file';
import { logger } from '../src/logger';
import { startGateway } from '../src/runtime/gateway';
import { migrateDatabase } from '../src/runtime/migrate';
import { parseTokens } from '../src/serving/auth';
import { startEmbeddedPostgres } from '../src/services/embedded-postgres';
import { findFreePort } from '../src/services/ports';

const run = promisify(execFile);

async function main(): Promise<void> {
  const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(chromium))
    throw new Error(`${chromium} not found: apt-get install chromium, or set CHROMIUM`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-graphiql-'));
  fs.chmodSync(dir, 0o777);
  const log = logger.child({ component: 'check-graphiql' });
  log.level = 'warn';
  const db = await startEmbeddedPostgres({ dataDir: dir, port: await findFreePort(), log });
  try {
    await migrateDatabase(db.url, log);
    const gw = await startGateway({
      databaseUrl: db.url,
      namespace: 'default',
      policy: loadPolicyFile(path.resolve(__dirname, '../config/features.yaml')),
      bus: new FileEventBus(path.join(dir, 'bus')),
      tokens: parseTokens('reader:reader-check-token'),
      port: 0,
      introspection: true,
      log,
    });
    try {
      // Outside `dir`, which is removed at the end: in the project's (git-ignored) data directory.
      const dataDir = loadConfig().dataDir;
      fs.mkdirSync(dataDir, { recursive: true });
      const shot = path.resolve(process.env.GRAPHIQL_SCREENSHOT ?? path.join(dataDir, 'graphiql.png'));
      const flags = [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${path.join(dir, 'chrome')}`,
        '--virtual-time-budget=15000',
      ];
      const { stdout } = await run(chromium, [...flags, '--dump-dom', `${gw.url}/graphql`], {
        maxBuffer: 64 << 20,
        timeout: 60_000,
      });
      await run(chromium, [...flags, '--window-size=1400,900', `--screenshot=${shot}`, `${gw.url}/graphql`], {
        timeout: 60_000,
      });
      const rendered = stdout.includes('graphiql-container') && stdout.includes('snapshotHash');
      process.stdout.write(
        `GraphiQL ${rendered ? 'rendered' : 'did NOT render'} at ${gw.url}/graphql; screenshot ${shot}\n`,
      );
      if (!rendered) process.exitCode = 1;
    } finally {
      await gw.stop();
    }
  } finally {
    await db.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`check-graphiql: ${(err as Error).message}\n`);
  process.exit(1);
});
