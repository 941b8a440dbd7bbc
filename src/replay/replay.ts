/**
 * Offline replay (SPEC 6 parity): rebuilds the answer to a features request from the bus alone, up to a given
 * basis, with the same classification and aggregation code as the projector and gateway — no database, no
 * Temporal. Windows are computed by scanning the applied events of the (group, key) (deliberately simple), so a
 * replay checks the tile arithmetic of the online path rather than repeating it.
 *
 * What the gateway reads per run is mirrored per stream: H (SPEC 5.2) and QUARANTINE_PRESENT (5.6) cover only the
 * streams the requested groups read, NOT_FOUND (5.8) any stream replayed.
 */
import { createHash } from 'node:crypto';
import { BusHistoryRewrittenError } from '../bus/errors';
import type { EventBus } from '../bus/event-bus';
import { FileEventBus } from '../bus/file-bus';
import {
  emptyPartial,
  finishAggregate,
  mergePartials,
  singlePartial,
  type EventPosition,
  type Partial,
} from '../core/aggregate';
import { Decimal } from '../core/decimal';
import type { RecordParser } from '../core/envelope';
import { runKeyOf, sixPins, type ContextPins } from '../core/pins';
import { streamsOf, type FeatureGroup, type FeaturePolicy } from '../core/policy';
import {
  StateOverlay,
  classifyInOrder,
  prepareRecord,
  type Decision,
  type Prepared,
} from '../core/projection';
import { RECORD_CLASSES, isInvalidClass, type RecordClass } from '../core/record';
import {
  computeFreshness,
  entryStatus,
  type FeatureEntry,
  type InputBasis,
  type NamedFeatureValue,
  type SnapshotContent,
} from '../core/snapshot';
import { formatTimestamp, type Micros } from '../core/time';
import { windowRange } from '../core/windows';
import { FeaturesRequestError, invalidRequest } from '../serving/errors';
import type { FeatureRequest } from '../serving/request';
import { replayPartsInParallel } from './parallel';

/** The basis cannot be replayed from this bus (or does not fit the request); the message says why, in one line. */
export class ReplayBasisError extends Error {
  override name = 'ReplayBasisError';
}

/** The bus changed below offsets that were already read or applied: the basis can no longer be reproduced. */
export class ReplayHistoryRewrittenError extends ReplayBasisError {
  override name = 'ReplayHistoryRewrittenError';
}

/**
 * Applied events of one (run, group, key), flat: per event its index in the replay's event table followed by the
 * canonical decimal text of each `group.fields[i]` (stride 1 + fields). One array per key keeps a bus with hundreds
 * of thousands of keys, most with a handful of events, small in memory.
 */
export type KeySeries = (number | string)[];

/** Position of every applied event of a replay, in columns (index = order of application). */
export class EventTable {
  ts = new Float64Array(1024);
  partition = new Int32Array(1024);
  offset = new Float64Array(1024);
  streamId = new Uint16Array(1024);
  readonly streams: string[] = [];
  size = 0;
  private readonly streamIds = new Map<string, number>();

  add(ts: Micros, stream: string, partition: number, offset: number): number {
    if (this.size === this.ts.length) this.grow();
    let sid = this.streamIds.get(stream);
    if (sid === undefined) {
      sid = this.streams.length;
      this.streams.push(stream);
      this.streamIds.set(stream, sid);
    }
    const i = this.size++;
    this.ts[i] = ts;
    this.partition[i] = partition;
    this.offset[i] = offset;
    this.streamId[i] = sid;
    return i;
  }

  position(i: number): EventPosition {
    return {
      ts: this.ts[i],
      stream: this.streams[this.streamId[i]],
      partition: this.partition[i],
      offset: this.offset[i],
    };
  }

  private grow(): void {
    const n = this.ts.length * 2;
    const copy = <T extends Float64Array | Int32Array | Uint16Array>(a: T, b: T): T => (b.set(a), b);
    this.ts = copy(this.ts, new Float64Array(n));
    this.partition = copy(this.partition, new Int32Array(n));
    this.offset = copy(this.offset, new Float64Array(n));
    this.streamId = copy(this.streamId, new Uint16Array(n));
  }
}

/** One applied event of a key, unpacked. */
export interface KeyEvent extends EventPosition {
  /** Values per `group.fields[i]`. */
  values: string[];
}

