/**
 * Applies one batch of one partition: read at the checkpoint, classify (SPEC 4.2), write effects and advance the
 * checkpoint in one fenced transaction. Temporal activities drive it; the benchmark drives it directly to measure
 * Temporal's overhead on the same code.
 */
import { BusHistoryRewrittenError } from '../bus/errors';
import type { EventBus, ReadResult } from '../bus/event-bus';
import type { RecordParser } from '../core/envelope';
import type { FeaturePolicy } from '../core/policy';
import { StateOverlay, classifyInOrder, prepareRecord, type Decision } from '../core/projection';
import { isInvalidClass, type InvalidClass } from '../core/record';
import type { Micros } from '../core/time';
import type { Logger } from '../logger';
import { projectorMetrics } from '../metrics/projector-metrics';
import type { Pool } from '../db/pool';
import { stallPartition } from '../db/partition-control';
import {
  CheckpointFencedError,
  SeriesResolver,
  commitBatch,
  countDecisions,
  prefetchClassificationState,
  readCheckpoint,
  type BatchCounts,
  type PartitionState,
} from '../db/projection-store';

export interface ApplyOptions {
  /** Most records per batch. Default 2000. */
  maxRecords?: number;
  /** When caught up, wait up to this long for new records. Default 0. */
  waitMs?: number;
  signal?: AbortSignal;
  /** Called while waiting, so a Temporal activity can heartbeat. */
  heartbeat?: () => void;
}

export interface ApplyResult {
  stream: string;
  partition: number;
  state: PartitionState;
  fromOffset: number;
  nextOffset: number;
  endOffset: number;
  counts: BatchCounts;
  /** True when another writer had already advanced the checkpoint: nothing was written. */
  fenced: boolean;
  stalled?: { offset: number; class: StallClass; reason: string };
  lagSeconds: number | null;
}

/**
 * Why a partition stalled: an invalid record under `on_invalid: stall`, or the bus file contradicting offsets already
 * read (`history_rewritten`), which no skip can fix: the file must be restored, then `retry`.
 */
export type StallClass = InvalidClass | typeof HISTORY_REWRITTEN;
export const HISTORY_REWRITTEN = 'history_rewritten';

export interface PartitionApplierDeps {
  pool: Pool;
  bus: EventBus;
  policy: FeaturePolicy;
  parser: RecordParser;
  series: SeriesResolver;
  log: Logger;
}

const EMPTY_COUNTS: BatchCounts = {
  read: 0,
  applied: 0,
  duplicates: 0,
  anomalies: 0,
  irrelevant: 0,
  quarantined: 0,
};

export class PartitionApplier {
  constructor(private readonly deps: PartitionApplierDeps) {}

  async applyOnce(stream: string, partition: number, options: ApplyOptions = {}): Promise<ApplyResult> {
    const { pool, bus, policy, parser, log } = this.deps;
    const cp = await readCheckpoint(pool, stream, partition);
    const base = { stream, partition, state: cp.state, fromOffset: cp.nextOffset, nextOffset: cp.nextOffset };
    if (cp.state !== 'RUNNING') {
      const endOffset = await bus.endOffset(stream, partition);
      return { ...base, endOffset, counts: EMPTY_COUNTS, fenced: false, lagSeconds: null };
    }

    const beat = options.heartbeat ? setInterval(options.heartbeat, 1000) : undefined;
    let read: ReadResult;
    try {
      read = await bus.read(stream, partition, cp.nextOffset, options.maxRecords ?? 2000, {
        waitMs: options.waitMs ?? 0,
        signal: options.signal,
      });
    } catch (err) {
      // Retrying cannot help and applying could hand out different data under applied offsets: stall visibly.
      if (err instanceof BusHistoryRewrittenError) return this.stallOnRewrittenHistory(cp.nextOffset, err);
      throw err;
    } finally {
      if (beat) clearInterval(beat);
    }
    const labels = { stream, partition: String(partition) };
    projectorMetrics.lagRecords.set(labels, read.endOffset - read.nextOffset);
    if (read.records.length === 0) {
      return { ...base, endOffset: read.endOffset, counts: EMPTY_COUNTS, fenced: false, lagSeconds: null };
    }

    const started = process.hrtime.bigint();
    let mark = started;
    const phase = (name: string): void => {
      const now = process.hrtime.bigint();
      projectorMetrics.phaseSeconds.observe({ phase: name }, Number(now - mark) / 1e9);
      mark = now;
    };
    const prepared = read.records.map((r) => prepareRecord(r, policy, parser));
    phase('prepare');
    const candidates = prepared.flatMap((p) =>
      p.kind === 'candidate'
        ? [{ runKey: p.runKey, eventType: p.envelope.eventType, eventId: p.envelope.eventId }]
        : [],
    );
    const state = await prefetchClassificationState(pool, stream, partition, candidates);
    let decisions = classifyInOrder(prepared, policy, new StateOverlay(state));
    phase('classify');

    let stall: { offset: number; class: InvalidClass; reason: string } | undefined;
    if (policy.onInvalid === 'stall') {
      const at = decisions.findIndex((d) => isInvalidClass(d.class));
      if (at >= 0) {
        const d = decisions[at] as Extract<Decision, { reason: string }>;
        stall = { offset: d.record.offset, class: d.class as InvalidClass, reason: d.reason };
        decisions = decisions.slice(0, at);
        log.warn(
          { stream, partition, offset: d.record.offset, class: d.class, reason: d.reason },
          'partition stalled at invalid record',
        );
      }
    }
    const toOffset = stall ? stall.offset : read.nextOffset;

    // One key per contribution of the applied records, in decision order; each distinct key resolved once.
    const keys: string[] = [];
    const seriesKeys = new Map<string, [string, string, string, string, string]>();
    let lastAppliedTs: Micros | null = null;
    for (const d of decisions) {
      if (d.class !== 'applied') continue;
      lastAppliedTs = d.envelope.tsMicros;
      for (const c of d.contributions) {
        const key = SeriesResolver.keyOf(d.runKey, c.group.name, c.group.version, c.keyId, c.field);
        keys.push(key);
        if (!seriesKeys.has(key))
          seriesKeys.set(key, [d.runKey, c.group.name, c.group.version, c.keyId, c.field]);
      }
    }
    const idOf = await this.deps.series.resolve(seriesKeys);
    const seriesIds = keys.map((k) => idOf.get(k)!);
    const endTs = await this.endEventTime(stream, partition, read.endOffset, decisions);
    phase('series');

    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await commitBatch(
        client,
        {
          stream,
          partition,
          fromOffset: cp.nextOffset,
          toOffset,
          decisions,
          stall,
          lastAppliedTs,
          endOffset: read.endOffset,
          endTs,
        },
        seriesIds,
      );
      await client.query('COMMIT');
      phase('commit');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (err instanceof CheckpointFencedError) {
        log.info(
          { stream, partition, fromOffset: cp.nextOffset },
          'batch fenced: another writer advanced the checkpoint',
        );
        const now = await readCheckpoint(pool, stream, partition);
        return {
          ...base,
          state: now.state,
          nextOffset: now.nextOffset,
          endOffset: read.endOffset,
          counts: EMPTY_COUNTS,
          fenced: true,
          lagSeconds: null,
        };
      }
      throw err;
    } finally {
      client.release();
    }

