/**
 * The gateway's pool opens its connections before the first request and keeps them: a burst must not pay for logins
 * and cold backends. A database that is down at start is reported, not fatal.
 */
import net from 'node:net';
import { createPool, warmPool, type Pool } from '../../src/db/pool';
import { freshDatabase } from './support/services';

jest.setTimeout(60_000);

let url: string;
const pools: Pool[] = [];

beforeAll(async () => {
  url = await freshDatabase();
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

async function backends(name: string): Promise<number> {
  const probe = createPool(url, { max: 1 });
  try {
    const { rows } = await probe.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`,
      [name],
    );
    return rows[0].n;
  } finally {
    await probe.end();
  }
}

test('warmPool opens every connection of the pool and returns them idle', async () => {
  const pool = createPool(url, { max: 4, applicationName: 'ofp-warm-test', keepIdle: true });
  pools.push(pool);
  expect(await warmPool(pool, 4)).toBeUndefined();
  expect(pool.totalCount).toBe(4);
  expect(pool.idleCount).toBe(4);
  expect(await backends('ofp-warm-test')).toBe(4);
});

test('a kept pool holds its idle connections past the idle timeout; an ordinary pool closes them', async () => {
  const kept = createPool(url, {
    max: 3,
    applicationName: 'ofp-kept',
    keepIdle: true,
    idleTimeoutMillis: 100,
  });
  const plain = createPool(url, { max: 3, applicationName: 'ofp-plain', idleTimeoutMillis: 100 });
  pools.push(kept, plain);
  await warmPool(kept, 3);
  await warmPool(plain, 3);
  await new Promise((r) => setTimeout(r, 1000));
  expect(kept.totalCount).toBe(3);
  expect(await backends('ofp-kept')).toBe(3);
  expect(plain.totalCount).toBe(0);
});

test('a kept pool whose backends are terminated drops them and answers again from new ones', async () => {
  const pool = createPool(url, { max: 2, applicationName: 'ofp-kept-terminated', keepIdle: true });
  pools.push(pool);
  await warmPool(pool, 2);
  const admin = createPool(url, { max: 1 });
  try {
    const { rows } = await admin.query(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1`,
      ['ofp-kept-terminated'],
    );
    expect(rows[0].n).toBe(2);
  } finally {
    await admin.end();
  }
  // Idle clients learn of the termination from the server's message: the pool drops them once it arrives.
  const deadline = Date.now() + 5000;
  while (pool.totalCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(pool.totalCount).toBe(0);
  const { rows } = await pool.query('SELECT 1 AS one');
  expect(rows[0].one).toBe(1);
  expect(await backends('ofp-kept-terminated')).toBeGreaterThanOrEqual(1);
});

test('warmPool against an unreachable database reports the error instead of throwing', async () => {
  // A port nobody listens on: bind, read the port, close.
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  const dead = new URL(url);
  dead.port = String(port);
  const pool = createPool(dead.toString(), { max: 2 });
  pools.push(pool);
  const err = await warmPool(pool, 2);
  // (Not toBeInstanceOf(Error): node-postgres' errors come from another realm than the test's.)
  expect(err?.message).toMatch(/ECONNREFUSED|connect/);
  expect(pool.totalCount).toBe(0);
});
