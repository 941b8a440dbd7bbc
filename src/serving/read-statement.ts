/**
 * The whole read of a batch of `features` requests as ONE SQL statement (a batch of one when the gateway is not
 * busy). A single statement sees one snapshot, so each request's basis, run horizon, quarantine flag, window
 * aggregates and recency are coherent (SPEC 5.5) without BEGIN/COMMIT, and requests that arrive together share one
 * round trip. It is a named prepared statement, so PostgreSQL plans it once per connection. Rows are a tagged union
 * (`kind`) over shared columns.
 */
import type { FeatureGroup } from '../core/policy';
import type { Micros } from '../core/time';
import {
  DENSE_HOUR_EVENTS,
  HOUR_TILE,
  MINUTE_TILE,
  decomposeWindow,
  recencyStart,
  windowRange,
} from '../core/windows';
import { integerArrayLiteral, textArrayLiteral } from '../db/array-literal';

export const READ_STATEMENT_NAME = 'ofp_features_read_v3';

/*
 * Parameters: $1 the run keys of the batch, $2 the streams its requests read; $3..$10 one row per series (sidx
 * numbers series across the whole batch) with its run, group, version, key, field and recency range; $11..$14 the
 * whole-hour ranges, $15..$20 the partial hours and $21..$24 the `last` ranges of every window; $25..$27 the tile
 * sizes and the dense-hour threshold. Checkpoints, watermarks and quarantine come back per (run, stream), and each
 * request takes the rows of its own run and streams.
 */
