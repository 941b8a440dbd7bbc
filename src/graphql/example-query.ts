/** Every field of a FeatureSnapshot past its hash, times and request id, indented for the queries below. */
export const SNAPSHOT_FIELDS = `pins { platformRunId scenarioRunId scenarioId manifestFingerprint parameterHash seed runId }
      policyRev { policyId revision contentDigest }
      featureGroups { name version }
      inputBasis { stream offsetKind offsets { partition offset } }
      graphVersion { versionId watermarkTsUtc }
      freshness { state flags }
      posture { state flags }
      values { group version keyType keyId status lastEventTsUtc features { name value } }`;

/** The features query of SPEC 7, used by the demo, the GraphiQL page and tests. */
export const EXAMPLE_QUERY = `query Features($pins: ContextPinsInput!, $asOf: DateTime!, $keys: [FeatureKeyInput!]!, $groups: [FeatureGroupInput!]!) {
  features(pins: $pins, asOf: $asOf, keys: $keys, groups: $groups) {
    __typename
    ... on FeatureSnapshot {
      snapshotHash asOf createdAt
      ${SNAPSHOT_FIELDS}
    }
    ... on FeaturesError { code retryable detail requestId }
  }
}`;

/** Placeholder variables; the demo fills them from the generated data. */
export const EXAMPLE_VARIABLES = {
  pins: {
    platformRunId: 'platform_20260206T170000Z',
    scenarioRunId: '0'.repeat(32),
    scenarioId: 'baseline_v1',
    manifestFingerprint: '0'.repeat(64),
    parameterHash: '0'.repeat(64),
    seed: '7',
  },
  asOf: '2026-02-06T17:05:00.123456Z',
  keys: [{ keyType: 'merchant_id', keyId: '1' }],
  groups: [{ name: 'merchant_velocity', version: 'v1' }],
};
