/**
 * Series ids: every (run, group, version, key, field) gets exactly one id, whoever asks first, and asking again
 * (from the cache, from the table, or while another writer creates the same series) returns that id.
 */
import { SeriesResolver } from '../../src/db/projection-store';
import { createPool, type Pool } from '../../src/db/pool';
import { freshDatabase } from './support/services';
import { untilSomeoneWaitsForALock } from './support/lock-waits';

jest.setTimeout(60_000);

type Key = [string, string, string, string, string];

const RUN = 'a'.repeat(64);

function keysOf(ids: string[], field = 'amount'): Map<string, Key> {
  return new Map(
    ids.map((id) => {
      const parts: Key = [RUN, 'merchant_velocity', 'v1', id, field];
      return [SeriesResolver.keyOf(...parts), parts];
    }),
  );
}

async function seriesCount(pool: Pool): Promise<number> {
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM series');
  return rows[0].n;
}

let pool: Pool;

beforeAll(async () => {
  pool = createPool(await freshDatabase(), { max: 4 });
});

afterAll(async () => {
  await pool?.end();
});

test('missing series are created once and get one id each', async () => {
  const keys = keysOf(['1', '2', '3']);
  const ids = await new SeriesResolver(pool).resolve(keys);
  expect([...ids.keys()].sort()).toEqual([...keys.keys()].sort());
  expect(new Set(ids.values()).size).toBe(3);
  expect(await seriesCount(pool)).toBe(3);
});

test('a resolver that has never seen a series finds the id another one created', async () => {
  const keys = keysOf(['10', '11']);
  const first = await new SeriesResolver(pool).resolve(keys);
  const before = await seriesCount(pool);
  const second = await new SeriesResolver(pool).resolve(new Map([...keys, ...keysOf(['12'])]));
  for (const [k, id] of first) expect(second.get(k)).toBe(id);
  expect(second.size).toBe(3);
  expect(await seriesCount(pool)).toBe(before + 1);
});

test('a resolver that found only new series, and so inserts without looking up, takes one made elsewhere', async () => {
  const resolver = new SeriesResolver(pool);
  // Its lookup finds none of these: from now on it inserts uncached keys straight away.
  await resolver.resolve(keysOf(['30', '31']));
  const elsewhere = await new SeriesResolver(pool).resolve(keysOf(['32']));
  const before = await seriesCount(pool);
  // '32' exists but is not in this resolver's cache: its insert meets the unique index and it falls back.
  const ids = await resolver.resolve(keysOf(['32', '33']));
  for (const [k, id] of elsewhere) expect(ids.get(k)).toBe(id);
  expect(ids.size).toBe(2);
  expect(await seriesCount(pool)).toBe(before + 1);
  // And the next uncached series that already exists is found as well.
  const more = await new SeriesResolver(pool).resolve(keysOf(['34']));
  const again = await resolver.resolve(keysOf(['34']));
  expect([...again.values()]).toEqual([...more.values()]);
  expect(await seriesCount(pool)).toBe(before + 2);
});

test('a series created by another writer between lookup and insert is taken, not duplicated', async () => {
  const [[key, parts]] = [...keysOf(['20'])];
  const other = await pool.connect();
  try {
    // The other writer's insert is uncommitted while the resolver looks up (and misses) and inserts (and waits).
    await other.query('BEGIN');
    const { rows } = await other.query(
      `INSERT INTO series (run_key, group_name, group_version, key_id, field) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      parts,
    );
    const resolving = new SeriesResolver(pool).resolve(new Map([[key, parts]]));
    // Its lookup missed (the row is uncommitted) and its insert now waits on the other writer's unique entry.
    await untilSomeoneWaitsForALock(pool);
    await other.query('COMMIT');
    const ids = await resolving;
    expect(ids.get(key)).toBe(rows[0].id);
  } finally {
    other.release();
  }
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM series WHERE key_id = '20'`);
  expect(rows[0].n).toBe(1);
});

test('two resolvers creating the same new series at once agree on every id', async () => {
  const keys = keysOf(Array.from({ length: 500 }, (_, i) => String(1000 + i)));
  const [a, b] = await Promise.all([
    new SeriesResolver(pool).resolve(keys),
    new SeriesResolver(pool).resolve(keys),
  ]);
  expect(a.size).toBe(500);
  for (const [k, id] of a) expect(b.get(k)).toBe(id);
  const { rows } = await pool.query(
    `SELECT count(*)::int AS n FROM series WHERE key_id::int BETWEEN 1000 AND 1499`,
  );
  expect(rows[0].n).toBe(500);
});

test('a small cache that overflows again and again keeps every id right and creates no series twice', async () => {
  const resolver = new SeriesResolver(pool, { maxEntries: 6 });
  const busy = keysOf(['busy-merchant']);
  const first = await resolver.resolve(busy);
  const before = await seriesCount(pool);
  for (let batch = 0; batch < 20; batch++) {
    const flows = keysOf([0, 1, 2, 3, 4].map((i) => `flow-${batch}-${i}`));
    const cached = resolver.stats.cached;
    const ids = await resolver.resolve(new Map([...busy, ...flows]));
    for (const [k, id] of first) expect(ids.get(k)).toBe(id);
    expect(ids.size).toBe(6);
    // The busy key is in use in every batch, so the cache keeps it however often it overflows.
    expect(resolver.stats.cached - cached).toBe(1);
  }
  expect(resolver.stats.conflicts).toBe(0);
  expect(await seriesCount(pool)).toBe(before + 100);
  // Ids of series long gone from the cache are found again, not created again.
  const early = await resolver.resolve(keysOf(['flow-0-0', 'flow-0-1']));
  const fresh = await new SeriesResolver(pool).resolve(keysOf(['flow-0-0', 'flow-0-1']));
  expect([...early.values()].sort()).toEqual([...fresh.values()].sort());
  expect(await seriesCount(pool)).toBe(before + 100);
});

test('recurring keys are looked up and one-off keys inserted straight away, group by group, without conflicts', async () => {
  const resolver = new SeriesResolver(pool, { maxEntries: 4 });
  const accountKeys = (ids: string[]) =>
    new Map(
      ids.map((id) => {
        const parts: Key = [RUN, 'account_velocity', 'v1', id, 'amount'];
        return [SeriesResolver.keyOf(...parts), parts];
      }),
    );
  const batch = (i: number) =>
    new Map([
      ...keysOf([`flow-once-${i}-a`, `flow-once-${i}-b`, `flow-once-${i}-c`]),
      ...accountKeys([`acct-${i % 10}`, `acct-${(i + 5) % 10}`]),
    ]);
  // Warm-up: every account is created, and each group settles on its way.
  for (let i = 0; i < 15; i++) await resolver.resolve(batch(i));
  const before = { ...resolver.stats };
  const ids = new Map<string, number>();
  for (let i = 15; i < 45; i++) for (const [k, id] of await resolver.resolve(batch(i))) ids.set(k, id);
  // The tiny cache forgets the accounts between batches: both are looked up, and found, every time; no flow is.
  expect(resolver.stats.lookedUp - before.lookedUp).toBe(30 * 2);
  expect(resolver.stats.found - before.found).toBe(30 * 2);
  expect(resolver.stats.inserted - before.inserted).toBe(30 * 3);
  expect(resolver.stats.conflicts - before.conflicts).toBe(0);
  const fresh = await new SeriesResolver(pool).resolve(accountKeys(['acct-0', 'acct-7']));
  for (const [k, id] of fresh) expect(ids.get(k)).toBe(id);
});