export const READ_SQL = `
WITH cp AS (
  SELECT stream, partition, next_offset, state, end_offset, end_ts_us, last_applied_ts_us
    FROM checkpoints WHERE stream = ANY($2::text[])),
run AS (
  SELECT run_key, stream, count(*) AS n, max(max_ts_us) AS h
    FROM partition_watermarks WHERE run_key = ANY($1::text[]) GROUP BY run_key, stream),
q AS (
  -- One index probe per (run, stream): as WHERE EXISTS, PostgreSQL planned a semi-join over the whole index.
  SELECT rk.run_key, st.stream
    FROM unnest($1::text[]) AS rk(run_key) CROSS JOIN unnest($2::text[]) AS st(stream)
    CROSS JOIN LATERAL (SELECT 1 FROM quarantine x WHERE x.run_key = rk.run_key AND x.stream = st.stream LIMIT 1) hit),
sr AS (
  SELECT l.sidx, se.id, l.rec_lo, l.rec_hi
    FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[])
      AS l(sidx, run_key, grp, ver, key_id, field, rec_lo, rec_hi)
    JOIN series se ON se.run_key = l.run_key AND se.group_name = l.grp AND se.group_version = l.ver
                  AND se.key_id = l.key_id AND se.field = l.field),
hr AS (
  SELECT h.sidx, h.wlen, a.cnt, a.sm, a.mn, a.mx
    FROM unnest($11::int[], $12::bigint[], $13::bigint[], $14::bigint[]) AS h(sidx, wlen, lo, hi)
    JOIN sr ON sr.sidx = h.sidx
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(t.count), 0)::bigint AS cnt, sum(t.sum) AS sm, min(t.min) AS mn, max(t.max) AS mx
        FROM tiles t
       WHERE t.series_id = sr.id AND t.granularity_us = $25 AND t.start_us >= h.lo AND t.start_us < h.hi) a),
ph AS (
  SELECT p.sidx, p.wlen, p.lo, p.hi, p.mlo, p.mhi, sr.id AS sid, e.cnt, e.sm, e.mn, e.mx
    FROM unnest($15::int[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[])
      AS p(sidx, wlen, lo, hi, mlo, mhi)
    JOIN sr ON sr.sidx = p.sidx
    CROSS JOIN LATERAL (
      SELECT count(*)::bigint AS cnt, sum(x.value) AS sm, min(x.value) AS mn, max(x.value) AS mx
        FROM (SELECT c.value FROM contributions c
               WHERE c.series_id = sr.id AND c.ts_us >= p.lo AND c.ts_us < p.hi LIMIT $27 + 1) x) e),
dense AS (
  SELECT ph.sidx, ph.wlen, a.cnt, a.sm, a.mn, a.mx
    FROM ph CROSS JOIN LATERAL (
      SELECT sum(t.count)::bigint AS cnt, sum(t.sum) AS sm, min(t.min) AS mn, max(t.max) AS mx FROM tiles t
       WHERE t.series_id = ph.sid AND t.granularity_us = $26 AND t.start_us >= ph.mlo AND t.start_us < ph.mhi
      UNION ALL
      SELECT count(*)::bigint, sum(c.value), min(c.value), max(c.value) FROM contributions c
       WHERE c.series_id = ph.sid AND c.ts_us >= ph.lo AND c.ts_us < ph.mlo
      UNION ALL
      SELECT count(*)::bigint, sum(c.value), min(c.value), max(c.value) FROM contributions c
       WHERE c.series_id = ph.sid AND c.ts_us >= ph.mhi AND c.ts_us < ph.hi) a
   WHERE ph.cnt > $27),
win AS (
  -- Every window has at least one row here, and no row a NULL count: a window with no event counts 0.
  SELECT sidx, wlen, coalesce(sum(cnt), 0)::bigint AS cnt, sum(sm) AS sm, min(mn) AS mn, max(mx) AS mx FROM (
    SELECT sidx, wlen, cnt, sm, mn, mx FROM hr
    UNION ALL SELECT sidx, wlen, cnt, sm, mn, mx FROM ph WHERE cnt <= $27
    UNION ALL SELECT sidx, wlen, cnt, sm, mn, mx FROM dense) u
  GROUP BY sidx, wlen),
lastv AS (
  SELECT w.sidx, w.wlen, (
      SELECT c.value FROM contributions c
       WHERE c.series_id = sr.id AND c.ts_us >= w.lo AND c.ts_us < w.hi
       ORDER BY c.ts_us DESC, c.stream COLLATE "C" DESC, c.partition DESC, c."offset" DESC LIMIT 1) AS lv
    FROM unnest($21::int[], $22::bigint[], $23::bigint[], $24::bigint[]) AS w(sidx, wlen, lo, hi)
    JOIN sr ON sr.sidx = w.sidx),
rec AS (
  SELECT sr.sidx, GREATEST(
      (SELECT max(c.ts_us) FROM contributions c
        WHERE c.series_id = sr.id AND c.ts_us >= sr.rec_lo AND c.ts_us <= sr.rec_hi),
      (SELECT t.max_ts_us FROM tiles t WHERE t.series_id = sr.id AND t.granularity_us = $25 AND t.start_us < sr.rec_lo
        ORDER BY t.start_us DESC LIMIT 1)) AS last_ts
    FROM sr)
SELECT 'cp' AS kind, stream AS s1, state AS s2, partition::bigint AS i1, next_offset AS i2, end_offset AS i3,
       end_ts_us AS i4, last_applied_ts_us AS i5, NULL::numeric AS n1, NULL::numeric AS n2, NULL::numeric AS n3 FROM cp
UNION ALL SELECT 'run', run_key, stream, n, h, NULL, NULL, NULL, NULL, NULL, NULL FROM run
UNION ALL SELECT 'q', run_key, stream, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM q
UNION ALL SELECT 'win', NULL, NULL, sidx, wlen, cnt, NULL, NULL, sm, mn, mx FROM win
UNION ALL SELECT 'last', NULL, NULL, sidx, wlen, NULL, NULL, NULL, lv, NULL, NULL FROM lastv
UNION ALL SELECT 'rec', NULL, NULL, sidx, last_ts, NULL, NULL, NULL, NULL, NULL, NULL FROM rec`;

