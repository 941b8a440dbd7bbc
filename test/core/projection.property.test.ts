/**
 * Properties of the pure projection core (SPEC 4, 5.2, 6), no services:
 *
 * 1. Arrival order does not matter: the same events (copies always on the event's partition) in any order within
 *    and across partitions, with duplicates re-sent in equivalent encodings, classified in chunks of random size on
 *    top of a persistent base state (as the projector does, partitions interleaved), with "restarts" that rebuild
 *    the base from the decisions applied so far, give the same feature values and snapshot hashes as one sequential
 *    replay of another arrangement.
 * 2. The window boundary (asOf − d, asOf] holds at microsecond resolution.
 * 3. A deliberately naive oracle written here — scan every record in replay order, decide validity, duplicates,
 *    anomalies and lateness from what the test generated, filter by time, aggregate with decimal.js directly —
 *    agrees with `answerFromReplay` over thousands of random queries.
 */
import DecimalJs from 'decimal.js';
import fc from 'fast-check';
import { envelopeSchema, payloadSchemas } from '../../src/contracts';
import { RecordParser } from '../../src/core/envelope';
import { parsePolicy } from '../../src/core/policy';
import {
  StateOverlay,
  classifyInOrder,
  dedupeKey,
  prepareRecord,
  watermarkKey,
  type AppliedCopy,
  type ClassificationState,
  type Decision,
} from '../../src/core/projection';
import {
  snapshotHash,
  type FeatureEntry,
  type Freshness,
  type SnapshotContent,
} from '../../src/core/snapshot';
import {
  MICROS_PER_DAY,
  MICROS_PER_HOUR,
  MICROS_PER_MINUTE,
  formatTimestamp,
  parseTimestamp,
  type Micros,
} from '../../src/core/time';
import { Replayer, answerFromReplay, replayBus, type ReplayState } from '../../src/replay/replay';
import { FeaturesRequestError } from '../../src/serving/errors';
import { validateRequest, type FeatureRequestInput } from '../../src/serving/request';
import { MemoryBus } from '../replay/support/memory-bus';
import {
  ANCHOR,
  ENCODINGS,
  INVALID_KINDS,
  RUNS,
  TRAFFIC,
  equivalentAmounts,
  quarantinedWithRun,
  renderEvent,
  renderInvalid,
  requestPins,
  streamOf,
  type InvalidKind,
  type TestEvent,
} from '../replay/support/events';

jest.setTimeout(120_000);

const POLICY = parsePolicy(
  `
policy_id: ofp.features.property
revision: p1
lateness: 1h
key_retention: 10d
groups:
  - name: flow_activity
    version: p1
    key_type: flow_id
    key_field: flow_id
    streams: [${TRAFFIC}]
    event_types: [s3_event_stream_with_fraud_6B]
    ttl: 1d
    windows: [1m, 1h, 24h]
    features:
      - { name: txn_count, agg: count }
      - { name: amount_sum, agg: sum, field: amount }
      - { name: amount_min, agg: min, field: amount }
      - { name: amount_max, agg: max, field: amount }
      - { name: amount_avg, agg: avg, field: amount }
      - { name: amount_last, agg: last, field: amount }
  - name: merchant_velocity
    version: p1
    key_type: merchant_id
    key_field: merchant_id
    streams: [${ANCHOR}]
    event_types: [s3_flow_anchor_with_fraud_6B]
    ttl: 7d
    windows: [1h, 7d]
    features:
      - { name: flow_count, agg: count }
      - { name: amount_sum, agg: sum, field: amount }
      - { name: amount_last, agg: last, field: amount }
      - { name: amount_avg, agg: avg, field: amount }
`,
  'property-policy.yaml',
);
const parser = new RecordParser({ envelopeSchema, payloadSchemas });
const T0 = parseTimestamp('2026-02-06T17:00:00.000000Z') as Micros;
const STREAMS = [ANCHOR, TRAFFIC];
const KEYS = ['1', '2', '3', '42', '0', '-0', '9007199254740993', '18446744073709551616'];

// ---------------------------------------------------------------------------------------------------------------
// Generated buses: records with what the test knows about each.

type Meta =
  | { kind: 'event'; e: TestEvent; /** amount literal as written */ amount: string }
  | { kind: 'invalid'; cls: InvalidKind; run: number };

