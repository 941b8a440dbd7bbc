/**
 * The projection rules of SPEC 4 as pure functions: classify each record of a partition in offset order and derive
 * the contributions of applied events. The projector (database state), and the offline replay (in-memory state)
 * both drive this module, so they cannot disagree about what a record is.
 */
import { isIntegerLiteral, isLosslessNumber, type JsonObject, type LosslessNumber } from './json';
import { canonicalDecimal } from './decimal';
import { runKeyOf, type ContextPins } from './pins';
import type { BusRecord, Envelope, InvalidClass } from './record';
import { groupsMatching, type FeatureGroup, type FeaturePolicy } from './policy';
import type { RecordParser } from './envelope';
import { payloadHash } from './envelope';
import type { Micros } from './time';

/** Where an applied copy of an event sits. */
export interface AppliedCopy {
  payloadHash: string;
  stream: string;
  partition: number;
  offset: number;
}

/** Read access to the state that classification depends on (SPEC 4.3, 4.4). */
export interface ClassificationState {
  /** W: greatest applied ts for (run, stream, partition), undefined when none. */
  watermark(runKey: string, stream: string, partition: number): Micros | undefined;
  /** The applied copy for a dedupe key, undefined when none. */
  appliedCopy(runKey: string, eventType: string, eventId: string): AppliedCopy | undefined;
}

/** One event's value for one series (run, group, version, key, field). */
export interface Contribution {
  group: FeatureGroup;
  keyId: string;
  field: string;
  value: string;
}

interface DecisionBase {
  record: BusRecord;
}

export type Decision =
  | (DecisionBase & {
      class: 'applied';
      envelope: Envelope;
      runKey: string;
      payloadHash: string;
      contributions: Contribution[];
    })
  | (DecisionBase & {
      class: 'duplicate';
      envelope: Envelope;
      runKey: string;
      first: AppliedCopy;
      crossPartition: boolean;
    })
  | (DecisionBase & { class: 'irrelevant'; runKey: string })
  | (DecisionBase & {
      class: InvalidClass;
      reason: string;
      /** Set when the six pins were readable: the record belongs to that run. */
      runKey: string | null;
      pins?: ContextPins;
      envelope?: Envelope;
      first?: AppliedCopy;
      crossPartition?: boolean;
    });

/** The first, stateless stage: everything decidable from the record alone. */
export type Prepared =
  | { kind: 'final'; decision: Decision }
  | {
      kind: 'candidate';
      record: BusRecord;
      envelope: Envelope;
      runKey: string;
      payloadHash: string;
      contributions: Contribution[];
    };

/** Exact text of a key id: integers keep every digit; strings are taken as they are. */
function keyText(value: unknown): string | null {
  if (isIntegerLiteral(value)) return canonicalDecimal((value as LosslessNumber).value);
  if (typeof value === 'string' && value.length > 0) return value;
  return null;
}

function contributionsOf(groups: FeatureGroup[], payload: JsonObject): Contribution[] | string {
  const out: Contribution[] = [];
  for (const group of groups) {
    const keyId = keyText(payload[group.keyField]);
    if (keyId === null)
      return `payload.${group.keyField}: key of group ${group.name}/${group.version} is missing or not an integer`;
    if (group.fields.length === 0) {
      out.push({ group, keyId, field: '', value: '0' });
      continue;
    }
    for (const field of group.fields) {
      const v = payload[field];
      if (!isLosslessNumber(v))
        return `payload.${field}: must be a number for group ${group.name}/${group.version}`;
      out.push({ group, keyId, field, value: canonicalDecimal((v as LosslessNumber).value) });
    }
  }
  return out;
}

/** Stage 1: unparseable → pins_invalid → envelope_invalid → irrelevant → payload_invalid (SPEC 4.2). */
export function prepareRecord(record: BusRecord, policy: FeaturePolicy, parser: RecordParser): Prepared {
  const parsed = parser.parse(record.raw);
  if (!parsed.ok) {
    const runKey = parsed.pins ? runKeyOf(parsed.pins) : null;
    return {
      kind: 'final',
      decision: { record, class: parsed.class, reason: parsed.reason, runKey, pins: parsed.pins },
    };
  }
  const envelope = parsed.envelope;
  const runKey = runKeyOf(envelope.pins);
  const groups = groupsMatching(policy, record.stream, envelope.eventType);
  if (groups.length === 0) return { kind: 'final', decision: { record, class: 'irrelevant', runKey } };
  const payloadProblem = parser.validatePayload(envelope.eventType, envelope.payload);
  const contributions = payloadProblem ?? contributionsOf(groups, envelope.payload as JsonObject);
  if (typeof contributions === 'string') {
    return {
      kind: 'final',
      decision: {
        record,
        class: 'payload_invalid',
        reason: contributions,
        runKey,
        pins: envelope.pins,
        envelope,
      },
    };
  }
  return { kind: 'candidate', record, envelope, runKey, payloadHash: payloadHash(envelope), contributions };
}

