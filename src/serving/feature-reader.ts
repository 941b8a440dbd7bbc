/**
 * The read path of `features` (SPEC 5): one SQL statement (one snapshot, one round trip) reads the basis, the run's
 * horizon, the quarantine flag and every window of every (group, key) in bulk, so values and basis name the same
 * inputs; this module turns its rows into the answer. Requests that arrive while the gateway's reads are all busy
 * share the next statement (read-coalescer.ts); each still gets exactly the rows of its own run, streams and series.
 */
import { emptyPartial, finishAggregate, type Partial } from '../core/aggregate';
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
import { formatTimestamp, type Micros } from '../core/time';
import { ArrayLiteralError } from '../db/array-literal';
import type { Pool } from '../db/pool';
import { servingMetrics } from '../metrics/serving-metrics';
import { ReadCoalescer, type ReadOutcome } from './read-coalescer';
import { READ_SQL, READ_STATEMENT_NAME, readParams, type ReadPart, type SeriesRef } from './read-statement';
import { FeaturesRequestError, invalidRequest, unavailable } from './errors';
import { computePosture, type PartitionPosture, type PostureModel } from './posture';
import type { FeatureRequest } from './request';

export interface ReadResult {
  content: SnapshotContent;
  posture: PostureModel;
}

/** A row of READ_SQL: `kind` says which columns mean what (see read-statement.ts). */
interface ReadRow {
  kind: 'cp' | 'run' | 'q' | 'win' | 'last' | 'rec';
  s1: string | null;
  s2: string | null;
  i1: number | null;
  i2: number | null;
  i3: number | null;
  i4: number | null;
  i5: number | null;
  n1: string | null;
  n2: string | null;
  n3: string | null;
}

/** The series a (group, key) pair reads for one field ('' when the group reads no field). */
interface Entry {
  group: FeatureGroup;
  keyType: string;
  keyId: string;
}

/** Errors that mean "no database to talk to" rather than "the query failed". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  '57P01',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);

function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    (e.code !== undefined && CONNECTION_CODES.has(e.code)) ||
    /connect|Connection terminated/i.test(e.message ?? '')
  );
}

/**
 * Whether a read failed for what one of its requests carried: PostgreSQL's data exceptions (SQLSTATE class 22, such
 * as text it cannot hold) or a parameter that is no exact integer.
 */
function isInputRefusal(err: unknown): boolean {
  if (err instanceof ArrayLiteralError) return true;
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' && code.startsWith('22');
}

function fieldFor(group: FeatureGroup, field: string | undefined): string {
  return field ?? group.fields[0] ?? '';
}

/** A validated request, planned: the (group, key) entries it answers and the series they read. */
interface ReadPlan extends ReadPart {
  req: FeatureRequest;
  entries: Entry[];
}

/** The rows of one statement that belong to one request, indexed for assembly. */
interface ReadView {
  cps: ReadRow[];
  /** Events applied for the run on any stream, and the latest event time on the request's streams. */
  applied: number;
  h: Micros | null;
  quarantinePresent: boolean;
  /** Keyed `<series index within the request>:<window length>`. */
  windows: Map<string, Partial>;
  lastValues: Map<string, string | null>;
  /** Latest event time per entry. */
  lastTs: (Micros | null)[];
}

/** How the gateway's reads share statements. */
export interface FeatureReaderOptions {
  /**
   * Read statements running at once; a request that finds them all busy joins the next one. PostgreSQL gains
   * nothing from more statements than it has cores to run them on. Default 2.
   */
  maxConcurrentReads?: number;
  /**
   * Upper bound on the series one statement reads for several requests (one larger request runs alone). A statement
   * costs about 0.1 ms per series, so a full one holds its slot for about 50 ms. Default 500.
   */
  maxBatchSeries?: number;
}

export class FeatureReader {
  private readonly coalescer: ReadCoalescer<ReadPlan, ReadResult>;

  constructor(
    private readonly pool: Pool,
    private readonly policy: FeaturePolicy,
    private readonly offsetKind: string,
    options: FeatureReaderOptions = {},
  ) {
    this.coalescer = new ReadCoalescer<ReadPlan, ReadResult>({
      runBatch: (plans) => this.readBatch(plans),
      maxConcurrent: options.maxConcurrentReads ?? 2,
      maxBatchWeight: options.maxBatchSeries ?? 500,
      weight: (plan) => Math.max(1, plan.series.length),
      onBatch: (size) => servingMetrics.readBatch.observe(size),
    });
  }

