import { createHash } from 'node:crypto';
import path from 'node:path';
import fc from 'fast-check';
import { canonicalJson } from '../../src/core/json';
import { loadPolicyFile } from '../../src/core/policy-file';
import {
  compareUtf16,
  computeFreshness,
  entryStatus,
  featureValueText,
  snapshotHash,
  snapshotHashDocument,
} from '../../src/core/snapshot';
import type { FeatureEntry, FeatureValue, SnapshotContent } from '../../src/core/snapshot';
import { MICROS_PER_DAY, parseTimestamp } from '../../src/core/time';

const TRAFFIC = 'fp.bus.traffic.fraud.v1';
const ANCHOR = 'fp.bus.context.flow_anchor.fraud.v1';

/** SPEC 6, verbatim. */
const GOLDEN_JCS =
  '{"as_of_time_utc":"2026-02-06T17:05:00.123456Z","feature_def_policy_rev":{"content_digest":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","policy_id":"ofp.features.golden","revision":"r1"},"feature_groups":[{"name":"flow_activity","version":"golden"}],"features":[{"group":"flow_activity","key_id":"1","key_type":"flow_id","last_event_ts_utc":"2026-02-06T17:05:00.123456Z","status":"OK","values":{"amount_max_1h":"10","amount_max_24h":"10","amount_sum_1h":"13.5","amount_sum_24h":"13.5","txn_count_1h":2,"txn_count_24h":2},"version":"golden"},{"group":"flow_activity","key_id":"9","key_type":"flow_id","last_event_ts_utc":null,"status":"NO_DATA","values":{"amount_max_1h":null,"amount_max_24h":null,"amount_sum_1h":"0","amount_sum_24h":"0","txn_count_1h":0,"txn_count_24h":0},"version":"golden"}],"freshness":{"flags":["NO_DATA_KEYS"],"state":"AMBER"},"graph_version":null,"hash_version":"ofp.snapshot.v1","input_basis":[{"offset_kind":"file_line","offsets":[{"offset":"3","partition":0}],"stream":"fp.bus.traffic.fraud.v1"}],"pins":{"manifest_fingerprint":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","parameter_hash":"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","platform_run_id":"platform_20260206T170000Z","run_id":"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","scenario_id":"baseline_v1","scenario_run_id":"dddddddddddddddddddddddddddddddd","seed":"7"}}';
const GOLDEN_HASH = '654446ff5a12eb2b9264bf21c13058436640c1f186d6bb157e2d2bd5336daae4';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const count = (value: number): FeatureValue => ({ kind: 'count', value });
const dec = (value: string | null): FeatureValue => ({ kind: 'decimal', value });

function entry(
  keyId: string,
  status: FeatureEntry['status'],
  last: string | null,
  values: [string, FeatureValue][],
) {
  return {
    group: 'flow_activity',
    version: 'golden',
    keyType: 'flow_id',
    keyId,
    status,
    lastEventTsUtc: last,
    values: values.map(([name, value]) => ({ name, value })),
  };
}

/** The SPEC 6 golden content, built the way the server builds it (values in policy declaration order). */
function goldenContent(): SnapshotContent {
  return {
    pins: {
      platformRunId: 'platform_20260206T170000Z',
      scenarioRunId: 'd'.repeat(32),
      scenarioId: 'baseline_v1',
      manifestFingerprint: 'b'.repeat(64),
      parameterHash: 'c'.repeat(64),
      seed: '7',
      runId: 'e'.repeat(32),
    },
    asOfUtc: '2026-02-06T17:05:00.123456Z',
    policyRev: { policyId: 'ofp.features.golden', revision: 'r1', contentDigest: 'a'.repeat(64) },
    featureGroups: [{ name: 'flow_activity', version: 'golden' }],
    inputBasis: [{ stream: TRAFFIC, offsetKind: 'file_line', offsets: [{ partition: 0, offset: '3' }] }],
    graphVersion: null,
    freshness: { state: 'AMBER', flags: ['NO_DATA_KEYS'] },
    features: [
      entry('1', 'OK', '2026-02-06T17:05:00.123456Z', [
        ['txn_count_1h', count(2)],
        ['txn_count_24h', count(2)],
        ['amount_sum_1h', dec('13.5')],
        ['amount_sum_24h', dec('13.5')],
        ['amount_max_1h', dec('10')],
        ['amount_max_24h', dec('10')],
      ]),
      entry('9', 'NO_DATA', null, [
        ['txn_count_1h', count(0)],
        ['txn_count_24h', count(0)],
        ['amount_sum_1h', dec('0')],
        ['amount_sum_24h', dec('0')],
        ['amount_max_1h', dec(null)],
        ['amount_max_24h', dec(null)],
      ]),
    ],
  };
}