/** The applied events of a key in the order they were applied. */
export function keyEvents(state: ReplayState, group: FeatureGroup, ks: KeySeries): KeyEvent[] {
  const stride = 1 + group.fields.length;
  const out: KeyEvent[] = [];
  for (let i = 0; i < ks.length; i += stride) {
    out.push({ ...state.events.position(ks[i] as number), values: ks.slice(i + 1, i + stride) as string[] });
  }
  return out;
}

/** What a replay knows about one run (the six pins). */
export interface RunState {
  /** The six required pins, as read from the first applied event (no run_id). */
  pins: ContextPins;
  /** Greatest applied ts per stream (H of SPEC 5.2 is the maximum over the streams read). */
  h: Map<string, Micros>;
  /** Least applied ts per stream. */
  minTs: Map<string, Micros>;
  /** Streams with a quarantined record of this run (pins readable). */
  quarantined: Set<string>;
  /** `group/version` → key id → applied events (see KeySeries). */
  groups: Map<string, Map<string, KeySeries>>;
}

export interface ReplayState {
  /** Runs with at least one applied event, by run key. */
  runs: Map<string, RunState>;
  /** Runs whose only records were quarantined (readable pins, nothing applied), by run key: stream set. */
  quarantinedOnly: Map<string, { pins: ContextPins; streams: Set<string> }>;
  /** Records per class (accounting: their sum is the number of records replayed). */
  counts: Record<RecordClass, number>;
  /** The basis replayed, streams sorted, partitions ascending. */
  basis: InputBasis[];
  /** Positions of the applied events. */
  events: EventTable;
}

export interface ReplayOptions {
  /** Called after every batch with the number of records replayed so far. */
  onProgress?: (records: number) => void;
  /** Records per bus read. Default 5000 (2000 with workers). */
  batchSize?: number;
  /**
   * Worker threads that read and prepare records ahead of the main thread (file bus only; workers parse with the
   * platform contracts of src/contracts, not `parser`). Default 0: everything on the calling thread. The result is
   * identical either way.
   */
  workers?: number;
  /** Below this many records the replay stays on the calling thread (starting workers costs more). Default 20,000. */
  minRecordsForWorkers?: number;
}

const groupRef = (g: { name: string; version: string }) => `${g.name}/${g.version}`;

function emptyCounts(): Record<RecordClass, number> {
  return Object.fromEntries(RECORD_CLASSES.map((c) => [c, 0])) as Record<RecordClass, number>;
}

/** Streams sorted, partitions ascending, offsets as canonical decimal strings; repeated partitions refused. */
export function normaliseBasis(basis: InputBasis[]): InputBasis[] {
  const seen = new Set<string>();
  return [...basis]
    .sort((x, y) => (x.stream < y.stream ? -1 : x.stream > y.stream ? 1 : 0))
    .map((b) => {
      if (seen.has(b.stream)) throw new ReplayBasisError(`basis names stream ${b.stream} twice`);
      seen.add(b.stream);
      const partitions = new Set<number>();
      const offsets = [...b.offsets]
        .sort((x, y) => x.partition - y.partition)
        .map(({ partition, offset }) => {
          if (!Number.isSafeInteger(partition) || partition < 0) {
            throw new ReplayBasisError(`${b.stream}: partition ${partition} is not a non-negative integer`);
          }
          if (partitions.has(partition))
            throw new ReplayBasisError(`${b.stream}: partition ${partition} named twice`);
          partitions.add(partition);
          if (!/^(0|[1-9][0-9]{0,15})$/.test(offset) || !Number.isSafeInteger(Number(offset))) {
            throw new ReplayBasisError(
              `${b.stream}/${partition}: offset "${offset}" is not a non-negative integer`,
            );
          }
          return { partition, offset };
        });
      return { stream: b.stream, offsetKind: b.offsetKind, offsets };
    });
}

/** The current end of every partition of `streams` (default: every stream the policy reads): a basis covering all. */
export async function fullBasis(
  bus: EventBus,
  policy: FeaturePolicy,
  streams = streamsOf(policy.groups),
): Promise<InputBasis[]> {
  const out: InputBasis[] = [];
  for (const stream of [...streams].sort()) {
    const offsets: InputBasis['offsets'] = [];
    for (const partition of await bus.listPartitions(stream)) {
      offsets.push({ partition, offset: String(await guardHistory(() => bus.endOffset(stream, partition))) });
    }
    out.push({ stream, offsetKind: bus.offsetKind, offsets });
  }
  return out;
}

/** Runs a bus call, turning BusHistoryRewrittenError into the replay's own error with an explanation. */
async function guardHistory<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof BusHistoryRewrittenError) throw historyRewritten(err);
    throw err;
  }
}

