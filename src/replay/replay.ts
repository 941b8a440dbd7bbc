/**
 * Offline replay (SPEC 6 parity): rebuilds the answer to a features request from the bus alone, up to a given
 * basis, with the same classification and aggregation code as the projector and gateway — no database, no
 * Temporal. Windows are computed by scanning every applied contribution (deliberately simple), so a replay
 * checks the tile arithmetic of the online path rather than repeating it.
 */
import type { EventBus } from '../bus/event-bus';
import { emptyPartial, finishAggregate, mergePartials, singlePartial, type Partial } from '../core/aggregate';
import { Decimal } from '../core/decimal';
import type { RecordParser } from '../core/envelope';
import { runKeyOf } from '../core/pins';
import { streamsOf, type FeaturePolicy } from '../core/policy';
import { StateOverlay, classifyInOrder, prepareRecord, type Decision } from '../core/projection';
import { isInvalidClass } from '../core/record';
import { computeFreshness, entryStatus, type FeatureEntry, type InputBasis, type SnapshotContent } from '../core/snapshot';
import { formatTimestamp, type Micros } from '../core/time';
import { windowRange } from '../core/windows';
import { FeaturesRequestError, invalidRequest } from '../serving/errors';
import type { FeatureRequest } from '../serving/request';

export class ReplayBasisError extends Error {
  override name = 'ReplayBasisError';
}

interface Point {
  ts: Micros;
  stream: string;
  partition: number;
  offset: number;
  value: Decimal;
}

export interface ReplayState {
  /** Contributions per series key `runKey|group|version|key|field`. */
  series: Map<string, Point[]>;
  /** Greatest applied ts per run over the streams replayed. */
  h: Map<string, Micros>;
  /** Runs with a quarantined record (pins readable) in the streams replayed. */
  quarantinedRuns: Set<string>;
  /** Every decision, for accounting checks. */
  counts: Record<string, number>;
}

const seriesKey = (runKey: string, group: string, version: string, keyId: string, field: string) =>
  `${runKey}|${group}|${version}|${keyId}|${field}`;

/** Replays the streams of `basis` up to their offsets (partitions in ascending order) into in-memory state. */
export async function replayBus(
  bus: EventBus,
  policy: FeaturePolicy,
  parser: RecordParser,
  basis: InputBasis[],
  onProgress?: (records: number) => void,
): Promise<ReplayState> {
  const overlay = new StateOverlay({ watermark: () => undefined, appliedCopy: () => undefined });
  const state: ReplayState = { series: new Map(), h: new Map(), quarantinedRuns: new Set(), counts: {} };
  let total = 0;
  for (const b of [...basis].sort((x, y) => (x.stream < y.stream ? -1 : x.stream > y.stream ? 1 : 0))) {
    const known = new Set(await bus.listPartitions(b.stream));
    for (const { partition, offset } of [...b.offsets].sort((x, y) => x.partition - y.partition)) {
      const until = Number(offset);
      if (!known.has(partition) && until > 0) throw new ReplayBasisError(`${b.stream}: partition ${partition} does not exist on the bus`);
      const end = await bus.endOffset(b.stream, partition);
      if (until > end) throw new ReplayBasisError(`${b.stream}/${partition}: basis offset ${until} is beyond the bus end ${end}`);
      let at = 0;
      while (at < until) {
        const read = await bus.read(b.stream, partition, at, Math.min(5000, until - at));
        if (read.records.length === 0) throw new ReplayBasisError(`${b.stream}/${partition}: no record at offset ${at}`);
        const decisions = classifyInOrder(
          read.records.map((r) => prepareRecord(r, policy, parser)),
          policy,
          overlay,
        );
        for (const d of decisions) absorb(state, d);
        at = read.nextOffset;
        total += read.records.length;
        onProgress?.(total);
      }
    }
  }
  return state;
}

function absorb(state: ReplayState, d: Decision): void {
  state.counts[d.class] = (state.counts[d.class] ?? 0) + 1;
  if (isInvalidClass(d.class)) {
    const runKey = (d as { runKey: string | null }).runKey;
    if (runKey) state.quarantinedRuns.add(runKey);
    return;
  }
  if (d.class !== 'applied') return;
  const ts = d.envelope.tsMicros;
  const h = state.h.get(d.runKey);
  if (h === undefined || ts > h) state.h.set(d.runKey, ts);
  for (const c of d.contributions) {
    const k = seriesKey(d.runKey, c.group.name, c.group.version, c.keyId, c.field);
    let points = state.series.get(k);
    if (!points) state.series.set(k, (points = []));
    points.push({ ts, stream: d.record.stream, partition: d.record.partition, offset: d.record.offset, value: new Decimal(c.value) });
  }
}

/** Answers a validated request from replayed state; throws FeaturesRequestError like the gateway would. */
export function answerFromReplay(state: ReplayState, policy: FeaturePolicy, req: FeatureRequest, basis: InputBasis[]): SnapshotContent {
  const runKey = runKeyOf(req.pins);
  const h = state.h.get(runKey);
  if (h === undefined) throw new FeaturesRequestError('NOT_FOUND', 'no event with these six pins was applied in the replayed streams');
  if (req.asOf < h - policy.horizonMicros) {
    throw invalidRequest(
      `RETENTION_BOUNDARY_EXCEEDED: asOf ${req.asOfUtc} is before the earliest servable instant ${formatTimestamp(h - policy.horizonMicros)}`,
    );
  }
  const recencyFloor = h - policy.keyRetentionMicros;
  const features: FeatureEntry[] = [];
  for (const group of req.groups) {
    for (const key of req.keys) {
      if (key.keyType !== group.keyType) continue;
      const pointsOf = (field: string) => state.series.get(seriesKey(runKey, group.name, group.version, key.keyId, field)) ?? [];
      let last: Micros | null = null;
      for (const p of pointsOf(group.fields[0] ?? '')) if (p.ts <= req.asOf && (last === null || p.ts > last)) last = p.ts;
      if (last !== null && last <= recencyFloor) last = null;
      const values = [];
      for (const f of group.features) {
        for (const w of group.windows) {
          const { lo, hi } = windowRange(req.asOf, w.micros);
          let partial: Partial = emptyPartial();
          for (const p of pointsOf(f.field ?? group.fields[0] ?? '')) {
            if (p.ts >= lo && p.ts < hi) partial = mergePartials(partial, singlePartial(p, p.value));
          }
          values.push({ name: `${f.name}_${w.label}`, value: finishAggregate(f.agg, partial) });
        }
      }
      features.push({
        group: group.name,
        version: group.version,
        keyType: key.keyType,
        keyId: key.keyId,
        status: entryStatus(last, req.asOf, group.ttlMicros),
        lastEventTsUtc: last === null ? null : formatTimestamp(last),
        values,
      });
    }
  }
  const streams = new Set(streamsOf(req.groups));
  return {
    pins: req.pins,
    asOfUtc: req.asOfUtc,
    policyRev: { policyId: policy.policyId, revision: policy.revision, contentDigest: policy.contentDigest },
    featureGroups: req.groups.map((g) => ({ name: g.name, version: g.version })),
    inputBasis: basis.filter((b) => streams.has(b.stream)),
    graphVersion: null,
    freshness: computeFreshness(
      features.map((f) => f.status),
      state.quarantinedRuns.has(runKey),
    ),
    features,
  };
}