describe('snapshot hash: SPEC 6 golden vector', () => {
  it('builds exactly the SPEC canonical JSON and hash', () => {
    const content = goldenContent();
    expect(canonicalJson(snapshotHashDocument(content))).toBe(GOLDEN_JCS);
    expect(snapshotHash(content)).toBe(GOLDEN_HASH);
    expect(sha256(GOLDEN_JCS)).toBe(GOLDEN_HASH);
  });

  it('uses the value names of the golden policy fixture', () => {
    const policy = loadPolicyFile(path.resolve(__dirname, '../fixtures/policies/golden.yaml'));
    const names = goldenContent().features[0].values.map((v) => v.name);
    expect(names).toEqual(policy.groups[0].valueNames);
  });

  it('wrong encodings give the wrong hashes the SPEC names (documents built by hand)', () => {
    // A sum written with a trailing zero: not canonical decimal text.
    const trailingZero = GOLDEN_JCS.replace('"amount_sum_1h":"13.5"', '"amount_sum_1h":"13.50"');
    expect(trailingZero).not.toBe(GOLDEN_JCS);
    expect(sha256(trailingZero).startsWith('5e3a2657')).toBe(true);
    // A count written as a string: counts are JSON integers in the hash (GraphQL shows them as text, "2").
    const countAsText = GOLDEN_JCS.replace('"txn_count_1h":2', '"txn_count_1h":"2"');
    expect(countAsText).not.toBe(GOLDEN_JCS);
    expect(sha256(countAsText).startsWith('25dfa6f3')).toBe(true);
  });

  it('refuses content that would hash something other than what is served', () => {
    const trailingZero = goldenContent();
    trailingZero.features[0].values[2].value = dec('13.50');
    expect(() => snapshotHash(trailingZero)).toThrow(/13\.50 is not canonical/);
    const fractionalCount = goldenContent();
    fractionalCount.features[0].values[0].value = count(2.5);
    expect(() => snapshotHash(fractionalCount)).toThrow(/count must be a non-negative integer/);
    const repeated = goldenContent();
    repeated.features[0].values.push({ name: 'txn_count_1h', value: count(2) });
    expect(() => snapshotHash(repeated)).toThrow(/txn_count_1h repeated/);
  });

  it('serves counts as decimal text and decimals as they are', () => {
    expect(featureValueText(count(2))).toBe('2');
    expect(featureValueText(count(0))).toBe('0');
    expect(featureValueText(dec('13.5'))).toBe('13.5');
    expect(featureValueText(dec(null))).toBeNull();
  });
});