function historyRewritten(err: {
  stream?: string;
  partition?: number;
  offset?: number;
  message: string;
}): ReplayHistoryRewrittenError {
  const detail = err.message.replace(/^bus history rewritten: .*? below offset [0-9]+: /, '');
  return new ReplayHistoryRewrittenError(
    `bus history rewritten: ${err.stream} partition ${err.partition} changed below offset ${err.offset} (${detail}); ` +
      'answers whose basis covers it cannot be reproduced from this bus',
    { cause: err },
  );
}

/**
 * Checks that every partition of `basis` can be read up to its offset; returns the partitions to read.
 * @throws ReplayBasisError naming the partition: not on the bus, or its offset beyond the bus end
 */
export async function checkBasisOnBus(
  bus: EventBus,
  basis: InputBasis[],
): Promise<{ stream: string; partition: number; until: number }[]> {
  const out: { stream: string; partition: number; until: number }[] = [];
  for (const b of normaliseBasis(basis)) {
    if (b.offsetKind !== bus.offsetKind) {
      throw new ReplayBasisError(
        `${b.stream}: basis offset kind ${b.offsetKind} is not this bus's ${bus.offsetKind}`,
      );
    }
    const known = new Set(await bus.listPartitions(b.stream));
    for (const { partition, offset } of b.offsets) {
      const until = Number(offset);
      if (until === 0) continue;
      if (!known.has(partition)) {
        const list =
          known.size === 0 ? `the stream has no partition there` : `it has ${[...known].join(', ')}`;
        throw new ReplayBasisError(
          `${b.stream}: partition ${partition} does not exist on the bus at ${bus.location} (${list})`,
        );
      }
      const end = await guardHistory(() => bus.endOffset(b.stream, partition));
      if (until > end) {
        throw new ReplayBasisError(
          `${b.stream}/${partition}: basis offset ${until} is beyond the bus end ${end} ` +
            `(the basis names records this bus does not have: another bus, or history rewritten below an applied offset)`,
        );
      }
      out.push({ stream: b.stream, partition, until });
    }
  }
  return out;
}

/**
 * Replays the streams of `basis` up to their exclusive-next offsets (streams sorted, partitions ascending) into
 * in-memory state, classifying exactly as the projector does.
 * @throws ReplayBasisError when the basis cannot be read from this bus, ReplayHistoryRewrittenError when the bus
 *   changed under offsets already read
 */
export async function replayBus(
  bus: EventBus,
  policy: FeaturePolicy,
  parser: RecordParser,
  basis: InputBasis[],
  options: ReplayOptions | ((records: number) => void) = {},
): Promise<ReplayState> {
  const o: ReplayOptions = typeof options === 'function' ? { onProgress: options } : options;
  const normalised = normaliseBasis(basis);
  const parts = await checkBasisOnBus(bus, normalised);
  const replayer = new Replayer(policy, normalised);
  const records = parts.reduce((sum, p) => sum + p.until, 0);
  if ((o.workers ?? 0) > 0 && records >= (o.minRecordsForWorkers ?? 20_000) && bus instanceof FileEventBus) {
    await replayPartsInParallel(bus.root, policy, parts, replayer, {
      workers: o.workers as number,
      batchSize: o.batchSize ?? 2000,
      onProgress: o.onProgress,
      toError: (e) => (e.name === 'BusHistoryRewrittenError' ? historyRewritten(e) : new Error(e.message)),
    });
    return replayer.state;
  }
  const batchSize = o.batchSize ?? 5000;
  let total = 0;
  for (const { stream, partition, until } of parts) {
    let at = 0;
    while (at < until) {
      const read = await guardHistory(() => bus.read(stream, partition, at, Math.min(batchSize, until - at)));
      if (read.records.length === 0) {
        throw new ReplayHistoryRewrittenError(
          `${stream}/${partition}: no record at offset ${at} although the bus end was past it`,
        );
      }
      replayer.absorbPrepared(read.records.map((r) => prepareRecord(r, policy, parser)));
      at = read.nextOffset;
      total += read.records.length;
      o.onProgress?.(total);
    }
  }
  return replayer.state;
}

/** Classification and in-memory state of one replay; records must arrive in replay order. */
export class Replayer {
  readonly state: ReplayState;
  private readonly overlay = new StateOverlay({ watermark: () => undefined, appliedCopy: () => undefined });

