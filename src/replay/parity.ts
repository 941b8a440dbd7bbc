/**
 * Parity check (SPEC 6): draws random requests from the data on the bus, asks a running gateway over HTTP GraphQL,
 * replays the bus at each answer's basis (once per distinct basis, answering many requests from one replay) and
 * compares values, freshness and snapshot hashes. An error answer matches when the replay raises the same code.
 *
 * Requests cover runs present on the bus (and absent ones), keys that exist, keys of another run and keys that
 * exist nowhere, and asOf instants at the window edges of real events (exactly at an event, one microsecond either
 * side, one window length later or earlier and one microsecond either side of that, the ttl edge), before any data,
 * at the retention boundary, and at random.
 */
import type { EventBus } from '../bus/event-bus';
import type { RecordParser } from '../core/envelope';
import type { ContextPins } from '../core/pins';
import { streamsOf, type FeatureGroup, type FeaturePolicy } from '../core/policy';
import { snapshotHash, type InputBasis } from '../core/snapshot';
import { MICROS_PER_DAY, MICROS_PER_HOUR, formatTimestamp, type Micros } from '../core/time';
import { Prng, parseSeed } from '../generator/prng';
import { FeaturesRequestError } from '../serving/errors';
import { validateRequest, type FeatureRequestInput } from '../serving/request';
import { diffOutcomes, formatDiff, type AnswerOutcome, type DiffLine } from './diff';
import { fromGraphqlSnapshot, type GraphqlSnapshot } from './graphql-answer';
import {
  answerFromReplay,
  keyEvents,
  normaliseBasis,
  replayBus,
  type KeySeries,
  type ReplayState,
  type RunState,
} from './replay';

// ---------------------------------------------------------------------------------------------------------------
// The gateway over HTTP.

export const PARITY_QUERY = `query Parity($pins: ContextPinsInput!, $asOf: DateTime!, $keys: [FeatureKeyInput!]!, $groups: [FeatureGroupInput!]!) {
  features(pins: $pins, asOf: $asOf, keys: $keys, groups: $groups) {
    __typename
    ... on FeatureSnapshot {
      snapshotHash asOf
      pins { platformRunId scenarioRunId scenarioId manifestFingerprint parameterHash seed runId }
      policyRev { policyId revision contentDigest }
      featureGroups { name version }
      inputBasis { stream offsetKind offsets { partition offset } }
      graphVersion { versionId watermarkTsUtc }
      freshness { state flags }
      values { group version keyType keyId status lastEventTsUtc features { name value } }
    }
    ... on FeaturesError { code retryable detail requestId }
  }
  partitions { stream partition nextOffset }
}`;

const PARTITIONS_QUERY = `query { partitions { stream partition nextOffset } }`;

/** The gateway could not be asked at all (unreachable, token refused, not a GraphQL answer): parity stops. */
export class GatewayError extends Error {
  override name = 'GatewayError';
}

interface PartitionRow {
  stream: string;
  partition: number;
  nextOffset: string;
}

/** Minimal GraphQL-over-HTTP client with a bearer token. */
export class GatewayClient {
  readonly endpoint: string;

  constructor(
    url: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    const u = new URL(url);
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/graphql';
    this.endpoint = u.toString();
  }