interface GeneratedBus {
  bus: MemoryBus;
  /** stream → partition → what each line is. */
  meta: Map<string, Map<number, Meta[]>>;
  events: TestEvent[];
}

function place(g: GeneratedBus, stream: string, partition: number, line: string, m: Meta): void {
  g.bus.append(stream, partition, line);
  let parts = g.meta.get(stream);
  if (!parts) g.meta.set(stream, (parts = new Map()));
  let list = parts.get(partition);
  if (!list) parts.set(partition, (list = []));
  list.push(m);
}

const amountArb = fc
  .record({ units: fc.integer({ min: -2_000_000, max: 20_000_000 }), scale: fc.integer({ min: 0, max: 3 }) })
  .map(({ units, scale }) => {
    const neg = units < 0;
    const digits = String(Math.abs(units)).padStart(scale + 1, '0');
    const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
    return neg ? `-${text}` : text;
  });

/** Event times clustered around a few instants, so windows overlap, hit edges and exceed the horizon. */
const CENTERS = [
  0,
  MICROS_PER_HOUR,
  MICROS_PER_DAY,
  7 * MICROS_PER_DAY,
  8 * MICROS_PER_DAY,
  12 * MICROS_PER_DAY,
];
const tsArb = (spread: Micros) =>
  fc
    .oneof(
      fc.integer({ min: 0, max: spread }),
      fc
        .tuple(
          fc.constantFrom(...CENTERS.filter((c) => c <= spread)),
          fc.integer({ min: -2 * MICROS_PER_HOUR, max: 2 * MICROS_PER_HOUR }),
        )
        .map(([c, j]) => Math.max(0, c + j)),
      fc
        .tuple(fc.constantFrom(...CENTERS.filter((c) => c <= spread)), fc.integer({ min: -3, max: 3 }))
        .map(([c, j]) => Math.max(0, c + j)),
    )
    .map((o) => T0 + o);

const eventArb = (spread: Micros, ids: number) =>
  fc.record({
    run: fc.integer({ min: 0, max: 1 }),
    stream: fc.constantFrom<'anchor' | 'traffic'>('anchor', 'traffic'),
    eventId: fc.integer({ min: 0, max: ids - 1 }).map((i) => `e${i}`),
    ts: tsArb(spread),
    key: fc.constantFrom(...KEYS),
    amount: amountArb,
  });

type Step =
  | { kind: 'event'; e: TestEvent; partition: number; encoding: number }
  | {
      kind: 'copy';
      of: number;
      encoding: number;
      literal: number;
      crossPartition: boolean;
      anomaly: boolean;
      amount: string;
    }
  | { kind: 'invalid'; cls: InvalidKind; e: TestEvent; variant: number; partition: number };

const stepArb = (spread: Micros, ids: number): fc.Arbitrary<Step> =>
  fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({
        kind: fc.constant('event' as const),
        e: eventArb(spread, ids),
        partition: fc.integer({ min: 0, max: 1 }),
        encoding: fc.integer({ min: 0, max: ENCODINGS - 1 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('copy' as const),
        of: fc.nat(),
        encoding: fc.integer({ min: 0, max: ENCODINGS - 1 }),
        literal: fc.nat(),
        crossPartition: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
        anomaly: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
        amount: amountArb,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('invalid' as const),
        cls: fc.constantFrom(...INVALID_KINDS),
        e: eventArb(spread, ids),
        variant: fc.nat(3),
        partition: fc.integer({ min: 0, max: 1 }),
      }),
    },
  );

/** Builds a bus from steps in order (copies land on their original's partition unless marked cross-partition). */
function buildBus(steps: Step[]): GeneratedBus {
  const g: GeneratedBus = { bus: new MemoryBus(), meta: new Map(), events: [] };
  const placed: { e: TestEvent; partition: number }[] = [];
  for (const s of steps) {
    if (s.kind === 'event') {
      place(g, streamOf(s.e), s.partition, renderEvent(s.e, s.encoding), {
        kind: 'event',
        e: s.e,
        amount: s.e.amount,
      });
      placed.push({ e: s.e, partition: s.partition });
      g.events.push(s.e);
    } else if (s.kind === 'copy') {
      if (placed.length === 0) continue;
      const orig = placed[s.of % placed.length];
      const partition = s.crossPartition ? 1 - orig.partition : orig.partition;
      const literals = equivalentAmounts(orig.e.amount);
      const amount =
        s.anomaly && new DecimalJs(s.amount).eq(orig.e.amount) === false
          ? s.amount
          : literals[s.literal % literals.length];
      place(g, streamOf(orig.e), partition, renderEvent(orig.e, s.encoding, amount), {
        kind: 'event',
        e: orig.e,
        amount,
      });
    } else {
      place(g, streamOf(s.e), s.partition, renderInvalid(s.cls, s.e, s.variant), {
        kind: 'invalid',
        cls: s.cls,
        run: s.e.run,
      });
    }
  }
  return g;
}

