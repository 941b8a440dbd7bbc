/**
 * Writers of one series-hour, staged one behind the other on real PostgreSQL: whichever batch takes the hour past
 * DENSE_HOUR_EVENTS, the minute tiles end up holding every event of the hour exactly once (src/core/windows.ts).
 */
import { createPool, type Pool, type PoolClient } from '../../src/db/pool';
import { writeContributionsAndTiles, type ContributionColumns } from '../../src/db/projection-store';
import { DENSE_HOUR_EVENTS, HOUR_TILE } from '../../src/core/windows';
import { floorTo } from '../../src/core/time';
import { freshDatabase } from './support/services';
import { untilSomeoneWaitsForALock } from './support/lock-waits';
import { tileModelCheck } from './support/projection-state';

jest.setTimeout(60_000);

const HOUR = floorTo(1_770_000_000_000_000, HOUR_TILE);
let pool: Pool;
let nextSeries = 1;
let nextOffset = 0;

beforeAll(async () => {
  pool = createPool(await freshDatabase(), { max: 6 });
});

afterAll(async () => {
  await pool?.end();
});

/** `n` events of `series`, one every 7 s from `startSecond` into the hour, with amounts 1.25, 2.25, ... */
function events(series: number, n: number, startSecond: number): ContributionColumns {
  const c: ContributionColumns = { series: [], ts: [], stream: 's', partition: 0, offset: [], value: [] };
  for (let i = 0; i < n; i++) {
    c.series.push(series);
    c.ts.push(HOUR + (startSecond + 7 * i) * 1_000_000);
    c.offset.push(nextOffset++);
    c.value.push(`${i + 1}.25`);
  }
  return c;
}

async function begin(): Promise<PoolClient> {
  const client = await pool.connect();
  await client.query('BEGIN');
  return client;
}

async function commit(client: PoolClient): Promise<void> {
  await client.query('COMMIT');
  client.release();
}

/**
 * `first` writes and holds its hour tiles, uncommitted; `second` writes behind it and waits for those rows; then
 * `first` commits, and `second` finishes and commits.
 */
async function writeBehind(first: ContributionColumns, second: ContributionColumns): Promise<void> {
  const a = await begin();
  await writeContributionsAndTiles(a, first);
  const b = await begin();
  const waiting = writeContributionsAndTiles(b, second).then(() => commit(b));
  await untilSomeoneWaitsForALock(pool);
  await commit(a);
  await waiting;
}

async function minuteCount(series: number): Promise<number> {
  const { rows } = await pool.query(
    `SELECT coalesce(sum(count), 0)::int AS n FROM tiles WHERE series_id = $1 AND granularity_us < $2`,
    [series, HOUR_TILE],
  );
  return rows[0].n;
}

test('an hour that passes the threshold across batches gets minute tiles of all its events', async () => {
  const series = nextSeries++;
  for (const [n, start] of [
    [3, 0],
    [DENSE_HOUR_EVENTS - 3, 100],
    [1, 900],
    [4, 1200],
  ]) {
    const t = await begin();
    await writeContributionsAndTiles(t, events(series, n, start));
    await commit(t);
  }
  expect(await minuteCount(series)).toBe(DENSE_HOUR_EVENTS + 5);
  expect((await tileModelCheck(pool)).violations).toEqual([]);
});

test('the writer that crosses sees the events of the writer it waited for', async () => {
  const series = nextSeries++;
  // The first writer stays below the threshold; the second takes the hour past it once it gets the hour tile.
  await writeBehind(events(series, DENSE_HOUR_EVENTS - 2, 0), events(series, 5, 600));
  expect(await minuteCount(series)).toBe(DENSE_HOUR_EVENTS + 3);
  expect((await tileModelCheck(pool)).violations).toEqual([]);
});

test('the writer that waited behind the crossing one adds only its own events', async () => {
  const series = nextSeries++;
  await writeBehind(events(series, DENSE_HOUR_EVENTS + 1, 0), events(series, 3, 1800));
  expect(await minuteCount(series)).toBe(DENSE_HOUR_EVENTS + 4);
  expect((await tileModelCheck(pool)).violations).toEqual([]);
});

test('a sparse hour has no minute tiles', async () => {
  const series = nextSeries++;
  const t = await begin();
  await writeContributionsAndTiles(t, events(series, DENSE_HOUR_EVENTS, 0));
  await commit(t);
  expect(await minuteCount(series)).toBe(0);
  expect((await tileModelCheck(pool)).violations).toEqual([]);
});
