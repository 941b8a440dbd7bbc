import type { Pool } from '../../../src/db/pool';

/**
 * Resolves once some backend of the pool's database waits for a lock: the moment a test has staged one writer
 * behind another's uncommitted rows.
 */
export async function untilSomeoneWaitsForALock(pool: Pool, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (rows[0].n > 0) return;
    if (Date.now() > deadline) throw new Error(`no backend waited for a lock within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