  constructor(
    private readonly policy: FeaturePolicy,
    basis: InputBasis[],
  ) {
    this.state = {
      runs: new Map(),
      quarantinedOnly: new Map(),
      counts: emptyCounts(),
      basis,
      events: new EventTable(),
    };
  }

  absorbPrepared(prepared: Prepared[]): void {
    for (const d of classifyInOrder(prepared, this.policy, this.overlay)) this.absorb(d);
  }

  absorb(d: Decision): void {
    const state = this.state;
    state.counts[d.class]++;
    if (isInvalidClass(d.class)) {
      const { runKey, pins } = d as { runKey: string | null; pins?: ContextPins };
      if (runKey === null) return;
      const run = state.runs.get(runKey);
      if (run) run.quarantined.add(d.record.stream);
      else {
        let q = state.quarantinedOnly.get(runKey);
        if (!q)
          state.quarantinedOnly.set(runKey, (q = { pins: sixPins(pins as ContextPins), streams: new Set() }));
        q.streams.add(d.record.stream);
      }
      return;
    }
    if (d.class !== 'applied') return;
    const { record, envelope } = d;
    const ts = envelope.tsMicros;
    let run = state.runs.get(d.runKey);
    if (!run) {
      const q = state.quarantinedOnly.get(d.runKey);
      state.quarantinedOnly.delete(d.runKey);
      run = {
        pins: sixPins(envelope.pins),
        h: new Map(),
        minTs: new Map(),
        quarantined: q?.streams ?? new Set(),
        groups: new Map(),
      };
      state.runs.set(d.runKey, run);
    }
    const h = run.h.get(record.stream);
    if (h === undefined || ts > h) run.h.set(record.stream, ts);
    const lo = run.minTs.get(record.stream);
    if (lo === undefined || ts < lo) run.minTs.set(record.stream, ts);
    const event = state.events.add(ts, record.stream, record.partition, record.offset);
    for (const c of d.contributions) {
      const g = c.group;
      let keys = run.groups.get(groupRef(g));
      if (!keys) run.groups.set(groupRef(g), (keys = new Map()));
      let ks = keys.get(c.keyId);
      if (!ks) keys.set(detach(c.keyId), (ks = []));
      // Contributions of one group come field by field in `group.fields` order (one with field '' when it has none).
      if (g.fields.length === 0 || c.field === g.fields[0]) ks.push(event);
      if (g.fields.length > 0) ks.push(detach(c.value));
    }
  }
}

/**
 * A copy of `text` that does not keep its source alive. Number texts are slices of the raw line, itself a slice of
 * the decoded read buffer (megabytes): keeping one 16-digit key id would otherwise keep the whole buffer text.
 * V8 makes slices only of strings of 13 or more characters; the concatenation forces a fresh flat string.
 */
function detach(text: string): string {
  return text.length < 13 ? text : (' ' + text).slice(1);
}

/** Offsets of `basis` per `stream/partition` (absent partitions are 0). */
function offsetsOf(basis: InputBasis[], stream: string): Map<number, string> {
  const b = basis.find((x) => x.stream === stream);
  return new Map((b?.offsets ?? []).filter((o) => o.offset !== '0').map((o) => [o.partition, o.offset]));
}

/** Aggregates one field of a key's events over [lo, hi). */
function windowPartial(
  events: EventTable,
  ks: KeySeries,
  stride: number,
  fieldIndex: number,
  lo: Micros,
  hi: Micros,
): Partial {
  let partial = emptyPartial();
  for (let i = 0; i < ks.length; i += stride) {
    const e = ks[i] as number;
    const ts = events.ts[e];
    if (ts < lo || ts >= hi) continue;
    const value = stride === 1 ? '0' : (ks[i + 1 + fieldIndex] as string);
    partial = mergePartials(partial, singlePartial(events.position(e), new Decimal(value)));
  }
  return partial;
}

/**
 * Answers a validated request from replayed state, as the gateway would at `basis`; throws FeaturesRequestError
 * (NOT_FOUND, INVALID_REQUEST for the retention boundary) like the gateway does.
 * @throws ReplayBasisError when `basis` does not name a stream the groups read, or differs from the replayed basis
 *   on a stream the groups read
 */