// ---------------------------------------------------------------------------------------------------------------
// The naive oracle.

const D = DecimalJs.clone({ precision: 200 });
const HORIZON = 7 * MICROS_PER_DAY + MICROS_PER_HOUR;
const KEY_RETENTION = 10 * MICROS_PER_DAY;

function canonicalText(d: DecimalJs): string {
  if (d.isZero()) return '0';
  const t = d.toFixed();
  return t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t;
}

interface OracleEvent {
  run: number;
  stream: string;
  partition: number;
  offset: number;
  ts: Micros;
  key: string;
  value: DecimalJs;
}

interface Oracle {
  applied: OracleEvent[];
  quarantined: Set<string>; // `${run}|${stream}`
  counts: Record<string, number>;
}

/** Replays the generated bus the naive way: in replay order, deciding every record from what the test generated. */
function oracleOf(g: GeneratedBus): Oracle {
  const o: Oracle = { applied: [], quarantined: new Set(), counts: {} };
  const count = (c: string) => (o.counts[c] = (o.counts[c] ?? 0) + 1);
  const watermark = new Map<string, Micros>();
  const firstCopy = new Map<string, string>(); // dedupe key → payload identity
  for (const stream of [...g.meta.keys()].sort()) {
    const parts = g.meta.get(stream) as Map<number, Meta[]>;
    for (const partition of [...parts.keys()].sort((a, b) => a - b)) {
      (parts.get(partition) as Meta[]).forEach((m, offset) => {
        if (m.kind === 'invalid') {
          count(m.cls);
          if (quarantinedWithRun(m.cls)) o.quarantined.add(`${RUNS[m.run].seed}|${stream}`);
          return;
        }
        const e = m.e;
        const runId = RUNS[e.run].seed;
        const wk = `${runId}|${stream}|${partition}`;
        const w = watermark.get(wk);
        if (w !== undefined && e.ts < w - HORIZON) {
          count('too_late');
          o.quarantined.add(`${runId}|${stream}`);
          return;
        }
        const key = BigInt(e.key).toString();
        const identity = `${key}|${canonicalText(new D(m.amount))}|${e.ts}`;
        const dk = `${runId}|${stream}|${e.eventId}`;
        const first = firstCopy.get(dk);
        if (first !== undefined) {
          if (first === identity) count('duplicate');
          else {
            count('anomaly');
            o.quarantined.add(`${runId}|${stream}`);
          }
          return;
        }
        count('applied');
        firstCopy.set(dk, identity);
        if (w === undefined || e.ts > w) watermark.set(wk, e.ts);
        o.applied.push({ run: e.run, stream, partition, offset, ts: e.ts, key, value: new D(m.amount) });
      });
    }
  }
  return o;
}

type Expected = { error: string } | { features: FeatureEntry[]; freshness: Freshness };

