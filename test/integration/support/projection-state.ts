/**
 * Helpers of the fault tests: a projector worker with test-chosen Temporal address and batch size, waiting for a
 * known bus to be fully projected, accounting, and a dump of the projected state that compares two databases
 * (series ids differ between databases, so rows name their series by its natural key).
 */
import { Client, Connection } from '@temporalio/client';
import type { Pool } from '../../../src/db/pool';
import { FileEventBus } from '../../../src/bus/file-bus';
import { startProjectorWorker, type RunningWorker } from '../../../src/runtime/projector-worker';
import { partitionWorkflowId, pruneScheduleId, supervisorWorkflowId } from '../../../src/workflows/messages';
import { logger } from '../../../src/logger';
import { DENSE_HOUR_EVENTS, HOUR_TILE, MINUTE_TILE } from '../../../src/core/windows';
import type { InputBasis } from '../../../src/core/snapshot';
import type { GenerateSummary } from '../../../src/generator/generate';
import type { TestStack } from './stack';

export interface WorkerOptions {
  temporalAddress: string;
  batchSize?: number;
  idleWaitMs?: number;
  /** Batches one activity may apply (the workflow default is 16). */
  batchesPerActivity?: number;
}

/** Like `stack.startWorker()`, with the Temporal server and the partition batch size chosen by the test. */
export async function startWorkerFor(stack: TestStack, o: WorkerOptions): Promise<RunningWorker> {
  const log = logger.child({ test: stack.idPrefix });
  log.level = process.env.OFP_TEST_LOG_LEVEL ?? 'warn';
  return startProjectorWorker({
    databaseUrl: stack.databaseUrl,
    temporalAddress: o.temporalAddress,
    namespace: 'default',
    taskQueue: stack.taskQueue,
    policy: stack.policy,
    parser: stack.parser,
    bus: new FileEventBus(stack.busRoot),
    log,
    idPrefix: stack.idPrefix,
    supervisor: {
      discoveryIntervalMs: 500,
      idleWaitMs: o.idleWaitMs ?? 3000,
      batchSize: o.batchSize,
      batchesPerActivity: o.batchesPerActivity,
    },
  });
}

/** `stream/partition` → records on the bus, from a generator summary. */
export function busEnds(summary: GenerateSummary): Map<string, number> {
  const out = new Map<string, number>();
  for (const [stream, s] of Object.entries(summary.streams)) {
    for (const [p, n] of Object.entries(s.partitions)) out.set(`${stream}/${p}`, n);
  }
  return out;
}

export interface Progress {
  /** Sum of next_offset over the expected partitions. */
  done: number;
  total: number;
  rows: { stream: string; partition: number; next_offset: number; state: string }[];
}

export async function progress(pool: Pool, ends: Map<string, number>): Promise<Progress> {
  const { rows } = await pool.query(
    `SELECT stream, partition, next_offset, state FROM checkpoints ORDER BY stream, partition`,
  );
  let done = 0;
  for (const r of rows) if (ends.has(`${r.stream}/${r.partition}`)) done += r.next_offset;
  return { done, total: [...ends.values()].reduce((a, b) => a + b, 0), rows };
}

/** Waits until every expected partition has a checkpoint at its bus end. */
export async function waitProjected(
  pool: Pool,
  ends: Map<string, number>,
  timeoutMs: number,
  describe: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await progress(pool, ends);
    const at = new Map(p.rows.map((r) => [`${r.stream}/${r.partition}`, r.next_offset]));
    if ([...ends].every(([k, n]) => at.get(k) === n)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `projection incomplete after ${timeoutMs} ms: ${JSON.stringify(p.rows)} of ${JSON.stringify([...ends])} ${describe()}`,
      );
    }
    await sleep(150);
  }
}

export interface Accounting {
  read: number;
  applied: number;
  duplicates: number;
  anomalies: number;
  irrelevant: number;
  quarantined: number;
  appliedRows: number;
  quarantineRows: number;
}

