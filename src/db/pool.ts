/**
 * node-postgres pools. BIGINT arrives as text by default; we parse it to numbers (offsets and microsecond timestamps
 * stay far below 2^53) and keep NUMERIC as exact text.
 */
import pg from 'pg';

const INT8_OID = 20;
pg.types.setTypeParser(INT8_OID, (v: string) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** Creates a pool. `max` defaults to 10 connections; the application name shows in pg_stat_activity. */
export function createPool(
  url: string,
  options: {
    max?: number;
    applicationName?: string;
    /** Server settings for every connection (`-c name=value`). */ serverOptions?: string;
    /** Client-side bound on one query (pg `query_timeout`); none by default. */ queryTimeoutMillis?: number;
    /**
     * Keep every connection once opened instead of closing those idle for 10 s. A reopened connection costs a login,
     * a new backend and cold catalog caches (tens of milliseconds) exactly when a burst needs it. Default false.
     */
    keepIdle?: boolean;
    /** How long a connection may sit idle before it is closed (unless kept). Default 10 000 ms (pg's default). */
    idleTimeoutMillis?: number;
  } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'ofp',
    connectionTimeoutMillis: 5000,
    ...(options.keepIdle ? { min: options.max ?? 10 } : {}),
    ...(options.idleTimeoutMillis !== undefined ? { idleTimeoutMillis: options.idleTimeoutMillis } : {}),
    ...(options.serverOptions ? { options: options.serverOptions } : {}),
    ...(options.queryTimeoutMillis ? { query_timeout: options.queryTimeoutMillis } : {}),
  });
  // An idle client that loses its connection must not crash the process; the next checkout reconnects.
  pool.on('error', () => undefined);
  // Nor may a checked-out one: pg-pool listens for errors only on idle clients, and a client whose backend is
  // terminated (pg_terminate_backend, a restart, a network cut) emits 'error' besides failing its active query, or
  // with none running (between the statements of a transaction). Unhandled, that event kills the process. The
  // error still reaches the caller through the failed query (or the next one: the client is no longer queryable),
  // and release() drops such a client from the pool.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * Opens `size` connections and returns them to the pool, so that the first burst of requests does not pay for
 * logins. Best effort: a database that is down now is reported, not fatal (the pool connects later on demand).
 */
export async function warmPool(pool: pg.Pool, size: number): Promise<Error | undefined> {
  const opened = await Promise.allSettled(Array.from({ length: size }, () => pool.connect()));
  for (const o of opened) if (o.status === 'fulfilled') o.value.release();
  const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  return failed ? (failed.reason as Error) : undefined;
}

/** Runs `fn` in a transaction on one client; rolls back on any error. */
export async function inTransaction<T>(
  pool: pg.Pool,
  begin: string,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