/** The oracle's answer to a request over the default-free test policy. */
function oracleAnswer(o: Oracle, input: FeatureRequestInput): Expected {
  const run = RUNS.findIndex(
    (r) => r.seed === input.pins.seed && r.scenario_run_id === input.pins.scenarioRunId,
  );
  const groups = input.groups.map((ref) =>
    POLICY.groups.find((g) => g.name === ref.name && g.version === ref.version),
  );
  if (groups.some((g) => g === undefined)) return { error: 'INVALID_REQUEST' };
  const gs = groups.filter((g, i) => groups.findIndex((x) => x === g) === i) as typeof POLICY.groups;
  const keys = input.keys.filter(
    (k, i) => input.keys.findIndex((x) => x.keyType === k.keyType && x.keyId === k.keyId) === i,
  );
  if (keys.some((k) => !gs.some((g) => g.keyType === k.keyType))) return { error: 'INVALID_REQUEST' };
  const asOf = parseTimestamp(input.asOf) as Micros;
  const mine = o.applied.filter((e) => e.run === run);
  if (run < 0 || mine.length === 0) return { error: 'NOT_FOUND' };
  const streams = [...new Set(gs.flatMap((g) => g.streams))];
  const inStreams = mine.filter((e) => streams.includes(e.stream));
  const h = inStreams.length === 0 ? null : Math.max(...inStreams.map((e) => e.ts));
  if (h !== null && asOf < h - HORIZON) return { error: 'INVALID_REQUEST' };
  const features: FeatureEntry[] = [];
  for (const g of gs) {
    for (const k of keys) {
      if (k.keyType !== g.keyType) continue;
      const events = mine.filter((e) => g.streams.includes(e.stream) && e.key === k.keyId);
      const upTo = events
        .filter((e) => e.ts <= asOf && h !== null && e.ts > h - KEY_RETENTION)
        .map((e) => e.ts);
      const last = upTo.length === 0 ? null : Math.max(...upTo);
      const status = last === null ? 'NO_DATA' : asOf - last > g.ttlMicros ? 'STALE' : 'OK';
      const values = [];
      for (const f of g.features) {
        for (const w of g.windows) {
          const inside = events.filter((e) => e.ts > asOf - w.micros && e.ts <= asOf);
          let value: { kind: 'count'; value: number } | { kind: 'decimal'; value: string | null };
          const sum = inside.reduce((s, e) => s.plus(e.value), new D(0));
          switch (f.agg) {
            case 'count':
              value = { kind: 'count', value: inside.length };
              break;
            case 'sum':
              value = { kind: 'decimal', value: canonicalText(sum) };
              break;
            case 'min':
              value = {
                kind: 'decimal',
                value: inside.length === 0 ? null : canonicalText(D.min(...inside.map((e) => e.value))),
              };
              break;
            case 'max':
              value = {
                kind: 'decimal',
                value: inside.length === 0 ? null : canonicalText(D.max(...inside.map((e) => e.value))),
              };
              break;
            case 'avg':
              value = {
                kind: 'decimal',
                value:
                  inside.length === 0
                    ? null
                    : canonicalText(sum.div(inside.length).toDecimalPlaces(6, DecimalJs.ROUND_HALF_EVEN)),
              };
              break;
            case 'last': {
              const latest = [...inside].sort(
                (a, b) =>
                  b.ts - a.ts ||
                  (a.stream < b.stream ? 1 : a.stream > b.stream ? -1 : 0) ||
                  b.partition - a.partition ||
                  b.offset - a.offset,
              )[0];
              value = { kind: 'decimal', value: latest === undefined ? null : canonicalText(latest.value) };
              break;
            }
          }
          values.push({ name: `${f.name}_${w.label}`, value });
        }
      }
      features.push({
        group: g.name,
        version: g.version,
        keyType: k.keyType,
        keyId: k.keyId,
        status,
        lastEventTsUtc: last === null ? null : formatTimestamp(last),
        values,
      });
    }
  }
  const flags: Freshness['flags'] = [];
  if (features.some((f) => f.status === 'NO_DATA')) flags.push('NO_DATA_KEYS');
  if (streams.some((s) => o.quarantined.has(`${RUNS[run].seed}|${s}`))) flags.push('QUARANTINE_PRESENT');
  if (features.some((f) => f.status === 'STALE')) flags.push('STALE_KEYS');
  return { features, freshness: { state: flags.length === 0 ? 'GREEN' : 'AMBER', flags } };
}

// ---------------------------------------------------------------------------------------------------------------
// Queries.

function asOfCandidates(events: TestEvent[]): Micros[] {
  const out: Micros[] = [T0 - 1, T0 - MICROS_PER_DAY];
  for (const e of events.slice(0, 40)) {
    for (const d of [0, MICROS_PER_MINUTE, MICROS_PER_HOUR, MICROS_PER_DAY, 7 * MICROS_PER_DAY])
      out.push(e.ts + d, e.ts + d - 1, e.ts + d + 1, e.ts - d);
  }
  return out;
}