export async function accounting(pool: Pool): Promise<Accounting> {
  const { rows } = await pool.query(
    `SELECT sum(records_read)::int AS read, sum(applied)::int AS applied, sum(duplicates)::int AS duplicates,
            sum(anomalies)::int AS anomalies, sum(irrelevant)::int AS irrelevant, sum(quarantined)::int AS quarantined,
            (SELECT count(*)::int FROM applied_events) AS "appliedRows",
            (SELECT count(*)::int FROM quarantine) AS "quarantineRows"
       FROM checkpoints`,
  );
  return rows[0] as Accounting;
}

/** Every projected table as sorted lines; numerics compared by value (trailing zeros trimmed). */
export interface ProjectionDump {
  contributions: string[];
  tiles: string[];
  watermarks: string[];
  appliedEvents: string[];
  quarantine: string[];
  checkpoints: string[];
}

/**
 * Reads the projected state. `positions: false` leaves out bus offsets (contributions' offset, tiles' last_offset,
 * applied_events' offset), for comparing two buses that hold the same events at different offsets.
 */
export async function dumpProjection(pool: Pool, o: { positions?: boolean } = {}): Promise<ProjectionDump> {
  const pos = o.positions ?? true;
  const lines = async (sql: string) =>
    (await pool.query({ text: sql, rowMode: 'array' })).rows.map((r) => JSON.stringify(r));
  const series = `s.run_key, s.group_name, s.group_version, s.key_id, s.field`;
  return {
    contributions: await lines(
      `SELECT ${series}, c.ts_us, c.stream, c.partition, ${pos ? 'c."offset"' : 'NULL'}, trim_scale(c.value)::text
         FROM contributions c JOIN series s ON s.id = c.series_id ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10`,
    ),
    tiles: await lines(
      `SELECT ${series}, t.granularity_us, t.start_us, t.count, trim_scale(t.sum)::text, trim_scale(t.min)::text,
              trim_scale(t.max)::text, t.max_ts_us
         FROM tiles t JOIN series s ON s.id = t.series_id ORDER BY 1, 2, 3, 4, 5, 6, 7`,
    ),
    watermarks: await lines(
      `SELECT run_key, stream, partition, max_ts_us FROM partition_watermarks ORDER BY 1, 2, 3`,
    ),
    appliedEvents: await lines(
      `SELECT run_key, event_type, event_id, payload_hash, stream, partition, ${pos ? '"offset"' : 'NULL'}, ts_us
         FROM applied_events ORDER BY 1, 2, 3`,
    ),
    quarantine: pos
      ? await lines(
          `SELECT stream, partition, "offset", class, reason, resolution FROM quarantine ORDER BY 1, 2, 3`,
        )
      : await lines(`SELECT stream, partition, class, reason FROM quarantine ORDER BY 1, 2, 3, 4`),
    checkpoints: pos
      ? await lines(
          `SELECT stream, partition, next_offset, state, records_read, applied, duplicates, anomalies, irrelevant, quarantined
             FROM checkpoints ORDER BY 1, 2`,
        )
      : [],
  };
}

/** The projection's basis now: every stream's partitions at their checkpoints, as an answer names them. */
export async function checkpointBasis(pool: Pool, offsetKind: string): Promise<InputBasis[]> {
  const { rows } = await pool.query(
    `SELECT stream, partition, next_offset FROM checkpoints ORDER BY stream, partition`,
  );
  return [...new Set(rows.map((r) => r.stream as string))].map((stream) => ({
    stream,
    offsetKind,
    offsets: rows
      .filter((r) => r.stream === stream)
      .map((r) => ({ partition: r.partition, offset: String(r.next_offset) })),
  }));
}

/**
 * The tile model's invariant (core/windows.ts), checked against the contributions themselves: every hour with events
 * has an hour tile that aggregates them, and minute tiles exist exactly for the dense hours and aggregate theirs.
 * Returns the differing rows (none when it holds) and how many hours are dense and sparse, so that a test can require
 * both kinds to be present.
 */