/** Stage 2: too_late → duplicate / anomaly → applied, against the state as it stands before this record. */
export function decide(
  candidate: Extract<Prepared, { kind: 'candidate' }>,
  policy: FeaturePolicy,
  state: ClassificationState,
): Decision {
  const { record, envelope, runKey } = candidate;
  const w = state.watermark(runKey, record.stream, record.partition);
  if (w !== undefined && envelope.tsMicros < w - policy.horizonMicros) {
    return {
      record,
      class: 'too_late',
      reason: `ts_utc ${envelope.tsUtc} is more than the horizon before the partition's latest applied event time`,
      runKey,
      pins: envelope.pins,
      envelope,
    };
  }
  const first = state.appliedCopy(runKey, envelope.eventType, envelope.eventId);
  if (first) {
    const crossPartition = first.stream !== record.stream || first.partition !== record.partition;
    if (first.payloadHash === candidate.payloadHash) {
      return { record, class: 'duplicate', envelope, runKey, first, crossPartition };
    }
    return {
      record,
      class: 'anomaly',
      reason: `event_id ${envelope.eventId} was applied at ${first.stream}/${first.partition}@${first.offset} with a different payload`,
      runKey,
      pins: envelope.pins,
      envelope,
      first,
      crossPartition,
    };
  }
  return {
    record,
    class: 'applied',
    envelope,
    runKey,
    payloadHash: candidate.payloadHash,
    contributions: candidate.contributions,
  };
}

/**
 * In-memory overlay: classification state of a batch, seeded from a base view (database prefetch or replay state),
 * updated as each record is applied so later records of the same batch see earlier ones.
 *
 * Maps are nested by run key (and event type) rather than keyed by one concatenated string: an offline replay keeps
 * one entry per applied event of the whole bus, and a flat key would hold a copy of the 64-character run key per
 * event.
 */
export class StateOverlay implements ClassificationState {
  /** runKey → `stream\u0000partition` → W. */
  private readonly watermarks = new Map<string, Map<string, Micros>>();
  /** runKey → event type → event id → applied copy. */
  private readonly applied = new Map<string, Map<string, Map<string, AppliedCopy>>>();
  private appliedCount = 0;

  constructor(private readonly base: ClassificationState) {}

  /** Applied events recorded by this overlay (not counting the base). */
  get size(): number {
    return this.appliedCount;
  }

  watermark(runKey: string, stream: string, partition: number): Micros | undefined {
    return (
      this.watermarks.get(runKey)?.get(partitionKey(stream, partition)) ??
      this.base.watermark(runKey, stream, partition)
    );
  }

  appliedCopy(runKey: string, eventType: string, eventId: string): AppliedCopy | undefined {
    return (
      this.applied.get(runKey)?.get(eventType)?.get(eventId) ??
      this.base.appliedCopy(runKey, eventType, eventId)
    );
  }

  /** Records the effects of an applied decision. */
  apply(d: Extract<Decision, { class: 'applied' }>): void {
    const { record, envelope, runKey } = d;
    const w = this.watermark(runKey, record.stream, record.partition);
    if (w === undefined || envelope.tsMicros > w) {
      let byPartition = this.watermarks.get(runKey);
      if (!byPartition) this.watermarks.set(runKey, (byPartition = new Map()));
      byPartition.set(partitionKey(record.stream, record.partition), envelope.tsMicros);
    }
    let byType = this.applied.get(runKey);
    if (!byType) this.applied.set(runKey, (byType = new Map()));
    let byId = byType.get(envelope.eventType);
    if (!byId) byType.set(envelope.eventType, (byId = new Map()));
    if (!byId.has(envelope.eventId)) this.appliedCount++;
    byId.set(envelope.eventId, {
      payloadHash: d.payloadHash,
      stream: record.stream,
      partition: record.partition,
      offset: record.offset,
    });
  }
}

function partitionKey(stream: string, partition: number): string {
  return `${stream}\u0000${partition}`;
}

export function watermarkKey(runKey: string, stream: string, partition: number): string {
  return `${runKey}\u0000${stream}\u0000${partition}`;
}

export function dedupeKey(runKey: string, eventType: string, eventId: string): string {
  return `${runKey}\u0000${eventType}\u0000${eventId}`;
}

/** Classifies prepared records in offset order against `state`, returning one decision per record. */
export function classifyInOrder(
  prepared: Prepared[],
  policy: FeaturePolicy,
  state: StateOverlay,
): Decision[] {
  return prepared.map((p) => {
    if (p.kind === 'final') return p.decision;
    const d = decide(p, policy, state);
    if (d.class === 'applied') state.apply(d);
    return d;
  });
}