/** One series a request reads: an entry (group, key) and one of its fields. */
export interface SeriesRef {
  entry: number;
  group: FeatureGroup;
  keyId: string;
  field: string;
}

/** One request's share of a batched read: its run, the streams it reads, its series and asOf. */
export interface ReadPart {
  runKey: string;
  streams: string[];
  series: SeriesRef[];
  asOf: Micros;
}

/**
 * Parameters of READ_SQL for a batch of requests. Series are numbered across the batch in part order: the series
 * `j` of part `p` is `sidx = first[p] + j`, with `first` returned beside the parameters.
 */
export function readParams(parts: ReadPart[]): { values: unknown[]; first: number[] } {
  const runKeys = new Set<string>();
  const streams = new Set<string>();
  const first: number[] = [];
  const sr = {
    sidx: [] as number[],
    runKey: [] as string[],
    group: [] as string[],
    version: [] as string[],
    keyId: [] as string[],
    field: [] as string[],
    recLo: [] as number[],
    recHi: [] as number[],
  };
  const hours = { sidx: [] as number[], wlen: [] as number[], lo: [] as number[], hi: [] as number[] };
  const partials = {
    sidx: [] as number[],
    wlen: [] as number[],
    lo: [] as number[],
    hi: [] as number[],
    mlo: [] as number[],
    mhi: [] as number[],
  };
  const lasts = { sidx: [] as number[], wlen: [] as number[], lo: [] as number[], hi: [] as number[] };
  for (const part of parts) {
    runKeys.add(part.runKey);
    for (const s of part.streams) streams.add(s);
    first.push(sr.sidx.length);
    const recencyFrom = recencyStart(part.asOf);
    for (const s of part.series) {
      const i = sr.sidx.length;
      sr.sidx.push(i);
      sr.runKey.push(part.runKey);
      sr.group.push(s.group.name);
      sr.version.push(s.group.version);
      sr.keyId.push(s.keyId);
      sr.field.push(s.field);
      sr.recLo.push(recencyFrom);
      sr.recHi.push(part.asOf);
      const needsLast = s.group.features.some(
        (f) => f.agg === 'last' && (f.field ?? s.group.fields[0]) === s.field,
      );
      for (const w of s.group.windows) {
        const { lo, hi } = windowRange(part.asOf, w.micros);
        const reads = decomposeWindow(lo, hi);
        if (reads.hours) {
          hours.sidx.push(i);
          hours.wlen.push(w.micros);
          hours.lo.push(reads.hours.lo);
          hours.hi.push(reads.hours.hi);
        }
        for (const p of reads.partials) {
          partials.sidx.push(i);
          partials.wlen.push(w.micros);
          partials.lo.push(p.lo);
          partials.hi.push(p.hi);
          partials.mlo.push(p.minuteLo);
          partials.mhi.push(p.minuteHi);
        }
        if (needsLast) {
          lasts.sidx.push(i);
          lasts.wlen.push(w.micros);
          lasts.lo.push(lo);
          lasts.hi.push(hi);
        }
      }
    }
  }
  const values = [
    textArrayLiteral([...runKeys]),
    textArrayLiteral([...streams]),
    integerArrayLiteral(sr.sidx),
    ...[sr.runKey, sr.group, sr.version, sr.keyId, sr.field].map(textArrayLiteral),
    integerArrayLiteral(sr.recLo),
    integerArrayLiteral(sr.recHi),
    ...[hours.sidx, hours.wlen, hours.lo, hours.hi].map(integerArrayLiteral),
    ...[partials.sidx, partials.wlen, partials.lo, partials.hi, partials.mlo, partials.mhi].map(
      integerArrayLiteral,
    ),
    ...[lasts.sidx, lasts.wlen, lasts.lo, lasts.hi].map(integerArrayLiteral),
    HOUR_TILE,
    MINUTE_TILE,
    DENSE_HOUR_EVENTS,
  ];
  return { values, first };
}
