/**
 * The GraphQL `FeatureSnapshot` shape (SPEC 7) to and from the typed SnapshotContent: `ofp replay --format graphql`
 * prints a replayed answer the way the gateway would, and `ofp parity` reads gateway answers back into content it
 * can diff and re-hash. Values are text in GraphQL; reading them back needs the policy to know which are counts.
 */
import { findGroup, type FeaturePolicy } from '../core/policy';
import {
  featureValueText,
  type EntryStatus,
  type FeatureValue,
  type Freshness,
  type SnapshotContent,
} from '../core/snapshot';

/** A FeatureSnapshot as GraphQL returns it (the fields of the SPEC 7 query that the hash covers). */
export interface GraphqlSnapshot {
  __typename?: 'FeatureSnapshot';
  snapshotHash: string;
  asOf: string;
  pins: {
    platformRunId: string;
    scenarioRunId: string;
    scenarioId: string;
    manifestFingerprint: string;
    parameterHash: string;
    seed: string;
    runId?: string | null;
  };
  policyRev: { policyId: string; revision: string; contentDigest: string };
  featureGroups: { name: string; version: string }[];
  inputBasis: { stream: string; offsetKind: string; offsets: { partition: number; offset: string }[] }[];
  graphVersion: { versionId: string; watermarkTsUtc: string } | null;
  freshness: { state: string; flags: string[] };
  values: {
    group: string;
    version: string;
    keyType: string;
    keyId: string;
    status: string;
    lastEventTsUtc: string | null;
    features: { name: string; value: string | null }[];
  }[];
}

/** The GraphQL shape of a snapshot (what the gateway would return for these contents, minus createdAt/posture). */
export function toGraphqlSnapshot(content: SnapshotContent, snapshotHash: string): GraphqlSnapshot {
  return {
    __typename: 'FeatureSnapshot',
    snapshotHash,
    asOf: content.asOfUtc,
    pins: { ...content.pins, runId: content.pins.runId ?? null },
    policyRev: content.policyRev,
    featureGroups: content.featureGroups,
    inputBasis: content.inputBasis,
    graphVersion:
      content.graphVersion === null
        ? null
        : { versionId: content.graphVersion.versionId, watermarkTsUtc: content.graphVersion.watermarkTsUtc },
    freshness: content.freshness,
    values: content.features.map((e) => ({
      group: e.group,
      version: e.version,
      keyType: e.keyType,
      keyId: e.keyId,
      status: e.status,
      lastEventTsUtc: e.lastEventTsUtc,
      features: e.values.map((v) => ({ name: v.name, value: featureValueText(v.value) })),
    })),
  };
}

/** Reads a value's text back into its typed form: counts (by the policy) whose text is an integer become counts. */
function typedValue(
  policy: FeaturePolicy,
  group: string,
  version: string,
  name: string,
  text: string | null,
): FeatureValue {
  const g = findGroup(policy, group, version);
  const feature = g?.features.find((f) => g.windows.some((w) => `${f.name}_${w.label}` === name));
  if (
    feature?.agg === 'count' &&
    text !== null &&
    /^(0|[1-9][0-9]*)$/.test(text) &&
    Number.isSafeInteger(Number(text))
  ) {
    return { kind: 'count', value: Number(text) };
  }
  return { kind: 'decimal', value: text };
}

/** The typed contents of a GraphQL answer, as the gateway hashed them (if it is consistent). */
export function fromGraphqlSnapshot(s: GraphqlSnapshot, policy: FeaturePolicy): SnapshotContent {
  const pins: SnapshotContent['pins'] = {
    platformRunId: s.pins.platformRunId,
    scenarioRunId: s.pins.scenarioRunId,
    scenarioId: s.pins.scenarioId,
    manifestFingerprint: s.pins.manifestFingerprint,
    parameterHash: s.pins.parameterHash,
    seed: s.pins.seed,
  };
  if (s.pins.runId !== null && s.pins.runId !== undefined) pins.runId = s.pins.runId;
  return {
    pins,
    asOfUtc: s.asOf,
    policyRev: s.policyRev,
    featureGroups: s.featureGroups.map((g) => ({ name: g.name, version: g.version })),
    inputBasis: s.inputBasis.map((b) => ({
      stream: b.stream,
      offsetKind: b.offsetKind,
      offsets: b.offsets.map((o) => ({ partition: o.partition, offset: o.offset })),
    })),
    graphVersion: s.graphVersion,
    freshness: s.freshness as Freshness,
    features: s.values.map((e) => ({
      group: e.group,
      version: e.version,
      keyType: e.keyType,
      keyId: e.keyId,
      status: e.status as EntryStatus,
      lastEventTsUtc: e.lastEventTsUtc,
      values: e.features.map((f) => ({
        name: f.name,
        value: typedValue(policy, e.group, e.version, f.name, f.value),
      })),
    })),
  };
}
