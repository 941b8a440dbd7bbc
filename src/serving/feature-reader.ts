/**
 * The read path of `features` (SPEC 5): one REPEATABLE READ transaction reads the basis, the run's horizon, the
 * quarantine flag and every window of every (group, key) in bulk, so values and basis name the same inputs.
 */
import { finishAggregate, type Partial } from '../core/aggregate';
import { Decimal } from '../core/decimal';
import { runKeyOf } from '../core/pins';
import { streamsOf, type FeatureGroup, type FeaturePolicy } from '../core/policy';
import {
  computeFreshness,
  entryStatus,
  type FeatureEntry,
  type InputBasis,
  type NamedFeatureValue,
  type SnapshotContent,
} from '../core/snapshot';
import { floorTo, formatTimestamp, type Micros } from '../core/time';
import { RECENCY_GRANULARITY, decomposeRange, windowRange } from '../core/windows';
import type { Pool, PoolClient } from '../db/pool';
import { FeaturesRequestError, invalidRequest, unavailable } from './errors';
import { computePosture, type PartitionPosture, type PostureModel } from './posture';
import type { FeatureRequest } from './request';

export interface ReadResult {
  content: SnapshotContent;
  posture: PostureModel;
}

interface CheckpointRow {
  stream: string;
  partition: number;
  next_offset: number;
  state: 'RUNNING' | 'PAUSED' | 'STALLED';
  end_offset: number;
  end_ts_us: number | null;
  last_applied_ts_us: number | null;
}

/** The series a (group, key) pair reads for one field ('' when the group reads no field). */
interface Entry {
  group: FeatureGroup;
  keyType: string;
  keyId: string;
}

function fieldFor(group: FeatureGroup, field: string | undefined): string {
  return field ?? group.fields[0] ?? '';
}

export class FeatureReader {
  constructor(
    private readonly pool: Pool,
    private readonly policy: FeaturePolicy,
    private readonly offsetKind: string,
  ) {}