const queryArb = (events: TestEvent[]): fc.Arbitrary<FeatureRequestInput> =>
  fc
    .record({
      run: fc.integer({ min: 0, max: 2 }),
      runId: fc.boolean(),
      asOf: fc.oneof(
        fc.constantFrom(...asOfCandidates(events)),
        fc.integer({ min: T0 - MICROS_PER_DAY, max: T0 + 22 * MICROS_PER_DAY }),
      ),
      groups: fc.subarray(POLICY.groups, { minLength: 1 }),
      keys: fc.array(
        fc.record({ anchor: fc.boolean(), key: fc.oneof(fc.constantFrom(...KEYS), fc.constant('77')) }),
        { minLength: 1, maxLength: 5 },
      ),
    })
    .map(({ run, runId, asOf, groups, keys }) => {
      const pins = run === 2 ? { ...requestPins(0), scenarioRunId: 'e5'.repeat(16) } : requestPins(run);
      const served = new Set(groups.map((g) => g.keyType));
      return {
        pins: runId ? { ...pins, runId: 'd4'.repeat(16) } : pins,
        asOf: formatTimestamp(asOf),
        groups: groups.map((g) => ({ name: g.name, version: g.version })),
        keys: keys
          .map((k) => ({ keyType: k.anchor ? 'merchant_id' : 'flow_id', keyId: k.key.replace(/^-0$/, '0') }))
          .filter((k) => served.has(k.keyType))
          .concat(groups.length === 1 ? [{ keyType: groups[0].keyType, keyId: '3' }] : []),
      };
    });

type Actual = { error: string } | { content: SnapshotContent };