export async function tileModelCheck(
  pool: Pool,
): Promise<{ violations: string[]; denseHours: number; sparseHours: number }> {
  const params = [HOUR_TILE, MINUTE_TILE, DENSE_HOUR_EVENTS];
  const { rows } = await pool.query(
    `WITH eh AS (
       SELECT series_id, ts_us - ts_us % $1 AS start_us, count(*) AS n, sum(value) AS sm, min(value) AS mn,
              max(value) AS mx, max(ts_us) AS mt
         FROM contributions GROUP BY 1, 2),
     em AS (
       SELECT c.series_id, c.ts_us - c.ts_us % $2 AS start_us, count(*) AS n, sum(c.value) AS sm, min(c.value) AS mn,
              max(c.value) AS mx, max(c.ts_us) AS mt
         FROM contributions c JOIN eh ON eh.series_id = c.series_id AND eh.start_us = c.ts_us - c.ts_us % $1
        WHERE eh.n > $3 GROUP BY 1, 2),
     expected AS (
       SELECT series_id, $1::bigint AS g, start_us, n, sm, mn, mx, mt FROM eh
       UNION ALL SELECT series_id, $2::bigint, start_us, n, sm, mn, mx, mt FROM em),
     actual AS (SELECT series_id, granularity_us, start_us, count, sum, min, max, max_ts_us FROM tiles)
     SELECT 'missing or different' AS what, * FROM (SELECT * FROM expected EXCEPT SELECT * FROM actual) m
     UNION ALL
     SELECT 'unexpected', * FROM (SELECT * FROM actual EXCEPT SELECT * FROM expected) u
     LIMIT 10`,
    params,
  );
  const { rows: kinds } = await pool.query(
    `SELECT count(*) FILTER (WHERE count > $2)::int AS dense, count(*) FILTER (WHERE count <= $2)::int AS sparse
       FROM tiles WHERE granularity_us = $1`,
    [HOUR_TILE, DENSE_HOUR_EVENTS],
  );
  return {
    violations: rows.map((r) => JSON.stringify(r)),
    denseHours: kinds[0].dense,
    sparseHours: kinds[0].sparse,
  };
}

/** Per table: row counts and the first few rows that differ (empty when the dumps are equal). */
export function diffDumps(
  actual: ProjectionDump,
  expected: ProjectionDump,
  max = 5,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const table of Object.keys(expected) as (keyof ProjectionDump)[]) {
    const a = actual[table];
    const e = expected[table];
    if (a.length === e.length && a.every((x, i) => x === e[i])) continue;
    const eSet = new Set(e);
    const aSet = new Set(a);
    out[table] = {
      rows: { actual: a.length, expected: e.length },
      unexpected: a.filter((x) => !eSet.has(x)).slice(0, max),
      missing: e.filter((x) => !aSet.has(x)).slice(0, max),
    };
  }
  return out;
}

export function dumpSizes(d: ProjectionDump): Record<string, number> {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, (v as string[]).length]));
}

/**
 * Terminates the supervisor and partition workflows of a test and deletes its retention Schedule, so that nothing
 * of it stays scheduled on a shared server. Call it after the test's workers have stopped.
 */
export async function cleanupWorkflows(
  address: string,
  idPrefix: string,
  partitions: Iterable<string>,
): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const ids = [
      supervisorWorkflowId(idPrefix),
      ...[...partitions].map((k) => {
        const at = k.lastIndexOf('/');
        return partitionWorkflowId(k.slice(0, at), Number(k.slice(at + 1)), idPrefix);
      }),
    ];
    for (const id of ids)
      await client.workflow
        .getHandle(id)
        .terminate('test finished')
        .catch(() => undefined);
    await client.schedule
      .getHandle(pruneScheduleId(idPrefix))
      .delete()
      .catch(() => undefined);
  } finally {
    await connection.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