  async query<T>(
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }> {
    let res: Response;
    try {
      res = await this.fetchImpl(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query, variables }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new GatewayError(
        `cannot reach the gateway at ${this.endpoint}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403)
      throw new GatewayError(`the gateway at ${this.endpoint} refused the token (HTTP ${res.status})`);
    let body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new GatewayError(
        `the gateway at ${this.endpoint} answered HTTP ${res.status} with no GraphQL JSON: ${text.slice(0, 200)}`,
      );
    }
    if (body.data === undefined && !body.errors)
      throw new GatewayError(
        `the gateway at ${this.endpoint} answered HTTP ${res.status} without data or errors`,
      );
    return body;
  }

  /** Checkpoints of every partition the gateway knows (all streams its policy reads). */
  async partitions(): Promise<PartitionRow[]> {
    const r = await this.query<{ partitions: PartitionRow[] }>(PARTITIONS_QUERY);
    if (!r.data) throw new GatewayError(`partitions query failed: ${r.errors?.[0]?.message ?? 'no data'}`);
    return r.data.partitions;
  }
}

function basisFromPartitions(rows: PartitionRow[], offsetKind: string, streams?: Set<string>): InputBasis[] {
  const by = new Map<string, InputBasis>();
  for (const r of rows) {
    if (streams && !streams.has(r.stream)) continue;
    let b = by.get(r.stream);
    if (!b) by.set(r.stream, (b = { stream: r.stream, offsetKind, offsets: [] }));
    b.offsets.push({ partition: r.partition, offset: r.nextOffset });
  }
  return [...by.values()];
}

export const basisKey = (basis: InputBasis[]): string => JSON.stringify(normaliseBasis(basis));

// ---------------------------------------------------------------------------------------------------------------
// Drawing requests from the data.

/** One drawn request and what it is meant to probe. */
export interface ParitySample {
  index: number;
  /** What the sample probes, e.g. `asOf = event + 1h + 1µs`. */
  label: string;
  input: FeatureRequestInput;
}

interface CatalogRun {
  runKey: string;
  pins: ContextPins;
  minTs: Micros;
  maxTs: Micros;
  run: RunState;
  /** Key ids per group ref, for drawing. */
  keys: Map<string, string[]>;
}

/** What requests are drawn from: the runs, keys and event times of a replay of the bus. */
export interface Catalog {
  runs: CatalogRun[];
  /** Runs with quarantined records only (pins readable): NOT_FOUND. */
  quarantinedOnly: ContextPins[];
  state: ReplayState;
}

export function buildCatalog(state: ReplayState): Catalog {
  const runs: CatalogRun[] = [];
  for (const [runKey, run] of [...state.runs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const keys = new Map<string, string[]>();
    for (const [ref, m] of run.groups) keys.set(ref, [...m.keys()].sort());
    runs.push({
      runKey,
      pins: run.pins,
      minTs: Math.min(...run.minTs.values()),
      maxTs: Math.max(...run.h.values()),
      run,
      keys,
    });
  }
  return { runs, quarantinedOnly: [...state.quarantinedOnly.values()].map((q) => q.pins), state };
}

const pinsInput = (p: ContextPins): FeatureRequestInput['pins'] => ({ ...p });

/** A run that differs from `pins` in one pin: state never mixes, so it is NOT_FOUND. */
function alteredRun(prng: Prng, pins: ContextPins): { pins: ContextPins; label: string } {
  const p = { ...pins };
  switch (prng.int(3)) {
    case 0:
      p.seed = (BigInt(p.seed) === 18446744073709551615n ? 0n : BigInt(p.seed) + 1n).toString();
      return { pins: p, label: 'run differing in seed' };
    case 1:
      p.scenarioRunId = prng.hex(32);
      return { pins: p, label: 'run differing in scenarioRunId' };
    default:
      p.scenarioId = `${p.scenarioId}_other`;
      return { pins: p, label: 'run differing in scenarioId' };
  }
}

/** asOf candidates around one event time `t` for a group: the section 5.2 / 5.3 edges at microsecond resolution. */
function edgeOffsets(group: FeatureGroup): { delta: Micros; label: string }[] {
  const out: { delta: Micros; label: string }[] = [
    { delta: 0, label: 'asOf = event' },
    { delta: 1, label: 'asOf = event + 1µs' },
    { delta: -1, label: 'asOf = event - 1µs' },
  ];
  for (const w of group.windows) {
    out.push(
      { delta: w.micros, label: `asOf = event + ${w.label} (event just outside)` },
      { delta: w.micros - 1, label: `asOf = event + ${w.label} - 1µs (event just inside)` },
      { delta: w.micros + 1, label: `asOf = event + ${w.label} + 1µs` },
      { delta: -w.micros, label: `asOf = event - ${w.label}` },
      { delta: -w.micros + 1, label: `asOf = event - ${w.label} + 1µs` },
    );
  }
  out.push(
    { delta: group.ttlMicros, label: `asOf = event + ttl ${group.ttl} (still OK)` },
    { delta: group.ttlMicros + 1, label: `asOf = event + ttl ${group.ttl} + 1µs (STALE)` },
  );
  return out;
}

function randomKeyId(prng: Prng): string {
  switch (prng.int(3)) {
    case 0:
      return '18446744073709551616';
    case 1:
      return String(1 + prng.int(2_000_000_000));
    default:
      return `${prng.int(9) + 1}${prng.hex(6).replace(/[a-f]/g, '7')}`;
  }
}

/** Draws `n` requests deterministically from `seed`. */
export function drawSamples(
  catalog: Catalog,
  policy: FeaturePolicy,
  n: number,
  seed: string | number | bigint,
): ParitySample[] {
  const prng = new Prng(parseSeed(seed), 'parity');
  const samples: ParitySample[] = [];
  if (catalog.runs.length === 0) throw new Error('no run has an applied event on the bus: nothing to sample');
  const allKeys = (ref: string, except: CatalogRun): string[] =>
    catalog.runs.filter((r) => r !== except).flatMap((r) => (r.keys.get(ref) ?? []).slice(0, 50));
  for (let index = 0; index < n; index++) {
    const labels: string[] = [];
    const cr = prng.pick(catalog.runs);
    let pins: FeatureRequestInput['pins'] = pinsInput(cr.pins);
    const runRoll = prng.float();
    if (runRoll < 0.05) {
      const other =
        catalog.quarantinedOnly.length > 0 && prng.chance(0.5)
          ? { pins: prng.pick(catalog.quarantinedOnly), label: 'run with quarantined records only' }
          : alteredRun(prng, cr.pins);
      pins = pinsInput(other.pins);
      labels.push(other.label);
    } else if (runRoll < 0.07) {
      const field = prng.pick([
        'platformRunId',
        'scenarioRunId',
        'manifestFingerprint',
        'parameterHash',
        'seed',
      ] as const);
      if (prng.chance(0.5)) {
        pins = { ...pins, [field]: '' };
        labels.push(`pin ${field} empty`);
      } else {
        pins = { ...pins, [field]: field === 'seed' ? '18446744073709551616' : 'XYZ' };
        labels.push(`pin ${field} malformed`);
      }
    }
    if (prng.chance(0.3)) pins = { ...pins, runId: prng.hex(32) };

    // Groups: 1..3 distinct, sometimes across both streams.
    const count = 1 + prng.int(Math.min(3, policy.groups.length));
    const groups: FeatureGroup[] = [];
    while (groups.length < count) {
      const g = prng.pick(policy.groups);
      if (!groups.includes(g)) groups.push(g);
    }
    // Keys: 1..6 over the requested groups' key types.
    const keys: { keyType: string; keyId: string }[] = [];
    const anchors: { ts: Micros; group: FeatureGroup }[] = [];
    const keyCount = 1 + prng.int(6);
    for (let k = 0; k < keyCount; k++) {
      const g = prng.pick(groups);
      const ref = `${g.name}/${g.version}`;
      const roll = prng.float();
      const own = cr.keys.get(ref) ?? [];
      if (roll < 0.1 && keys.length > 0) {
        keys.push({ ...prng.pick(keys) }); // a repeated key counts once
      } else if (roll < 0.72 && own.length > 0) {
        const keyId = prng.pick(own);
        keys.push({ keyType: g.keyType, keyId });
        const ks = cr.run.groups.get(ref)?.get(keyId) as KeySeries;
        const events = keyEvents(catalog.state, g, ks);
        anchors.push({ ts: prng.pick(events).ts, group: g });
      } else if (roll < 0.86) {
        const others = allKeys(ref, cr);
        keys.push({ keyType: g.keyType, keyId: others.length > 0 ? prng.pick(others) : randomKeyId(prng) });
        if (others.length > 0) labels.push('key of another run');
      } else {
        keys.push({ keyType: g.keyType, keyId: randomKeyId(prng) });
        labels.push('absent key');
      }
    }
    if (prng.chance(0.02)) {
      const unserved = policy.groups.find((g) => !groups.some((x) => x.keyType === g.keyType));
      if (unserved) {
        keys.push({ keyType: unserved.keyType, keyId: '1' });
        labels.push(`key type ${unserved.keyType} served by no requested group`);
      }
    }

    // asOf.
    const h = Math.max(...streamsOf(groups).map((s) => cr.run.h.get(s) ?? -Infinity));
    const hRun = Number.isFinite(h) ? h : cr.maxTs;
    let asOf: Micros;
    const roll = prng.float();
    if (roll < 0.6 && anchors.length > 0) {
      const a = prng.pick(anchors);
      const e = prng.pick(edgeOffsets(a.group));
      asOf = a.ts + e.delta;
      labels.push(e.label);
    } else if (roll < 0.7) {
      const d = prng.pick([1, MICROS_PER_HOUR, MICROS_PER_DAY]);
      asOf = cr.minTs - d;
      labels.push(
        `asOf before any data of the run (first event - ${d === 1 ? '1µs' : d === MICROS_PER_HOUR ? '1h' : '1d'})`,
      );
    } else if (roll < 0.78) {
      const edge = hRun - policy.horizonMicros;
      const delta = prng.pick([0, -1, 1]);
      asOf = edge + delta;
      labels.push(
        `asOf = earliest servable instant ${delta === 0 ? '' : delta > 0 ? '+ 1µs' : '- 1µs (refused)'}`.trim(),
      );
    } else if (roll < 0.85) {
      asOf = cr.maxTs + prng.pick([0, 1, MICROS_PER_HOUR, 8 * MICROS_PER_DAY]);
      labels.push("asOf at or after the run's last event");
    } else {
      const lo = cr.minTs - MICROS_PER_DAY;
      const hi = cr.maxTs + 8 * MICROS_PER_DAY;
      asOf = lo + Math.floor(prng.float() * (hi - lo));
      labels.push('asOf at random');
    }
    asOf = Math.max(asOf, 0);
    samples.push({
      index,
      label: labels.join('; '),
      input: {
        pins,
        asOf: formatTimestamp(asOf),
        keys,
        groups: groups.map((g) => ({ name: g.name, version: g.version })),
      },
    });
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------------------------
// Running a parity check.

export interface ParityOptions {
  /** Gateway base URL (`http://127.0.0.1:4000`) or its GraphQL endpoint. */
  url: string;
  /** A reader token. */
  token: string;
  samples: number;
  seed: string | number | bigint;
  bus: EventBus;
  policy: FeaturePolicy;
  parser: RecordParser;
  /** Worker threads for replays (file bus only). Default 0. */
  workers?: number;
  /** Requests in flight to the gateway. Default 4. */
  concurrency?: number;
  fetch?: typeof fetch;
  /** Progress: phase, done, total (phases `replay` (records), `ask` and `compare` (samples)). */
  onProgress?: (phase: 'replay' | 'ask' | 'compare', done: number, total: number) => void;
}

export interface ParityMismatch {
  sample: ParitySample;
  diff: DiffLine[];
}

export interface ParityReport {
  samples: number;
  matches: number;
  mismatches: ParityMismatch[];
  /** Online outcomes: `OK` for snapshots, else the error code. */
  outcomes: Record<string, number>;
  /** Entries of the online snapshots by status (OK, STALE, NO_DATA). */
  statuses: Record<string, number>;
  /** Per error code (online or offline): how many matched and mismatched. */
  errorsByCode: Record<string, { matched: number; mismatched: number }>;
  /** One replay per distinct basis. */
  replays: { records: number; ms: number }[];
  elapsedMs: number;
}

interface Asked {
  sample: ParitySample;
  online: AnswerOutcome;
  /** Basis to replay at: the answer's, plus the gateway's checkpoints for streams the request does not read. */
  basis: InputBasis[];
}

async function mapLimit<T, R>(
  items: T[],
  limit: number,
  f: (t: T) => Promise<R>,
  onDone: (n: number) => void,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
      onDone(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

function offlineOutcome(
  state: ReplayState,
  policy: FeaturePolicy,
  input: FeatureRequestInput,
  basis: InputBasis[],
): AnswerOutcome {
  try {
    const req = validateRequest(input, policy);
    const content = answerFromReplay(state, policy, req, basis);
    return { kind: 'snapshot', content, snapshotHash: snapshotHash(content) };
  } catch (err) {
    if (err instanceof FeaturesRequestError) return { kind: 'error', code: err.code, detail: err.detail };
    throw err;
  }
}

/**
 * Runs a parity check against a running gateway; never throws for a mismatch (see the report), only when the
 * gateway cannot be asked or the bus cannot be replayed (GatewayError, ReplayBasisError).
 */
export async function runParity(o: ParityOptions): Promise<ParityReport> {
  const started = Date.now();
  const client = new GatewayClient(o.url, o.token, o.fetch);
  const policyStreams = new Set(streamsOf(o.policy.groups));
  const offsetKind = o.bus.offsetKind;
  const replays: ParityReport['replays'] = [];
  const replayAt = async (basis: InputBasis[]): Promise<ReplayState> => {
    const t = Date.now();
    const total = basis.reduce((s, b) => s + b.offsets.reduce((x, p) => x + Number(p.offset), 0), 0);
    const state = await replayBus(o.bus, o.policy, o.parser, basis, {
      workers: o.workers ?? 0,
      onProgress: (n) => o.onProgress?.('replay', n, total),
    });
    replays.push({ records: total, ms: Date.now() - t });
    return state;
  };

  // 1. What the gateway has applied, replayed once: the catalog to draw from (and, usually, the only replay).
  const catalogBasis = basisFromPartitions(await client.partitions(), offsetKind, policyStreams);
  if (catalogBasis.length === 0)
    throw new GatewayError('the gateway reports no partition: has the projector started?');
  let cached: { key: string; state: ReplayState } = {
    key: basisKey(catalogBasis),
    state: await replayAt(catalogBasis),
  };
  const samples = drawSamples(buildCatalog(cached.state), o.policy, o.samples, o.seed);

  // 2. Ask the gateway.
  const asked = await mapLimit(
    samples,
    o.concurrency ?? 4,
    async (sample): Promise<Asked> => {
      const r = await client.query<{
        features:
          | (GraphqlSnapshot & { __typename: 'FeatureSnapshot' })
          | { __typename: 'FeaturesError'; code: string; detail: string };
        partitions: PartitionRow[];
      }>(PARITY_QUERY, sample.input as unknown as Record<string, unknown>);
      if (!r.data) {
        const e = r.errors?.[0];
        const code = e?.extensions?.code ?? 'GRAPHQL_ERROR';
        return { sample, online: { kind: 'error', code, detail: e?.message ?? '' }, basis: catalogBasis };
      }
      const f = r.data.features;
      const current = basisFromPartitions(r.data.partitions, offsetKind, policyStreams);
      if (f.__typename === 'FeaturesError')
        return { sample, online: { kind: 'error', code: f.code, detail: f.detail }, basis: current };
      const content = fromGraphqlSnapshot(f, o.policy);
      const read = new Set(content.inputBasis.map((b) => b.stream));
      return {
        sample,
        online: { kind: 'snapshot', content, snapshotHash: f.snapshotHash },
        basis: [...content.inputBasis, ...current.filter((b) => !read.has(b.stream))],
      };
    },
    (n) => o.onProgress?.('ask', n, samples.length),
  );

  // 3. Replay once per distinct basis, answer every request of that basis, compare.
  const byBasis = new Map<string, Asked[]>();
  for (const a of asked) {
    const k = basisKey(a.basis);
    let list = byBasis.get(k);
    if (!list) byBasis.set(k, (list = []));
    list.push(a);
  }
  const report: ParityReport = {
    samples: samples.length,
    matches: 0,
    mismatches: [],
    outcomes: {},
    statuses: {},
    errorsByCode: {},
    replays,
    elapsedMs: 0,
  };
  let compared = 0;
  for (const [key, list] of byBasis) {
    const state = cached.key === key ? cached.state : await replayAt(list[0].basis);
    cached = { key, state };
    for (const a of list) {
      const offline = offlineOutcome(state, o.policy, a.sample.input, a.basis);
      const diff = diffOutcomes(a.online, offline);
      if (a.online.kind === 'snapshot') {
        // The online hash must also be the hash of what the gateway returned.
        let own: string;
        try {
          own = snapshotHash(a.online.content);
        } catch (err) {
          own = `not computable: ${(err as Error).message}`;
        }
        if (own !== a.online.snapshotHash)
          diff.push({
            path: 'snapshotHash (recomputed from the online answer)',
            online: a.online.snapshotHash,
            offline: own,
          });
      }
      const outcome = a.online.kind === 'snapshot' ? 'OK' : a.online.code;
      if (a.online.kind === 'snapshot')
        for (const e of a.online.content.features)
          report.statuses[e.status] = (report.statuses[e.status] ?? 0) + 1;
      report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
      for (const code of new Set([a.online, offline].flatMap((x) => (x.kind === 'error' ? [x.code] : [])))) {
        const c = (report.errorsByCode[code] ??= { matched: 0, mismatched: 0 });
        if (diff.length === 0) c.matched++;
        else c.mismatched++;
      }
      if (diff.length === 0) report.matches++;
      else report.mismatches.push({ sample: a.sample, diff });
      o.onProgress?.('compare', ++compared, samples.length);
    }
  }
  report.elapsedMs = Date.now() - started;
  return report;
}

/** The summary and, for each mismatch, its request and diff. */
export function formatParityReport(r: ParityReport, options: { maxMismatches?: number } = {}): string {
  const lines: string[] = [];
  const outcomes = Object.entries(r.outcomes)
    .sort(([a], [b]) => (a === 'OK' ? -1 : b === 'OK' ? 1 : a < b ? -1 : 1))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  lines.push(
    `parity: ${r.samples} samples, ${r.matches} match, ${r.mismatches.length} mismatch (${((100 * r.matches) / Math.max(1, r.samples)).toFixed(1)} % match) in ${(r.elapsedMs / 1000).toFixed(1)} s`,
  );
  lines.push(`online answers: ${outcomes || 'none'}`);
  const statuses = Object.entries(r.statuses).sort(([a], [b]) => (a < b ? -1 : 1));
  if (statuses.length > 0)
    lines.push(`entries of snapshots: ${statuses.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const codes = Object.entries(r.errorsByCode).sort(([a], [b]) => (a < b ? -1 : 1));
  if (codes.length > 0)
    lines.push(
      `errors by code: ${codes.map(([c, v]) => `${c} ${v.matched} matched${v.mismatched ? `, ${v.mismatched} mismatched` : ''}`).join('; ')}`,
    );
  lines.push(
    `replays: ${r.replays.length} distinct basis${r.replays.length === 1 ? '' : 'es'} (${r.replays.map((x) => `${x.records.toLocaleString('en-US')} records in ${(x.ms / 1000).toFixed(1)} s`).join(', ')})`,
  );
  const max = options.maxMismatches ?? 20;
  r.mismatches.slice(0, max).forEach((m, i) => {
    lines.push('');
    lines.push(
      `mismatch ${i + 1}/${r.mismatches.length}: sample ${m.sample.index} (${m.sample.label || 'plain request'})`,
    );
    lines.push(`  request ${JSON.stringify(m.sample.input)}`);
    lines.push(formatDiff(m.diff, '  '));
  });
  if (r.mismatches.length > max) lines.push(`... and ${r.mismatches.length - max} more mismatches`);
  return lines.join('\n');
}
