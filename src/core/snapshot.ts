/**
 * The typed feature snapshot and its hash (SPEC 5.3, 5.5, 5.6, 6). Pure: the same content gives the same hash
 * online (GraphQL, `/v1/get_features`) and in an offline replay of the bus, which is the parity check.
 */
import { createHash } from 'node:crypto';
import { canonicalDecimal } from './decimal';
import { canonicalJson } from './json';
import { sixPinsDocument, type ContextPins } from './pins';
import type { Micros } from './time';

export const SNAPSHOT_HASH_VERSION = 'ofp.snapshot.v1';

/** Per (group, key) status (SPEC 5.3). */
export type EntryStatus = 'OK' | 'STALE' | 'NO_DATA';

/**
 * One served value. Counts are integers (hashed as JSON integers); every other aggregation is canonical decimal
 * text (hashed as a JSON string) or null when missing (min/max/avg/last over an empty window).
 */
export type FeatureValue = { kind: 'count'; value: number } | { kind: 'decimal'; value: string | null };

/** A value under its value name `<feature>_<window>`. */
export interface NamedFeatureValue {
  name: string;
  value: FeatureValue;
}

/** One answer entry: a (group, key) pair (SPEC 5.4). */
export interface FeatureEntry {
  group: string;
  version: string;
  keyType: string;
  keyId: string;
  status: EntryStatus;
  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ` or null (SPEC 5.2). */
  lastEventTsUtc: string | null;
  values: NamedFeatureValue[];
}

/** Exclusive-next offsets of every partition of one stream (SPEC 5.5). */
export interface InputBasis {
  stream: string;
  /** `file_line`, `kafka_offset` or `kinesis_sequence`. */
  offsetKind: string;
  offsets: { partition: number; offset: string }[];
}

export const FRESHNESS_FLAGS = ['NO_DATA_KEYS', 'QUARANTINE_PRESENT', 'STALE_KEYS'] as const;
export type FreshnessFlag = (typeof FRESHNESS_FLAGS)[number];

/** Freshness (SPEC 5.6): part of the hash, unlike posture. */
export interface Freshness {
  state: 'GREEN' | 'AMBER';
  /** Sorted. */
  flags: FreshnessFlag[];
}

export interface PolicyRev {
  policyId: string;
  revision: string;
  contentDigest: string;
}

/** graph_version of the platform contract; optional members are hashed only when present. */
export interface GraphVersion {
  versionId: string;
  watermarkTsUtc: string;
  stream?: string;
  basisDigest?: string;
  computedAtUtc?: string;
}

/** Everything a snapshot answer returns that the hash covers (SPEC 6). */
export interface SnapshotContent {
  /** As sent: `runId` present only if the request carried it. */
  pins: ContextPins;
  asOfUtc: string;
  policyRev: PolicyRev;
  featureGroups: { name: string; version: string }[];
  inputBasis: InputBasis[];
  graphVersion: GraphVersion | null;
  freshness: Freshness;
  features: FeatureEntry[];
}

/**
 * Compares strings by UTF-16 code units, the order JCS sorts keys by (`"10"` < `"9"`). Written out rather than
 * `localeCompare`, which is locale- and collation-dependent and would make the hash depend on the host.
 */
export function compareUtf16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareBy<T>(...keys: ((item: T) => string)[]): (a: T, b: T) => number {
  return (a, b) => {
    for (const key of keys) {
      const c = compareUtf16(key(a), key(b));
      if (c !== 0) return c;
    }
    return 0;
  };
}

/** The section-6 encoding of one value; throws on content that would hash something other than what is served. */
function hashedValue(v: FeatureValue, where: string): number | string | null {
  if (v.kind === 'count') {
    if (!Number.isSafeInteger(v.value) || v.value < 0)
      throw new TypeError(`${where}: count must be a non-negative integer`);
    return v.value;
  }
  if (v.value === null) return null;
  // Re-canonicalising silently would hash "13.5" while serving "13.50"; refusing keeps hash and answer identical.
  if (canonicalDecimal(v.value) !== v.value)
    throw new TypeError(`${where}: ${v.value} is not canonical decimal text`);
  return v.value;
}

function pinsDocument(pins: ContextPins): Record<string, string> {
  const doc = sixPinsDocument(pins);
  if (pins.runId !== undefined && pins.runId !== null) doc.run_id = pins.runId;
  return doc;
}

function graphVersionDocument(g: GraphVersion | null): Record<string, string> | null {
  if (g === null) return null;
  const doc: Record<string, string> = { version_id: g.versionId, watermark_ts_utc: g.watermarkTsUtc };
  if (g.stream !== undefined) doc.stream = g.stream;
  if (g.basisDigest !== undefined) doc.basis_digest = g.basisDigest;
  if (g.computedAtUtc !== undefined) doc.computed_at_utc = g.computedAtUtc;
  return doc;
}

/**
 * Builds exactly the SPEC 6 hash document: snake_case names, arrays sorted (feature groups by (name, version),
 * input basis by stream with offsets by partition, features by (group, version, key_type, key_id), freshness flags),
 * values keyed by value name. Object key order does not matter: canonicalJson sorts keys.
 * @throws TypeError when a count is not a safe non-negative integer, a decimal is not canonical text, or an entry
 *   repeats a value name
 */
export function snapshotHashDocument(content: SnapshotContent): Record<string, unknown> {
  const featureGroups = [...content.featureGroups]
    .sort(
      compareBy(
        (g) => g.name,
        (g) => g.version,
      ),
    )
    .map((g) => ({ name: g.name, version: g.version }));

  const inputBasis = [...content.inputBasis].sort(compareBy((b) => b.stream)).map((b) => ({
    stream: b.stream,
    offset_kind: b.offsetKind,
    offsets: [...b.offsets]
      .sort((x, y) => x.partition - y.partition)
      .map((o) => ({ partition: o.partition, offset: o.offset })),
  }));

  const features = [...content.features]
    .sort(
      compareBy(
        (e) => e.group,
        (e) => e.version,
        (e) => e.keyType,
        (e) => e.keyId,
      ),
    )
    .map((e) => {
      const where = `${e.group}/${e.version} ${e.keyType}:${e.keyId}`;
      const values: Record<string, number | string | null> = {};
      for (const { name, value } of e.values) {
        if (Object.prototype.hasOwnProperty.call(values, name))
          throw new TypeError(`${where}: value ${name} repeated`);
        values[name] = hashedValue(value, `${where} ${name}`);
      }
      return {
        group: e.group,
        version: e.version,
        key_type: e.keyType,
        key_id: e.keyId,
        status: e.status,
        last_event_ts_utc: e.lastEventTsUtc,
        values,
      };
    });

  return {
    hash_version: SNAPSHOT_HASH_VERSION,
    pins: pinsDocument(content.pins),
    as_of_time_utc: content.asOfUtc,
    feature_def_policy_rev: {
      policy_id: content.policyRev.policyId,
      revision: content.policyRev.revision,
      content_digest: content.policyRev.contentDigest,
    },
    feature_groups: featureGroups,
    input_basis: inputBasis,
    graph_version: graphVersionDocument(content.graphVersion),
    freshness: { state: content.freshness.state, flags: [...content.freshness.flags].sort(compareUtf16) },
    features,
  };
}

/** Lowercase hex sha256 of the RFC 8785 canonical JSON of `snapshotHashDocument(content)` (SPEC 6). */
export function snapshotHash(content: SnapshotContent): string {
  return createHash('sha256')
    .update(canonicalJson(snapshotHashDocument(content)))
    .digest('hex');
}

/**
 * Freshness (SPEC 5.6) from the entries' statuses and whether this run has quarantined records below the basis in
 * the streams read. Flags are sorted; the state is GREEN exactly when there is no flag.
 */
export function computeFreshness(statuses: Iterable<EntryStatus>, quarantinePresent: boolean): Freshness {
  const flags = new Set<FreshnessFlag>();
  for (const status of statuses) {
    if (status === 'NO_DATA') flags.add('NO_DATA_KEYS');
    else if (status === 'STALE') flags.add('STALE_KEYS');
  }
  if (quarantinePresent) flags.add('QUARANTINE_PRESENT');
  const sorted = [...flags].sort(compareUtf16);
  return { state: sorted.length === 0 ? 'GREEN' : 'AMBER', flags: sorted };
}

/**
 * Status of one (group, key) (SPEC 5.3): NO_DATA without a last event; STALE when `asOf − last > ttl` strictly
 * (a key exactly ttl old is still OK); else OK.
 */
export function entryStatus(
  lastEventMicros: Micros | null,
  asOfMicros: Micros,
  ttlMicros: Micros,
): EntryStatus {
  if (lastEventMicros === null) return 'NO_DATA';
  return asOfMicros - lastEventMicros > ttlMicros ? 'STALE' : 'OK';
}

/** GraphQL `FeatureValue.value` (SPEC 7): counts as decimal text (`"2"`), decimals as their text, null when missing. */
export function featureValueText(v: FeatureValue): string | null {
  return v.kind === 'count' ? String(v.value) : v.value;
}