describe('snapshot hash document', () => {
  it('carries run_id only when it was sent, and the seed as a decimal string', () => {
    const content = goldenContent();
    delete content.pins.runId;
    content.pins.seed = '18446744073709551615';
    const doc = snapshotHashDocument(content) as { pins: Record<string, unknown> };
    expect('run_id' in doc.pins).toBe(false);
    expect(doc.pins.seed).toBe('18446744073709551615');
    expect(canonicalJson(doc)).toContain('"seed":"18446744073709551615"');
    expect(snapshotHash(content)).not.toBe(GOLDEN_HASH);
  });

  it('writes graph_version in snake_case with only the members present', () => {
    const content = goldenContent();
    content.graphVersion = { versionId: 'f'.repeat(32), watermarkTsUtc: '2026-02-06T17:00:00.000000Z' };
    expect(snapshotHashDocument(content).graph_version).toEqual({
      version_id: 'f'.repeat(32),
      watermark_ts_utc: '2026-02-06T17:00:00.000000Z',
    });
    content.graphVersion.stream = TRAFFIC;
    expect(snapshotHashDocument(content).graph_version).toHaveProperty('stream', TRAFFIC);
  });

  it('sorts key ids by UTF-16 code units: "10" before "9"', () => {
    const content = goldenContent();
    content.features[1].keyId = '10';
    content.features.reverse();
    content.features.push({ ...content.features[0], keyId: '9' });
    const doc = snapshotHashDocument(content) as { features: { key_id: string }[] };
    expect(doc.features.map((f) => f.key_id)).toEqual(['1', '10', '9']);
  });

  it('compares strings by UTF-16 code units, not code points or locale', () => {
    expect(['9', '10', 'a', 'B', '\uffff', '\u{10000}'].sort(compareUtf16)).toEqual([
      '10',
      '9',
      'B',
      'a',
      '\u{10000}', // surrogate pair 0xD800 0xDC00 sorts before 0xFFFF
      '\uffff',
    ]);
  });

  it('sorts feature groups, input basis, offsets and freshness flags', () => {
    const content = goldenContent();
    content.featureGroups = [
      { name: 'merchant_velocity', version: 'v1' },
      { name: 'flow_activity', version: 'v2' },
      { name: 'flow_activity', version: 'v10' },
    ];
    content.inputBasis = [
      {
        stream: TRAFFIC,
        offsetKind: 'file_line',
        offsets: [
          { partition: 10, offset: '5' },
          { partition: 2, offset: '7' },
        ],
      },
      { stream: ANCHOR, offsetKind: 'file_line', offsets: [{ partition: 0, offset: '0' }] },
    ];
    content.freshness = { state: 'AMBER', flags: ['STALE_KEYS', 'NO_DATA_KEYS'] };
    const doc = snapshotHashDocument(content) as {
      feature_groups: unknown[];
      input_basis: { stream: string; offsets: { partition: number }[] }[];
      freshness: { flags: string[] };
    };
    expect(doc.feature_groups).toEqual([
      { name: 'flow_activity', version: 'v10' },
      { name: 'flow_activity', version: 'v2' },
      { name: 'merchant_velocity', version: 'v1' },
    ]);
    expect(doc.input_basis.map((b) => b.stream)).toEqual([ANCHOR, TRAFFIC]);
    // Partitions are numbers: 2 before 10.
    expect(doc.input_basis[1].offsets.map((o) => o.partition)).toEqual([2, 10]);
    expect(doc.freshness.flags).toEqual(['NO_DATA_KEYS', 'STALE_KEYS']);
  });

  it('does not change the content it is given', () => {
    const content = goldenContent();
    content.features.reverse();
    const before = JSON.stringify(content);
    snapshotHash(content);
    expect(JSON.stringify(content)).toBe(before);
  });
});

