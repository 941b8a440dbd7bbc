/** startServices: embedded services from the configuration, or checks of the given DATABASE_URL / TEMPORAL_ADDRESS. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import {
  DatabaseUnreachableError,
  DataDirNotWritableError,
  TemporalUnavailableError,
} from '../../src/services/errors';
import { checkDatabaseReachable } from '../../src/services/embedded-postgres';
import { findFreePort } from '../../src/services/ports';
import { ensureTemporalCli } from '../../src/services/temporal-cli';
import { checkTemporalReachable } from '../../src/services/temporal-server';
import { startServices } from '../../src/services/stack';

const log = pino({ level: 'silent' });
let tmp: string;

beforeAll(
  async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-stack-test-'));
    fs.chmodSync(tmp, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
    await ensureTemporalCli({ log });
  },
  15 * 60 * 1000,
);
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function embeddedEnv(name: string): Promise<NodeJS.ProcessEnv> {
  return {
    OFP_DATA_DIR: path.join(tmp, name),
    OFP_PG_PORT: String(await findFreePort()),
    OFP_TEMPORAL_PORT: String(await findFreePort()),
    OFP_TEMPORAL_UI_PORT: String(await findFreePort()),
  };
}

describe('startServices', () => {
  it('starts embedded PostgreSQL and Temporal under OFP_DATA_DIR and stops both', async () => {
    const config = loadConfig(await embeddedEnv('both'));
    const services = await startServices(config, log);
    try {
      expect(services.embedded).toEqual({ postgres: true, temporal: true });
      expect(services.databaseUrl).toContain(`@127.0.0.1:${config.pgPort}/ofp`);
      expect(services.temporalAddress).toBe(`127.0.0.1:${config.temporalPort}`);
      expect(services.temporalUiUrl).toBe(`http://127.0.0.1:${config.temporalUiPort}`);
      await checkDatabaseReachable(services.databaseUrl);
      await checkTemporalReachable(services.temporalAddress, 'default');
    } finally {
      await services.stop();
    }
    await expect(checkDatabaseReachable(services.databaseUrl)).rejects.toBeInstanceOf(
      DatabaseUnreachableError,
    );
    await expect(checkTemporalReachable(services.temporalAddress, 'default')).rejects.toBeInstanceOf(
      TemporalUnavailableError,
    );
    await services.stop(); // idempotent
  });

  it('starts only PostgreSQL when Temporal is not wanted, and uses a given TEMPORAL_ADDRESS after checking it', async () => {
    const env = await embeddedEnv('pg-only');
    const services = await startServices(loadConfig(env), log, { temporal: false });
    try {
      expect(services.temporalAddress).toBeUndefined();
      expect(fs.existsSync(path.join(env.OFP_DATA_DIR!, 'temporal'))).toBe(false);

      // A given but unreachable TEMPORAL_ADDRESS fails in one line, and the embedded PostgreSQL is stopped again.
      const port = await findFreePort();
      const withTemporal = loadConfig({
        ...env,
        OFP_PG_PORT: String(await findFreePort()),
        OFP_DATA_DIR: path.join(tmp, 'other'),
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      });
      const err = await startServices(withTemporal, log).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TemporalUnavailableError);
      expect((err as Error).message).toBe(
        `cannot reach Temporal at 127.0.0.1:${port}; check TEMPORAL_ADDRESS`,
      );
      await expect(
        checkDatabaseReachable(`postgresql://x:y@127.0.0.1:${withTemporal.pgPort}/ofp`, 1000),
      ).rejects.toThrow('ECONNREFUSED');
    } finally {
      await services.stop();
    }
  });

  it('fails in one line for an unreachable DATABASE_URL, without starting anything', async () => {
    const port = await findFreePort();
    const config = loadConfig({
      DATABASE_URL: `postgresql://ofp:secret@127.0.0.1:${port}/ofp`,
      OFP_DATA_DIR: path.join(tmp, 'unused'),
    });
    const err = await startServices(config, log).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseUnreachableError);
    expect((err as Error).message).toBe(
      `cannot reach PostgreSQL at 127.0.0.1:${port} (ECONNREFUSED); check DATABASE_URL`,
    );
    expect(fs.existsSync(path.join(tmp, 'unused'))).toBe(false);
  });

  it('fails with DataDirNotWritableError when OFP_DATA_DIR cannot be created', async () => {
    const file = path.join(tmp, 'file');
    fs.writeFileSync(file, '');
    const err = await startServices(loadConfig({ OFP_DATA_DIR: path.join(file, 'data') }), log).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataDirNotWritableError);
    expect((err as Error).message).toBe(
      `data directory ${path.join(file, 'data')} is not writable (ENOTDIR); set OFP_DATA_DIR to a writable directory`,
    );
  });
});