export function answerFromReplay(
  state: ReplayState,
  policy: FeaturePolicy,
  req: FeatureRequest,
  basis: InputBasis[],
): SnapshotContent {
  const streams = streamsOf(req.groups);
  const normalised = normaliseBasis(basis);
  for (const stream of streams) {
    const wanted = offsetsOf(normalised, stream);
    const replayed = offsetsOf(state.basis, stream);
    if (!normalised.some((b) => b.stream === stream)) {
      const reader = req.groups.find((g) => g.streams.includes(stream)) as FeatureGroup;
      throw new ReplayBasisError(
        `basis names no offsets for ${stream}, which group ${groupRef(reader)} reads`,
      );
    }
    const same = wanted.size === replayed.size && [...wanted].every(([p, o]) => replayed.get(p) === o);
    if (!same) throw new ReplayBasisError(`${stream}: the requested basis differs from the basis replayed`);
  }
  const runKey = runKeyOf(req.pins);
  const run = state.runs.get(runKey);
  if (run === undefined)
    throw new FeaturesRequestError(
      'NOT_FOUND',
      'no event with these six pins has been applied on any stream',
    );
  let h: Micros | null = null;
  for (const s of streams) {
    const hs = run.h.get(s);
    if (hs !== undefined && (h === null || hs > h)) h = hs;
  }
  if (h !== null && req.asOf < h - policy.horizonMicros) {
    throw invalidRequest(
      `RETENTION_BOUNDARY_EXCEEDED: asOf ${req.asOfUtc} is before the earliest servable instant ${formatTimestamp(h - policy.horizonMicros)}`,
    );
  }
  const recencyFloor = h === null ? null : h - policy.keyRetentionMicros;
  const features: FeatureEntry[] = [];
  for (const group of req.groups) {
    const keys = run.groups.get(groupRef(group));
    for (const key of req.keys) {
      if (key.keyType !== group.keyType) continue;
      const ks = keys?.get(key.keyId);
      const stride = 1 + group.fields.length;
      let last: Micros | null = null;
      if (ks) {
        for (let i = 0; i < ks.length; i += stride) {
          const ts = state.events.ts[ks[i] as number];
          if (ts <= req.asOf && (last === null || ts > last)) last = ts;
        }
      }
      if (last !== null && (recencyFloor === null || last <= recencyFloor)) last = null;
      const values: NamedFeatureValue[] = [];
      const partials = new Map<string, Partial>();
      for (const f of group.features) {
        const fieldIndex = f.field === undefined ? 0 : group.fields.indexOf(f.field);
        for (const w of group.windows) {
          const memo = `${fieldIndex}:${w.micros}`;
          let partial = partials.get(memo);
          if (partial === undefined) {
            const { lo, hi } = windowRange(req.asOf, w.micros);
            partial = ks ? windowPartial(state.events, ks, stride, fieldIndex, lo, hi) : emptyPartial();
            partials.set(memo, partial);
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
  const read = new Set(streams);
  return {
    pins: req.pins,
    asOfUtc: req.asOfUtc,
    policyRev: { policyId: policy.policyId, revision: policy.revision, contentDigest: policy.contentDigest },
    featureGroups: req.groups.map((g) => ({ name: g.name, version: g.version })),
    inputBasis: normalised.filter((b) => read.has(b.stream)),
    graphVersion: null,
    freshness: computeFreshness(
      features.map((f) => f.status),
      streams.some((s) => run.quarantined.has(s)),
    ),
    features,
  };
}

/**
 * A digest of everything a replay state answers from (counts, runs, per-stream H, quarantine, every key's events in
 * application order): two replays with the same digest answer every request identically.
 */
export function replayStateDigest(state: ReplayState): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(state.counts));
  hash.update(JSON.stringify(state.basis));
  const runKeys = [...state.runs.keys()].sort();
  for (const runKey of runKeys) {
    const run = state.runs.get(runKey) as RunState;
    hash.update(
      `run ${runKey} ${JSON.stringify([...run.h].sort())} ${JSON.stringify([...run.minTs].sort())} ${[...run.quarantined].sort().join(',')}\n`,
    );
    for (const ref of [...run.groups.keys()].sort()) {
      const keys = run.groups.get(ref) as Map<string, KeySeries>;
      for (const keyId of [...keys.keys()].sort()) {
        const ks = keys.get(keyId) as KeySeries;
        hash.update(`${ref} ${keyId}`);
        for (const x of ks)
          hash.update(typeof x === 'number' ? ` ${JSON.stringify(state.events.position(x))}` : ` ${x}`);
        hash.update('\n');
      }
    }
  }
  for (const runKey of [...state.quarantinedOnly.keys()].sort()) {
    hash.update(
      `quarantined-only ${runKey} ${[...(state.quarantinedOnly.get(runKey)?.streams ?? [])].sort().join(',')}\n`,
    );
  }
  return hash.digest('hex');
}