describe('snapshot hash is invariant under the order of its inputs', () => {
  /** A richer content: two groups, two streams with several partitions, keys that sort differently as numbers. */
  function richContent(): SnapshotContent {
    const base = goldenContent();
    const keys = ['1', '10', '9', '18446744073709551616', '2'];
    const features: FeatureEntry[] = [];
    for (const group of [
      { group: 'flow_activity', version: 'golden', keyType: 'flow_id' },
      { group: 'merchant_velocity', version: 'v1', keyType: 'merchant_id' },
    ]) {
      keys.forEach((keyId, i) =>
        features.push({
          ...group,
          keyId,
          status: i % 2 === 0 ? 'OK' : 'NO_DATA',
          lastEventTsUtc: i % 2 === 0 ? '2026-02-06T17:00:00.000000Z' : null,
          values: [
            { name: 'n_1h', value: count(i) },
            { name: 'sum_1h', value: dec(`${i}.25`) },
            { name: 'max_1h', value: dec(i % 2 === 0 ? '-3.5' : null) },
          ],
        }),
      );
    }
    return {
      ...base,
      featureGroups: [
        { name: 'merchant_velocity', version: 'v1' },
        { name: 'flow_activity', version: 'golden' },
      ],
      inputBasis: [
        {
          stream: TRAFFIC,
          offsetKind: 'file_line',
          offsets: [0, 1, 2, 10].map((p) => ({ partition: p, offset: String(p * 7) })),
        },
        {
          stream: ANCHOR,
          offsetKind: 'file_line',
          offsets: [3, 0].map((p) => ({ partition: p, offset: '11' })),
        },
      ],
      freshness: { state: 'AMBER', flags: ['NO_DATA_KEYS', 'QUARANTINE_PRESENT'] },
      features,
    };
  }

  const permutation = <T>(items: T[]) => fc.shuffledSubarray(items, { minLength: items.length });

  it('holds for permutations of entries, groups, basis, offsets, values and flags', () => {
    const content = richContent();
    const expected = snapshotHash(content);
    fc.assert(
      fc.property(
        permutation(content.features.map((_, i) => i)),
        permutation(content.featureGroups),
        permutation([0, 1]),
        permutation(content.inputBasis[0].offsets),
        permutation([0, 1, 2]),
        permutation(content.freshness.flags),
        (entryOrder, groups, basisOrder, offsets, valueOrder, flags) => {
          const shuffled: SnapshotContent = {
            ...content,
            featureGroups: groups,
            inputBasis: basisOrder.map((i) =>
              i === 0 ? { ...content.inputBasis[0], offsets } : content.inputBasis[1],
            ),
            freshness: { ...content.freshness, flags },
            features: entryOrder.map((i) => {
              const e = content.features[i];
              return { ...e, values: valueOrder.map((v) => e.values[v]) };
            }),
          };
          expect(snapshotHash(shuffled)).toBe(expected);
        },
      ),
    );
  });

  it('changes when any single value changes', () => {
    const content = richContent();
    const expected = snapshotHash(content);
    fc.assert(
      fc.property(fc.nat(content.features.length - 1), fc.nat(2), (e, v) => {
        const changed = structuredClone(content);
        const target = changed.features[e].values[v];
        target.value =
          target.value.kind === 'count'
            ? count(target.value.value + 1)
            : dec(target.value.value === null ? '0' : null);
        expect(snapshotHash(changed)).not.toBe(expected);
      }),
    );
  });
});

describe('entryStatus (SPEC 5.3)', () => {
  const asOf = parseTimestamp('2026-02-06T17:05:00.123456Z')!;
  const ttl = 7 * MICROS_PER_DAY;

  it('is NO_DATA without a last event', () => {
    expect(entryStatus(null, asOf, ttl)).toBe('NO_DATA');
  });

  it('is OK up to exactly ttl and STALE one microsecond later', () => {
    expect(entryStatus(asOf, asOf, ttl)).toBe('OK');
    expect(entryStatus(asOf - ttl, asOf, ttl)).toBe('OK');
    expect(entryStatus(asOf - ttl - 1, asOf, ttl)).toBe('STALE');
  });
});

describe('computeFreshness (SPEC 5.6)', () => {
  it('is GREEN with no flags when every key is OK and nothing is quarantined', () => {
    expect(computeFreshness(['OK', 'OK'], false)).toEqual({ state: 'GREEN', flags: [] });
    expect(computeFreshness([], false)).toEqual({ state: 'GREEN', flags: [] });
  });

  it('flags NO_DATA, STALE and quarantine, sorted and once each', () => {
    expect(computeFreshness(['STALE', 'OK', 'NO_DATA', 'STALE'], true)).toEqual({
      state: 'AMBER',
      flags: ['NO_DATA_KEYS', 'QUARANTINE_PRESENT', 'STALE_KEYS'],
    });
    expect(computeFreshness(['STALE'], true).flags).toEqual(['QUARANTINE_PRESENT', 'STALE_KEYS']);
    expect(computeFreshness(['OK'], true)).toEqual({ state: 'AMBER', flags: ['QUARANTINE_PRESENT'] });
    expect(computeFreshness(['NO_DATA', 'OK'], false)).toEqual({ state: 'AMBER', flags: ['NO_DATA_KEYS'] });
  });
});