function actualAnswer(
  state: ReplayState,
  input: FeatureRequestInput,
  basis: SnapshotContent['inputBasis'],
): Actual {
  try {
    return { content: answerFromReplay(state, POLICY, validateRequest(input, POLICY), basis) };
  } catch (err) {
    if (err instanceof FeaturesRequestError) return { error: err.code };
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A projector-like pipeline: chunks, a persistent base, interleaved partitions, restarts.

interface Store extends ClassificationState {
  committed: Decision[];
}

function storeFrom(committed: Decision[]): Store {
  // What a restarted projector sees: the ledger and watermarks as the committed decisions left them.
  const applied = new Map<string, AppliedCopy>();
  const watermarks = new Map<string, Micros>();
  for (const d of committed) {
    if (d.class !== 'applied') continue;
    const dk = dedupeKey(d.runKey, d.envelope.eventType, d.envelope.eventId);
    if (!applied.has(dk))
      applied.set(dk, {
        payloadHash: d.payloadHash,
        stream: d.record.stream,
        partition: d.record.partition,
        offset: d.record.offset,
      });
    const wk = watermarkKey(d.runKey, d.record.stream, d.record.partition);
    const w = watermarks.get(wk);
    if (w === undefined || d.envelope.tsMicros > w) watermarks.set(wk, d.envelope.tsMicros);
  }
  return {
    committed,
    watermark: (r, s, p) => watermarks.get(watermarkKey(r, s, p)),
    appliedCopy: (r, t, i) => applied.get(dedupeKey(r, t, i)),
  };
}

async function projectInChunks(
  bus: MemoryBus,
  schedule: { pick: number; size: number; restart: boolean }[],
): Promise<ReplayState> {
  const cursors: { stream: string; partition: number; at: number; end: number }[] = [];
  for (const stream of await bus.listStreams()) {
    for (const partition of await bus.listPartitions(stream))
      cursors.push({ stream, partition, at: 0, end: await bus.endOffset(stream, partition) });
  }
  let store = storeFrom([]);
  // The persistent base between restarts: one overlay per "process", seeded from the store.
  let overlay = new StateOverlay(store);
  let step = 0;
  while (cursors.some((c) => c.at < c.end)) {
    const s = schedule[step++ % schedule.length];
    const open = cursors.filter((c) => c.at < c.end);
    const c = open[s.pick % open.length];
    const read = await bus.read(c.stream, c.partition, c.at, s.size);
    const decisions = classifyInOrder(
      read.records.map((r) => prepareRecord(r, POLICY, parser)),
      POLICY,
      overlay,
    );
    store.committed.push(...decisions);
    c.at = read.nextOffset;
    if (s.restart) {
      // A restart (or the next batch of the projector, which prefetches its base from the database): the base is
      // rebuilt from the decisions committed so far and a fresh overlay sits on it.
      store = storeFrom(store.committed);
      overlay = new StateOverlay(store);
    }
    // Otherwise the overlay persists across batches, like the replay's.
  }
  const basis = bus.basis(STREAMS);
  const replayer = new Replayer(POLICY, basis);
  for (const d of store.committed) replayer.absorb(d);
  return replayer.state;
}

// ---------------------------------------------------------------------------------------------------------------

describe('projection core: properties', () => {
  it('arrival order, duplicates, batch sizes and restarts do not change values or hashes', async () => {
    const scenario = fc
      .uniqueArray(fc.integer({ min: 0, max: 6 * MICROS_PER_DAY }), { minLength: 5, maxLength: 60 })
      .chain((offsets) =>
        fc.record({
          events: fc.tuple(
            ...offsets.map((o, i) =>
              fc.record({
                run: fc.integer({ min: 0, max: 1 }),
                stream: fc.constantFrom<'anchor' | 'traffic'>('anchor', 'traffic'),
                eventId: fc.constant(`u${i}`),
                ts: fc.constant(T0 + o),
                key: fc.constantFrom(...KEYS),
                amount: amountArb,
              }),
            ),
          ),
          copies: fc.array(fc.record({ of: fc.nat(), encoding: fc.nat(ENCODINGS - 1), literal: fc.nat() }), {
            maxLength: 30,
          }),
          invalid: fc.array(
            fc.record({ cls: fc.constantFrom(...INVALID_KINDS), of: fc.nat(), variant: fc.nat(3) }),
            { maxLength: 8 },
          ),
          order1: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 100, maxLength: 100 }),
          order2: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 100, maxLength: 100 }),
          schedule: fc.array(
            fc.record({ pick: fc.nat(), size: fc.integer({ min: 1, max: 9 }), restart: fc.boolean() }),
            { minLength: 1, maxLength: 20 },
          ),
          partitions: fc.integer({ min: 1, max: 3 }),
        }),
      );
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const events = s.events as TestEvent[];
        // Records: every event once, copies in equivalent encodings, invalid records; each on its event's partition.
        const partitionOf = (e: TestEvent) => Number(e.eventId.slice(1)) % s.partitions;
        const records: { stream: string; partition: number; line: string }[] = events.map((e) => ({
          stream: streamOf(e),
          partition: partitionOf(e),
          line: renderEvent(e),
        }));
        for (const c of s.copies) {
          const e = events[c.of % events.length];
          const literals = equivalentAmounts(e.amount);
          records.push({
            stream: streamOf(e),
            partition: partitionOf(e),
            line: renderEvent(e, c.encoding, literals[c.literal % literals.length]),
          });
        }
        for (const x of s.invalid) {
          const e = events[x.of % events.length];
          records.push({
            stream: streamOf(e),
            partition: partitionOf(e),
            line: renderInvalid(x.cls, e, x.variant),
          });
        }
        const arrange = (keys: number[]) => {
          const bus = new MemoryBus();
          records
            .map((r, i) => ({ r, k: keys[i % keys.length] + i * 1e-9 }))
            .sort((a, b) => a.k - b.k)
            .forEach(({ r }) => bus.append(r.stream, r.partition, r.line));
          return bus;
        };
        const bus1 = arrange(s.order1);
        const bus2 = arrange(s.order2);
        const basis = bus1.basis(STREAMS);
        expect(bus2.basis(STREAMS)).toEqual(basis);
        const sequential = await replayBus(bus1, POLICY, parser, basis);
        const chunked = await projectInChunks(bus2, s.schedule);
        expect(chunked.counts).toEqual(sequential.counts);
        expect(sequential.counts.applied).toBe(events.length);
        expect(sequential.counts.duplicate).toBe(s.copies.length);
        const queries = fc.sample(queryArb(events), { numRuns: 25, seed: events.length });
        for (const q of queries) {
          const a = actualAnswer(sequential, q, basis);
          const b = actualAnswer(chunked, q, basis);
          expect(b).toEqual(a);
          if ('content' in a && 'content' in b) expect(snapshotHash(b.content)).toBe(snapshotHash(a.content));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('windows are (asOf − d, asOf] at microsecond resolution', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: T0, max: T0 + 3 * MICROS_PER_DAY }),
        fc.constantFrom(...POLICY.groups),
        fc.integer({ min: 0, max: 1 }),
        async (asOf, group, run) => {
          const stream = group.streams[0] === ANCHOR ? 'anchor' : 'traffic';
          const key = '42';
          for (const w of group.windows) {
            const bus = new MemoryBus();
            // Amounts are distinct powers of two: the sum tells exactly which events a window holds.
            const probes = [
              { at: asOf - w.micros - 1, amount: '1', inside: false },
              { at: asOf - w.micros, amount: '2', inside: false },
              { at: asOf - w.micros + 1, amount: '4', inside: true },
              { at: asOf - 1, amount: '8', inside: true },
              { at: asOf, amount: '16', inside: true },
              { at: asOf + 1, amount: '32', inside: false },
            ];
            probes.forEach((p, i) =>
              bus.append(
                streamOf({ stream }),
                0,
                renderEvent({ run, stream, eventId: `b${i}`, ts: p.at, key, amount: p.amount }),
              ),
            );
            const basis = bus.basis(group.streams);
            const state = await replayBus(bus, POLICY, parser, basis);
            const req = validateRequest(
              {
                pins: requestPins(run),
                asOf: formatTimestamp(asOf),
                keys: [{ keyType: group.keyType, keyId: key }],
                groups: [{ name: group.name, version: group.version }],
              },
              POLICY,
            );
            const entry = answerFromReplay(state, POLICY, req, basis).features[0];
            const value = (name: string) =>
              entry.values.find((v) => v.name === `${name}_${w.label}`)?.value.value;
            const inside = probes.filter((p) => p.inside);
            const count = group.features.find((f) => f.agg === 'count') as { name: string };
            const sum = group.features.find((f) => f.agg === 'sum') as { name: string };
            const last = group.features.find((f) => f.agg === 'last') as { name: string };
            expect(value(count.name)).toBe(inside.length);
            expect(value(sum.name)).toBe(String(inside.reduce((s, p) => s + Number(p.amount), 0)));
            expect(value(last.name)).toBe('16');
            expect(entry.lastEventTsUtc).toBe(formatTimestamp(asOf));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('answerFromReplay agrees with a naive oracle over thousands of random queries', async () => {
    let queries = 0;
    const classes = new Set<string>();
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb(20 * MICROS_PER_DAY, 40), { minLength: 1, maxLength: 160 }),
        fc.integer(),
        async (steps, seed) => {
          const g = buildBus(steps);
          const oracle = oracleOf(g);
          const basis = g.bus.basis(STREAMS);
          const state = await replayBus(g.bus, POLICY, parser, basis, {
            batchSize: 1 + (Math.abs(seed) % 13),
          });
          for (const [c, n] of Object.entries(oracle.counts)) {
            expect({ class: c, n: state.counts[c as keyof typeof state.counts] }).toEqual({ class: c, n });
            classes.add(c);
          }
          for (const q of fc.sample(queryArb(g.events), { numRuns: 60, seed })) {
            const expected = oracleAnswer(oracle, q);
            const actual = actualAnswer(state, q, basis);
            queries++;
            const outcome =
              'error' in expected ? expected.error : expected.features.map((f) => f.status).join(',') || 'OK';
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
            if ('error' in expected) {
              expect({ q, actual: 'error' in actual ? actual.error : 'snapshot' }).toEqual({
                q,
                actual: expected.error,
              });
              continue;
            }
            if ('error' in actual)
              throw new Error(`replay answered ${actual.error} for ${JSON.stringify(q)}`);
            expect({ q, features: actual.content.features }).toEqual({ q, features: expected.features });
            expect({ q, freshness: actual.content.freshness }).toEqual({ q, freshness: expected.freshness });
          }
        },
      ),
      { numRuns: 60 },
    );
    expect(queries).toBeGreaterThanOrEqual(3000);
    // The generated buses exercised every class and every kind of outcome.
    for (const c of [
      'applied',
      'duplicate',
      'anomaly',
      'too_late',
      'unparseable',
      'pins_invalid',
      'envelope_invalid',
      'payload_invalid',
      'irrelevant',
    ]) {
      expect(classes).toContain(c);
    }
    const kinds = [...outcomes.keys()].join(' ');
    for (const k of ['NOT_FOUND', 'INVALID_REQUEST', 'OK', 'NO_DATA', 'STALE']) expect(kinds).toContain(k);
  });
});