  async read(req: FeatureRequest): Promise<ReadResult> {
    if (req.minBasis.length > 0) await this.awaitMinBasis(req);
    const entries: Entry[] = [];
    for (const group of req.groups) {
      for (const key of req.keys)
        if (key.keyType === group.keyType) entries.push({ group, keyType: key.keyType, keyId: key.keyId });
    }
    const series: SeriesRef[] = entries.flatMap((e, entry) =>
      (e.group.fields.length > 0 ? e.group.fields : ['']).map((field) => ({
        entry,
        group: e.group,
        keyId: e.keyId,
        field,
      })),
    );
    return this.coalescer.submit({
      req,
      runKey: runKeyOf(req.pins),
      streams: streamsOf(req.groups),
      asOf: req.asOf,
      entries,
      series,
    });
  }

  /**
   * Each plan's answer, or the error that plan alone gets. When the shared statement is refused for its input (data
   * PostgreSQL cannot take, or a parameter that cannot be written exactly), the plans are read again one by one: a
   * request the database refuses must not fail the requests it happened to arrive with. Any other failure (a lost
   * or silent database) fails them all at once rather than once per request.
   */
  private async readBatch(plans: ReadPlan[]): Promise<ReadOutcome<ReadResult>[]> {
    try {
      return await this.readTogether(plans);
    } catch (err) {
      if (plans.length === 1 || !isInputRefusal(err)) throw err;
      const outcomes: ReadOutcome<ReadResult>[] = [];
      for (const plan of plans) {
        try {
          outcomes.push(...(await this.readTogether([plan])));
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
      return outcomes;
    }
  }

  /** One statement for every plan; each plan's answer, or the error its own rows call for. */
  private async readTogether(plans: ReadPlan[]): Promise<ReadOutcome<ReadResult>[]> {
    const { values, first } = readParams(plans);
    let rows: ReadRow[];
    try {
      const result = await this.pool.query<ReadRow>({ name: READ_STATEMENT_NAME, text: READ_SQL, values });
      rows = result.rows;
    } catch (err) {
      const what = isConnectionError(err) ? 'database unreachable' : 'basis unreadable';
      throw unavailable(`${what}: ${(err as Error).message}`, err);
    }
    const views = splitRows(plans, first, rows);
    return plans.map((plan, p): ReadOutcome<ReadResult> => {
      try {
        return { ok: true, value: this.assemble(plan, views[p]) };
      } catch (error) {
        return { ok: false, error };
      }
    });
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

  /** Turns one request's rows into its answer, or the error its rows call for. */
  private assemble(plan: ReadPlan, view: ReadView): ReadResult {
    const { req, streams, entries, series } = plan;
    const { applied, h, quarantinePresent, windows, lastValues, lastTs } = view;
    const policy = this.policy;
    const cps: PartitionPosture[] = [];
    const basisOffsets = new Map<string, { partition: number; offset: string }[]>(
      streams.map((s) => [s, []]),
    );
    for (const r of view.cps) {
      const offsets = basisOffsets.get(r.s1!);
      if (offsets === undefined) continue; // a stream another request of the batch reads
      offsets.push({ partition: r.i1!, offset: String(r.i2) });
      cps.push({
        stream: r.s1!,
        partition: r.i1!,
        state: r.s2 as PartitionPosture['state'],
        lagRecords: Math.max(0, r.i3! - r.i2!),
        lagSeconds: r.i4 !== null && r.i5 !== null ? Math.max(0, (r.i4 - r.i5) / 1e6) : null,
      });
    }
    if (applied === 0)
      throw new FeaturesRequestError(
        'NOT_FOUND',
        'no event with these six pins has been applied on any stream',
      );
    if (h !== null && req.asOf < h - policy.horizonMicros) {
      throw invalidRequest(
        `RETENTION_BOUNDARY_EXCEEDED: asOf ${req.asOfUtc} is before the earliest servable instant ${formatTimestamp(h - policy.horizonMicros)}`,
      );
    }
    const basis: InputBasis[] = streams.map((stream) => ({
      stream,
      offsetKind: this.offsetKind,
      offsets: basisOffsets.get(stream)!.sort((a, b) => a.partition - b.partition),
    }));
    const missingBasis = basis.find((b) => b.offsets.length === 0);
    if (missingBasis)
      throw new FeaturesRequestError(
        'MISSING_PROVENANCE',
        `no checkpoint for any partition of ${missingBasis.stream}`,
      );

    const sidxOf = new Map(series.map((s, i) => [`${s.entry}:${s.field}`, i]));
    const recencyFloor = h === null ? null : h - policy.keyRetentionMicros;
    const features: FeatureEntry[] = entries.map((e, i) => {
      const lt = lastTs[i];
      const last = lt !== null && recencyFloor !== null && lt > recencyFloor ? lt : null;
      const named: NamedFeatureValue[] = [];
      for (const f of e.group.features) {
        const sidx = sidxOf.get(`${i}:${fieldFor(e.group, f.field)}`)!;
        for (const w of e.group.windows) {
          const key = `${sidx}:${w.micros}`;
          let partial = windows.get(key) ?? emptyPartial();
          const lv = lastValues.get(key);
          if (lv !== undefined && lv !== null && partial.count > 0) {
            partial = {
              ...partial,
              last: { pos: { ts: 0, stream: '', partition: 0, offset: 0 }, value: new Decimal(lv) },
            };
          }
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
      policyRev: {
        policyId: policy.policyId,
        revision: policy.revision,
        contentDigest: policy.contentDigest,
      },
      featureGroups: req.groups.map((g) => ({ name: g.name, version: g.version })),
      inputBasis: basis,
      graphVersion: null,
      freshness: computeFreshness(
        features.map((f) => f.status),
        quarantinePresent,
      ),
      features,
    };
    cps.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : a.partition - b.partition));
    return { content, posture: computePosture(cps) };
  }
}

/** Sorts the rows of a batched statement out to the requests they belong to. */
function splitRows(plans: ReadPlan[], first: number[], rows: ReadRow[]): ReadView[] {
  const cps: ReadRow[] = [];
  const runs = new Map<string, ReadRow[]>();
  const quarantined = new Set<string>();
  const views: ReadView[] = plans.map((plan) => ({
    cps,
    applied: 0,
    h: null,
    quarantinePresent: false,
    windows: new Map(),
    lastValues: new Map(),
    lastTs: plan.entries.map(() => null),
  }));
  // The plan that owns each batch-wide series index.
  const owner: number[] = [];
  plans.forEach((plan, p) => plan.series.forEach(() => owner.push(p)));
  for (const r of rows) {
    switch (r.kind) {
      case 'cp':
        cps.push(r);
        break;
      case 'run': {
        const list = runs.get(r.s1!);
        if (list) list.push(r);
        else runs.set(r.s1!, [r]);
        break;
      }
      case 'q':
        quarantined.add(`${r.s1}\u0000${r.s2}`);
        break;
      case 'win':
      case 'last':
      case 'rec': {
        const p = owner[r.i1!];
        const sidx = r.i1! - first[p];
        const view = views[p];
        if (r.kind === 'win') {
          view.windows.set(`${sidx}:${r.i2}`, {
            count: r.i3!,
            sum: new Decimal(r.n1 ?? 0),
            min: r.n2 === null ? null : new Decimal(r.n2),
            max: r.n3 === null ? null : new Decimal(r.n3),
            last: null,
          });
        } else if (r.kind === 'last') {
          view.lastValues.set(`${sidx}:${r.i2}`, r.n1);
        } else {
          const entry = plans[p].series[sidx].entry;
          const prev = view.lastTs[entry];
          if (r.i2 !== null && (prev === null || r.i2 > prev)) view.lastTs[entry] = r.i2;
        }
        break;
      }
    }
  }
  plans.forEach((plan, p) => {
    const view = views[p];
    const streams = new Set(plan.streams);
    for (const r of runs.get(plan.runKey) ?? []) {
      view.applied += r.i1!;
      if (streams.has(r.s2!) && r.i2 !== null && (view.h === null || r.i2 > view.h)) view.h = r.i2;
    }
    view.quarantinePresent = plan.streams.some((s) => quarantined.has(`${plan.runKey}\u0000${s}`));
  });
  return views;
}
