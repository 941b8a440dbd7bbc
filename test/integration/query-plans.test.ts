/**
 * The projector's per-batch lookups must cost what the batch costs, not what the tables hold: every candidate is one
 * index probe into the dedupe ledger and every series key one probe into `series`, however many rows those tables
 * have. Checked on PostgreSQL's own plans over tables large enough that a plain join is planned as a scan of the
 * whole table (the control below shows that it is).
 */
import {
  APPLIED_COPIES_SQL,
  SERIES_LOOKUP_SQL,
  SERIES_UPSERT_SQL,
  appliedCopiesParams,
  seriesKeyParams,
} from '../../src/db/projection-store';
import { READ_SQL } from '../../src/serving/read-statement';
import { createPool, type Pool } from '../../src/db/pool';
import { freshDatabase } from './support/services';

jest.setTimeout(120_000);

const ROWS = 50_000;
const BATCH = 2_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

/** How the plan of `sql` (with `params`) reads `table`: the node types that name it. */
async function accessTo(pool: Pool, table: string, sql: string, params: unknown[]): Promise<string[]> {
  const { rows } = await pool.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
  const plan = (rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0].Plan;
  return nodesOf(plan)
    .filter((n) => n['Relation Name'] === table)
    .map((n) => n['Node Type']);
}

let pool: Pool;
const keys: string[][] = [[], [], []];
let seriesParams: string[] = [];

beforeAll(async () => {
  pool = createPool(await freshDatabase(), { max: 2 });
  await pool.query(
    `INSERT INTO applied_events (run_key, event_type, event_id, payload_hash, stream, partition, "offset", ts_us)
       SELECT md5('run' || i % 3) || md5('r'), 'e' || i % 4, md5(i::text), md5(i::text) || md5(i::text), 's', 0, i, i
         FROM generate_series(1, $1::int) AS i`,
    [ROWS],
  );
  await pool.query(
    `INSERT INTO series (run_key, group_name, group_version, key_id, field)
       SELECT md5('run' || i % 3) || md5('r'), 'g' || i % 5, 'v1', i::text, 'amount' FROM generate_series(1, $1::int) AS i`,
    [ROWS],
  );
  await pool.query('ANALYZE applied_events');
  await pool.query('ANALYZE series');
  const ap = await pool.query(
    `SELECT run_key, event_type, event_id FROM applied_events ORDER BY event_id LIMIT ${BATCH}`,
  );
  for (const r of ap.rows) [r.run_key, r.event_type, r.event_id].forEach((v, i) => keys[i].push(v));
  const se = await pool.query(
    `SELECT run_key, group_name, group_version, key_id, field FROM series ORDER BY key_id LIMIT ${BATCH}`,
  );
  seriesParams = seriesKeyParams(
    se.rows.map((r) => [r.run_key, r.group_name, r.group_version, r.key_id, r.field]),
  );
});

afterAll(async () => {
  await pool?.end();
});

test('control: over these tables a plain join of a batch of keys is planned as a scan of the whole ledger', async () => {
  const plainJoin = `SELECT a.* FROM applied_events a
      JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(run_key, event_type, event_id)
        ON a.run_key = k.run_key AND a.event_type = k.event_type AND a.event_id = k.event_id`;
  expect(await accessTo(pool, 'applied_events', plainJoin, keys)).toEqual(['Seq Scan']);
});

test('the applied copies of a batch are read by one primary-key probe per candidate', async () => {
  const params = appliedCopiesParams(
    keys[0].map((runKey, i) => ({ runKey, eventType: keys[1][i], eventId: keys[2][i] })),
  );
  const access = await accessTo(pool, 'applied_events', APPLIED_COPIES_SQL, params);
  expect(access.length).toBeGreaterThan(0);
  for (const a of access) expect(a).toMatch(/^Index (Only )?Scan$/);
  const { rows } = await pool.query(APPLIED_COPIES_SQL, params);
  expect(rows).toHaveLength(BATCH);
});

test('the series lookup reads by one unique-index probe per key', async () => {
  const access = await accessTo(pool, 'series', SERIES_LOOKUP_SQL, seriesParams);
  expect(access.length).toBeGreaterThan(0);
  for (const a of access) expect(a).toMatch(/^Index (Only )?Scan$/);
  const { rows } = await pool.query(SERIES_LOOKUP_SQL, seriesParams);
  expect(rows).toHaveLength(BATCH);
});

test('the fallback upsert finds existing series by one unique-index probe per key, and creates none twice', async () => {
  const access = await accessTo(pool, 'series', SERIES_UPSERT_SQL, seriesParams);
  // The INSERT itself names the table too (ModifyTable); every read of it must be an index probe.
  const reads = access.filter((a) => a !== 'ModifyTable');
  expect(reads.length).toBeGreaterThan(0);
  for (const a of reads) expect(a).toMatch(/^Index (Only )?Scan$/);
  const { rows } = await pool.query(SERIES_UPSERT_SQL, seriesParams);
  expect(rows).toHaveLength(BATCH);
  const { rows: count } = await pool.query('SELECT count(*)::int AS n FROM series');
  expect(count[0].n).toBe(ROWS);
});

test("the gateway's read probes the quarantine per (run, stream), however many records it holds", async () => {
  await pool.query(
    `INSERT INTO quarantine (stream, partition, "offset", class, reason, raw, run_key)
       SELECT 's' || i % 3, 0, i, 'payload_invalid', 'r', '{}', md5('run' || i % 500)
         FROM generate_series(1, $1::int) AS i`,
    [ROWS],
  );
  await pool.query('ANALYZE quarantine');
  // The gateway's connections plan the read once, generically (plan_cache_mode=force_generic_plan).
  const { rows } = await pool.query(`EXPLAIN (FORMAT JSON, GENERIC_PLAN) ${READ_SQL}`);
  const plan = (rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0].Plan;
  const reads = nodesOf(plan).filter((n) => n['Relation Name'] === 'quarantine');
  expect(reads.length).toBeGreaterThan(0);
  for (const r of reads) {
    expect(r['Node Type']).toMatch(/^Index (Only )?Scan$/);
    expect(r['Index Cond']).toMatch(/run_key.*stream/);
  }
});