  async read(req: FeatureRequest): Promise<ReadResult> {
    if (req.minBasis.length > 0) await this.awaitMinBasis(req);
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(`database unreachable: ${(err as Error).message}`, err);
    }
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await this.readInTransaction(client, req);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (err instanceof FeaturesRequestError) throw err;
      throw unavailable(`basis unreadable: ${(err as Error).message}`, err);
    } finally {
      client.release();
    }
  }

  /** Read-your-event (SPEC 5.7): wait until every named partition reached its offset, or fail retryably. */
  private async awaitMinBasis(req: FeatureRequest): Promise<void> {
    const deadline = Date.now() + req.waitMs;
    const streams = req.minBasis.map((b) => b.stream);
    const partitions = req.minBasis.map((b) => b.partition);
    for (;;) {
      const { rows } = await this.pool.query(
        `SELECT m.stream, m.partition, m.want, COALESCE(c.next_offset, 0) AS have
           FROM unnest($1::text[], $2::int[], $3::bigint[]) AS m(stream, partition, want)
           LEFT JOIN checkpoints c ON c.stream = m.stream AND c.partition = m.partition
          WHERE COALESCE(c.next_offset, 0) < m.want`,
        [streams, partitions, req.minBasis.map((b) => b.offset)],
      );
      if (rows.length === 0) return;
      if (Date.now() >= deadline) {
        const lag = rows.map((r) => `${r.stream}/${r.partition} at ${r.have}, needs ${r.want}`).join('; ');
        throw unavailable(`minimum basis not reached within ${req.waitMs} ms: ${lag}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(10, Math.max(1, deadline - Date.now()))));
    }
  }

  private async readInTransaction(client: PoolClient, req: FeatureRequest): Promise<ReadResult> {
    const policy = this.policy;
    const runKey = runKeyOf(req.pins);
    const streams = streamsOf(req.groups);

    // One client runs one query at a time (pg queues concurrent ones, deprecated and gone in pg 9): await in turn.
    const cps = await client.query<CheckpointRow>(
      `SELECT stream, partition, next_offset, state, end_offset, end_ts_us, last_applied_ts_us
         FROM checkpoints WHERE stream = ANY($1::text[]) ORDER BY stream, partition`,
      [streams],
    );
    const run = await client.query(
      `SELECT count(*)::int AS n, max(max_ts_us) FILTER (WHERE stream = ANY($2::text[])) AS h
         FROM partition_watermarks WHERE run_key = $1`,
      [runKey, streams],
    );
    const quarantine = await client.query(
      `SELECT EXISTS (SELECT 1 FROM quarantine WHERE run_key = $1 AND stream = ANY($2::text[])) AS present`,
      [runKey, streams],
    );
    if (run.rows[0].n === 0) {
      throw new FeaturesRequestError('NOT_FOUND', 'no event with these six pins has been applied on any stream');
    }
    const h: Micros | null = run.rows[0].h === null ? null : Number(run.rows[0].h);
    if (h !== null && req.asOf < h - policy.horizonMicros) {
      throw invalidRequest(
        `RETENTION_BOUNDARY_EXCEEDED: asOf ${req.asOfUtc} is before the earliest servable instant ${formatTimestamp(h - policy.horizonMicros)}`,
      );
    }

    const basis: InputBasis[] = streams.map((stream) => ({
      stream,
      offsetKind: this.offsetKind,
      offsets: cps.rows.filter((r) => r.stream === stream).map((r) => ({ partition: r.partition, offset: String(r.next_offset) })),
    }));
    const missingBasis = basis.find((b) => b.offsets.length === 0);
    if (missingBasis) {
      throw new FeaturesRequestError('MISSING_PROVENANCE', `no checkpoint for any partition of ${missingBasis.stream}`);
    }

    const entries: Entry[] = [];
    for (const group of req.groups) {
      for (const key of req.keys) if (key.keyType === group.keyType) entries.push({ group, keyType: key.keyType, keyId: key.keyId });
    }
    const values = await this.readWindows(client, runKey, req.asOf, entries);
    const recencyFloor = h === null ? null : h - policy.keyRetentionMicros;

    const features: FeatureEntry[] = entries.map((e, i) => {
      const lastTs = values.lastTs[i];
      const last = lastTs !== null && recencyFloor !== null && lastTs > recencyFloor ? lastTs : null;
      const named: NamedFeatureValue[] = [];
      for (const f of e.group.features) {
        for (const w of e.group.windows) {
          const partial = values.partials.get(`${i}:${fieldFor(e.group, f.field)}:${w.micros}`) ?? EMPTY;
          named.push({ name: `${f.name}_${w.label}`, value: finishAggregate(f.agg, partial) });
        }
      }
      return {
        group: e.group.name,
        version: e.group.version,
        keyType: e.keyType,
        keyId: e.keyId,
        status: entryStatus(last, req.asOf, e.group.ttlMicros),
        lastEventTsUtc: last === null ? null : formatTimestamp(last),
        values: named,
      };
    });

    const content: SnapshotContent = {
      pins: req.pins,
      asOfUtc: req.asOfUtc,
      policyRev: { policyId: policy.policyId, revision: policy.revision, contentDigest: policy.contentDigest },
      featureGroups: req.groups.map((g) => ({ name: g.name, version: g.version })),
      inputBasis: basis,
      graphVersion: null,
      freshness: computeFreshness(
        features.map((f) => f.status),
        quarantine.rows[0].present === true,
      ),
      features,
    };
    const posture = computePosture(
      cps.rows.map(
        (r): PartitionPosture => ({
          stream: r.stream,
          partition: r.partition,
          state: r.state,
          lagRecords: Math.max(0, r.end_offset - r.next_offset),
          lagSeconds:
            r.end_ts_us !== null && r.last_applied_ts_us !== null ? Math.max(0, (r.end_ts_us - r.last_applied_ts_us) / 1e6) : null,
        }),
      ),
    );
    return { content, posture };
  }

  /**
   * Two bulk queries: (1) every window of every entry and field as tile and edge ranges, aggregated per window in
   * SQL; (2) per entry, the latest applied ts <= asOf (contributions of asOf's hour, else the latest hour tile).
   */
  private async readWindows(
    client: PoolClient,
    runKey: string,
    asOf: Micros,
    entries: Entry[],
  ): Promise<{ partials: Map<string, Partial>; lastTs: (Micros | null)[] }> {
    if (entries.length === 0) return { partials: new Map(), lastTs: [] };
    // Series lookup rows: (entry index, field).
    const sEntry: number[] = [];
    const sField: string[] = [];
    for (let i = 0; i < entries.length; i++) {
      const g = entries[i].group;
      for (const field of g.fields.length > 0 ? g.fields : ['']) {
        sEntry.push(i);
        sField.push(field);
      }
    }
    // Window ranges: (series lookup index, window length, granularity, lo, hi).
    const rIdx: number[] = [];
    const rWindow: number[] = [];
    const rGran: number[] = [];
    const rLo: number[] = [];
    const rHi: number[] = [];
    for (let s = 0; s < sEntry.length; s++) {
      for (const w of entries[sEntry[s]].group.windows) {
        const { lo, hi } = windowRange(asOf, w.micros);
        for (const r of decomposeRange(lo, hi)) {
          rIdx.push(s);
          rWindow.push(w.micros);
          rGran.push(r.granularity);
          rLo.push(r.lo);
          rHi.push(r.hi);
        }
      }
    }
    const recencyStart = floorTo(asOf, RECENCY_GRANULARITY);
    const seriesCte = `s AS (
        SELECT l.idx, l.entry, se.id FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])
          AS l(entry, grp, ver, key_id, field, idx)
        JOIN series se ON se.run_key = $1 AND se.group_name = l.grp AND se.group_version = l.ver AND se.key_id = l.key_id AND se.field = l.field)`;
    const seriesParams = [
      runKey,
      sEntry,
      sEntry.map((i) => entries[i].group.name),
      sEntry.map((i) => entries[i].group.version),
      sEntry.map((i) => entries[i].keyId),
      sField,
      sEntry.map((_, s) => s),
    ];
    const windows = await client.query(
      `WITH ${seriesCte},
       r AS (SELECT * FROM unnest($8::int[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[]) AS r(idx, wlen, gran, lo, hi)),
       x AS (
         SELECT r.idx, r.wlen, t.count, t.sum, t.min, t.max, t.last_ts_us AS lts, t.last_stream AS ls,
                t.last_partition AS lp, t.last_offset AS lo, t.last_value AS lv
           FROM r JOIN s ON s.idx = r.idx
           JOIN tiles t ON r.gran > 0 AND t.series_id = s.id AND t.granularity_us = r.gran AND t.start_us >= r.lo AND t.start_us < r.hi
         UNION ALL
         SELECT r.idx, r.wlen, 1, c.value, c.value, c.value, c.ts_us, c.stream, c.partition, c."offset", c.value
           FROM r JOIN s ON s.idx = r.idx
           JOIN contributions c ON r.gran = 0 AND c.series_id = s.id AND c.ts_us >= r.lo AND c.ts_us < r.hi)
       SELECT idx, wlen, sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
              (array_agg(lv ORDER BY lts DESC, ls COLLATE "C" DESC, lp DESC, lo DESC))[1] AS last
         FROM x GROUP BY idx, wlen`,
      [...seriesParams, rIdx, rWindow, rGran, rLo, rHi],
    );
    const recency = await client.query(
      `WITH ${seriesCte}
       SELECT s.entry, GREATEST(
           (SELECT max(c.ts_us) FROM contributions c WHERE c.series_id = s.id AND c.ts_us >= $8 AND c.ts_us <= $9),
           (SELECT t.last_ts_us FROM tiles t WHERE t.series_id = s.id AND t.granularity_us = $10 AND t.start_us < $8
             ORDER BY t.start_us DESC LIMIT 1)) AS last_ts
         FROM s`,
      [...seriesParams, recencyStart, asOf, RECENCY_GRANULARITY],
    );
    const partials = new Map<string, Partial>();
    for (const row of windows.rows) {
      const field = sField[row.idx];
      const last = row.last === null ? null : new Decimal(row.last);
      partials.set(`${sEntry[row.idx]}:${field}:${row.wlen}`, {
        count: Number(row.count),
        sum: new Decimal(row.sum),
        min: row.min === null ? null : new Decimal(row.min),
        max: row.max === null ? null : new Decimal(row.max),
        last: last === null ? null : { pos: { ts: 0, stream: '', partition: 0, offset: 0 }, value: last },
      });
    }
    const lastTs: (Micros | null)[] = entries.map(() => null);
    for (const row of recency.rows) {
      if (row.last_ts === null) continue;
      const ts = Number(row.last_ts);
      const prev = lastTs[row.entry];
      if (prev === null || ts > prev) lastTs[row.entry] = ts;
    }
    return { partials, lastTs };
  }
}

const EMPTY: Partial = { count: 0, sum: new Decimal(0), min: null, max: null, last: null };