    const counts = countDecisions(decisions);
    projectorMetrics.recordsRead.inc(labels, counts.read);
    projectorMetrics.recordsApplied.inc(labels, counts.applied);
    projectorMetrics.duplicates.inc(labels, counts.duplicates);
    projectorMetrics.irrelevant.inc(labels, counts.irrelevant);
    for (const d of decisions)
      if (isInvalidClass(d.class)) projectorMetrics.quarantined.inc({ ...labels, class: d.class });
    projectorMetrics.batchSize.observe(labels, counts.read);
    projectorMetrics.applyLatency.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    projectorMetrics.lagRecords.set(labels, read.endOffset - toOffset);
    const lagSeconds =
      endTs !== null && lastAppliedTs !== null ? Math.max(0, (endTs - lastAppliedTs) / 1e6) : null;
    if (lagSeconds !== null) projectorMetrics.lagSeconds.set(labels, lagSeconds);
    return {
      ...base,
      state: stall ? 'STALLED' : 'RUNNING',
      nextOffset: toOffset,
      endOffset: read.endOffset,
      counts,
      fenced: false,
      stalled: stall,
      lagSeconds,
    };
  }

  private async stallOnRewrittenHistory(at: number, err: BusHistoryRewrittenError): Promise<ApplyResult> {
    const { stream, partition } = err;
    const stalled = { offset: at, class: HISTORY_REWRITTEN, reason: err.message } as const;
    const moved = await stallPartition(this.deps.pool, stream, partition, at, stalled.class, stalled.reason);
    this.deps.log.error(
      { stream, partition, offset: at, rewrittenBelow: err.offset, reason: err.message },
      'partition stalled: bus history rewritten; restore the file, then retry',
    );
    const now = await readCheckpoint(this.deps.pool, stream, partition);
    return {
      stream,
      partition,
      state: now.state,
      fromOffset: at,
      nextOffset: now.nextOffset,
      endOffset: now.nextOffset,
      counts: EMPTY_COUNTS,
      fenced: !moved,
      stalled: moved ? stalled : undefined,
      lagSeconds: null,
    };
  }

  /** Event time of the newest complete record on the bus (for lag in seconds); null when it has none. */
  private async endEventTime(
    stream: string,
    partition: number,
    endOffset: number,
    decisions: Decision[],
  ): Promise<Micros | null> {
    const last = decisions[decisions.length - 1];
    if (last && last.record.offset === endOffset - 1 && 'envelope' in last && last.envelope)
      return last.envelope.tsMicros;
    if (endOffset === 0) return null;
    const tail = await this.deps.bus.read(stream, partition, endOffset - 1, 1);
    const rec = tail.records[0];
    if (!rec) return null;
    const parsed = this.deps.parser.parse(rec.raw);
    return parsed.ok ? parsed.envelope.tsMicros : null;
  }
}
