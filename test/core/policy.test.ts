import { createHash } from 'node:crypto';
import path from 'node:path';
import { parse as parseYamlText, stringify } from 'yaml';
import { canonicalJson } from '../../src/core/json';
import {
  PolicyError,
  describePolicy,
  findGroup,
  groupsMatching,
  groupsReadingStream,
  parsePolicy,
  streamsOf,
} from '../../src/core/policy';
import type { FeaturePolicy } from '../../src/core/policy';
import { loadPolicyFile } from '../../src/core/policy-file';
import { MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE } from '../../src/core/time';

const ROOT = path.resolve(__dirname, '../..');
const DEFAULT_POLICY = path.join(ROOT, 'config/features.yaml');
const GOLDEN_POLICY = path.join(ROOT, 'test/fixtures/policies/golden.yaml');
const FILE = 'config/features.yaml';
const TRAFFIC = 'fp.bus.traffic.fraud.v1';
const ANCHOR = 'fp.bus.context.flow_anchor.fraud.v1';

type Obj = Record<string, unknown>;

/** A small valid policy as plain data; tests break one thing in it and serialise it as YAML. */
function basePolicy(): Obj {
  return {
    policy_id: 'ofp.features.test',
    revision: 'r1',
    groups: [
      {
        name: 'flow_activity',
        version: 'v1',
        key_type: 'flow_id',
        key_field: 'flow_id',
        streams: [TRAFFIC],
        event_types: ['s3_event_stream_with_fraud_6B'],
        ttl: '7d',
        windows: ['1h', '24h'],
        features: [
          { name: 'txn_count', agg: 'count' },
          { name: 'amount_sum', agg: 'sum', field: 'amount' },
        ],
      },
      {
        name: 'merchant_velocity',
        version: 'v1',
        key_type: 'merchant_id',
        key_field: 'merchant_id',
        streams: [ANCHOR],
        event_types: ['s3_flow_anchor_with_fraud_6B'],
        ttl: '7d',
        windows: ['1h', '7d'],
        features: [{ name: 'flow_count', agg: 'count' }],
      },
      {
        name: 'device_velocity',
        version: 'v1',
        key_type: 'device_id',
        key_field: 'device_id',
        streams: [ANCHOR],
        event_types: ['s3_flow_anchor_with_fraud_6B'],
        ttl: '7d',
        windows: ['1h', '24h'],
        features: [{ name: 'amount_max', agg: 'max', field: 'amount' }],
      },
    ],
  };
}

function groupAt(p: Obj, i: number): Obj {
  return (p.groups as Obj[])[i];
}

function featureAt(p: Obj, g: number, f: number): Obj {
  return (groupAt(p, g).features as Obj[])[f];
}

function parseObj(p: Obj): FeaturePolicy {
  return parsePolicy(stringify(p), FILE);
}

function errorOf(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return err as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

/** Asserts the exact `file: path: rule` message after mutating the base policy. */
function expectRejected(mutate: (p: Obj) => void, expectedPath: string, rule: string | RegExp): PolicyError {
  const p = basePolicy();
  mutate(p);
  const err = errorOf(() => parseObj(p));
  expect(err.file).toBe(FILE);
  expect(err.path).toBe(expectedPath);
  if (typeof rule === 'string') {
    expect(err.rule).toBe(rule);
    expect(err.message).toBe(`${FILE}: ${expectedPath}: ${rule}`);
  } else {
    expect(err.rule).toMatch(rule);
  }
  return err;
}

describe('default policy (config/features.yaml)', () => {
  const policy = loadPolicyFile(DEFAULT_POLICY);
  const windows = ['1h', '24h', '7d'];
  const names = (features: string[]) => features.flatMap((f) => windows.map((w) => `${f}_${w}`));

  it('declares the SPEC 3 settings', () => {
    expect(policy.policyId).toBe('ofp.features.default');
    expect(policy.revision).toBe('r1');
    expect(policy.latenessMicros).toBe(MICROS_PER_HOUR);
    expect(policy.keyRetentionMicros).toBe(400 * MICROS_PER_DAY);
    expect(policy.onInvalid).toBe('quarantine');
    expect(policy.longestWindowMicros).toBe(7 * MICROS_PER_DAY);
    expect(policy.horizonMicros).toBe(7 * MICROS_PER_DAY + MICROS_PER_HOUR);
    expect(policy.contentDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('has the five groups with their keys, streams and value names', () => {
    expect(policy.groups.map((g) => `${g.name}/${g.version}`)).toEqual([
      'flow_activity/v1',
      'merchant_velocity/v1',
      'device_velocity/v1',
      'account_velocity/v1',
      'instrument_velocity/v1',
    ]);
    const flow = findGroup(policy, 'flow_activity', 'v1')!;
    expect(flow.keyType).toBe('flow_id');
    expect(flow.keyField).toBe('flow_id');
    expect(flow.streams).toEqual([TRAFFIC]);
    expect(flow.eventTypes).toEqual(['s3_event_stream_with_fraud_6B']);
    expect(flow.valueNames).toEqual(names(['txn_count', 'amount_sum', 'amount_max']));
    expect(flow.fields).toEqual(['amount']);
    for (const key of ['merchant', 'device', 'account', 'instrument']) {
      const g = findGroup(policy, `${key}_velocity`, 'v1')!;
      expect(g.keyType).toBe(`${key}_id`);
      expect(g.keyField).toBe(`${key}_id`);
      expect(g.streams).toEqual([ANCHOR]);
      expect(g.eventTypes).toEqual(['s3_flow_anchor_with_fraud_6B']);
      expect(g.valueNames).toEqual(names(['flow_count', 'amount_sum', 'amount_max']));
    }
    for (const g of policy.groups) {
      expect(g.ttlMicros).toBe(7 * MICROS_PER_DAY);
      expect(g.windows).toEqual([
        { label: '1h', micros: MICROS_PER_HOUR },
        { label: '24h', micros: 24 * MICROS_PER_HOUR },
        { label: '7d', micros: 7 * MICROS_PER_DAY },
      ]);
      expect(g.features[0]).toEqual({
        name: g.name === 'flow_activity' ? 'txn_count' : 'flow_count',
        agg: 'count',
      });
    }
  });

  it('answers lookups by name, version and stream', () => {
    expect(findGroup(policy, 'flow_activity', 'v2')).toBeUndefined();
    expect(groupsReadingStream(policy, TRAFFIC).map((g) => g.name)).toEqual(['flow_activity']);
    expect(groupsReadingStream(policy, ANCHOR)).toHaveLength(4);
    expect(groupsMatching(policy, TRAFFIC, 's3_flow_anchor_with_fraud_6B')).toEqual([]);
    expect(groupsMatching(policy, ANCHOR, 's3_flow_anchor_with_fraud_6B')).toHaveLength(4);
    // Sorted by UTF-16 code units and distinct: "fp.bus.context..." < "fp.bus.traffic...".
    expect(streamsOf([...policy.groups].reverse())).toEqual([ANCHOR, TRAFFIC]);
    expect(streamsOf([])).toEqual([]);
  });

  it('describes itself for GraphQL featurePolicy', () => {
    const d = describePolicy(policy);
    expect(d).toMatchObject({
      policyId: 'ofp.features.default',
      revision: 'r1',
      contentDigest: policy.contentDigest,
      lateness: '1h',
      keyRetention: '400d',
      onInvalid: 'quarantine',
    });
    expect(d.groups).toHaveLength(5);
    expect(d.groups[0]).toEqual({
      name: 'flow_activity',
      version: 'v1',
      keyType: 'flow_id',
      keyField: 'flow_id',
      streams: [TRAFFIC],
      eventTypes: ['s3_event_stream_with_fraud_6B'],
      ttl: '7d',
      windows: windows,
      features: [
        { name: 'txn_count', agg: 'count', field: null },
        { name: 'amount_sum', agg: 'sum', field: 'amount' },
        { name: 'amount_max', agg: 'max', field: 'amount' },
      ],
      valueNames: names(['txn_count', 'amount_sum', 'amount_max']),
    });
    // A plain, JSON-safe object: GraphQL can serve it as it is.
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });
});

describe('golden policy fixture', () => {
  it('is ofp.features.golden r1 with flow_activity/golden over 1h and 24h', () => {
    const policy = loadPolicyFile(GOLDEN_POLICY);
    expect(policy.policyId).toBe('ofp.features.golden');
    expect(policy.revision).toBe('r1');
    expect(policy.groups).toHaveLength(1);
    const g = findGroup(policy, 'flow_activity', 'golden')!;
    expect(g.streams).toEqual([TRAFFIC]);
    expect(g.valueNames).toEqual([
      'txn_count_1h',
      'txn_count_24h',
      'amount_sum_1h',
      'amount_sum_24h',
      'amount_max_1h',
      'amount_max_24h',
    ]);
    expect(policy.horizonMicros).toBe(25 * MICROS_PER_HOUR);
  });
});

describe('parsePolicy: defaults and derived values', () => {
  it('fills lateness 1h, key_retention 400d, on_invalid quarantine when absent', () => {
    const policy = parseObj(basePolicy());
    expect(policy.lateness).toBe('1h');
    expect(policy.latenessMicros).toBe(MICROS_PER_HOUR);
    expect(policy.keyRetention).toBe('400d');
    expect(policy.keyRetentionMicros).toBe(400 * MICROS_PER_DAY);
    expect(policy.onInvalid).toBe('quarantine');
  });

  it('takes explicit settings and computes the horizon from the longest window of any group', () => {
    const p = basePolicy();
    Object.assign(p, { lateness: '30m', key_retention: '30d', on_invalid: 'stall' });
    const policy = parseObj(p);
    expect(policy.latenessMicros).toBe(30 * MICROS_PER_MINUTE);
    expect(policy.keyRetentionMicros).toBe(30 * MICROS_PER_DAY);
    expect(policy.onInvalid).toBe('stall');
    expect(policy.longestWindowMicros).toBe(7 * MICROS_PER_DAY);
    expect(policy.horizonMicros).toBe(7 * MICROS_PER_DAY + 30 * MICROS_PER_MINUTE);
    expect(policy.groups[0].longestWindowMicros).toBe(24 * MICROS_PER_HOUR);
  });

  it('accepts every duration unit', () => {
    const p = basePolicy();
    groupAt(p, 0).windows = ['30s', '5m', '1h', '7d'];
    expect(parseObj(p).groups[0].windows.map((w) => w.micros)).toEqual([
      30_000_000,
      5 * MICROS_PER_MINUTE,
      MICROS_PER_HOUR,
      7 * MICROS_PER_DAY,
    ]);
  });

  it('lists distinct fields of non-count features in first-use order', () => {
    const p = basePolicy();
    groupAt(p, 0).features = [
      { name: 'n', agg: 'count' },
      { name: 'b_last', agg: 'last', field: 'b' },
      { name: 'a_min', agg: 'min', field: 'a' },
      { name: 'b_avg', agg: 'avg', field: 'b' },
    ];
    const g = parseObj(p).groups[0];
    expect(g.fields).toEqual(['b', 'a']);
    expect(g.valueNames).toEqual([
      'n_1h',
      'n_24h',
      'b_last_1h',
      'b_last_24h',
      'a_min_1h',
      'a_min_24h',
      'b_avg_1h',
      'b_avg_24h',
    ]);
  });

  it('allows one group name in two versions', () => {
    const p = basePolicy();
    (p.groups as Obj[]).push({ ...groupAt(p, 0), version: 'v2' });
    const policy = parseObj(p);
    expect(findGroup(policy, 'flow_activity', 'v2')).toBeDefined();
    expect(findGroup(policy, 'flow_activity', 'v1')).toBeDefined();
  });

  it('resolves YAML anchors and aliases', () => {
    const text = [
      'policy_id: p',
      'revision: r1',
      'groups:',
      '  - name: a',
      '    version: v1',
      '    key_type: flow_id',
      '    key_field: flow_id',
      `    streams: &s [${TRAFFIC}]`,
      '    event_types: [e]',
      '    ttl: 7d',
      '    windows: &w [1h, 24h]',
      '    features: &f [{ name: c, agg: count }]',
      '  - name: b',
      '    version: v1',
      '    key_type: flow_id',
      '    key_field: flow_id',
      '    streams: *s',
      '    event_types: [e]',
      '    ttl: 7d',
      '    windows: *w',
      '    features: *f',
    ].join('\n');
    const policy = parsePolicy(text, FILE);
    expect(policy.groups[1].valueNames).toEqual(['c_1h', 'c_24h']);
  });
});

describe('parsePolicy: validation rules name the file, the path and the rule', () => {
  const DURATION = 'must be a duration like 1h, 24h, 7d';

  it('top level: required keys, unknown keys, ids, settings', () => {
    expectRejected((p) => delete p.policy_id, 'policy_id', 'is required');
    expectRejected((p) => delete p.revision, 'revision', 'is required');
    expectRejected((p) => delete p.groups, 'groups', 'is required');
    expectRejected(
      (p) => (p.colour = 'red'),
      'colour',
      /^unknown key \(allowed: policy_id, revision, groups, /,
    );
    expectRejected((p) => (p.policy_id = ''), 'policy_id', 'must be a non-empty string');
    expectRejected((p) => (p.revision = '  '), 'revision', 'must be a non-empty string');
    expectRejected((p) => (p.revision = 1), 'revision', 'must be a string');
    expectRejected((p) => (p.revision = null), 'revision', 'must be a string');
    expectRejected((p) => (p.lateness = '1 hour'), 'lateness', DURATION);
    expectRejected((p) => (p.lateness = null), 'lateness', DURATION);
    expectRejected((p) => (p.key_retention = '0d'), 'key_retention', DURATION);
    expectRejected((p) => (p.key_retention = '1w'), 'key_retention', DURATION);
    expectRejected((p) => (p.on_invalid = 'drop'), 'on_invalid', 'must be one of quarantine, stall');
    expectRejected((p) => (p.groups = []), 'groups', 'must not be empty');
    expectRejected((p) => (p.groups = { a: 1 }), 'groups', 'must be a list');
  });

  it('treats a __proto__ key as an unknown key', () => {
    const err = errorOf(() => parsePolicy(`${stringify(basePolicy())}__proto__: { x: 1 }\n`, FILE));
    expect(err.path).toBe('__proto__');
    expect(err.rule).toMatch(/^unknown key/);
  });

  it('reports an empty file or a non-mapping document at the root', () => {
    expect(errorOf(() => parsePolicy('', FILE)).message).toBe(
      `${FILE}: (root): must be a mapping (the file is empty)`,
    );
    expect(errorOf(() => parsePolicy('- a\n- b\n', FILE)).message).toBe(`${FILE}: (root): must be a mapping`);
  });

  it('groups: required and unknown keys, names, versions, keys', () => {
    expectRejected((p) => delete groupAt(p, 1).key_field, 'groups[1].key_field', 'is required');
    expectRejected((p) => delete groupAt(p, 0).ttl, 'groups[0].ttl', 'is required');
    expectRejected((p) => (groupAt(p, 2).colour = 'red'), 'groups[2].colour', /^unknown key/);
    expectRejected(
      (p) => (groupAt(p, 0).key_field = ''),
      'groups[0].key_field',
      'must be a non-empty string',
    );
    expectRejected(
      (p) => (groupAt(p, 0).key_type = 'flow:id'),
      'groups[0].key_type',
      /^must be an identifier/,
    );
    expectRejected((p) => (groupAt(p, 0).name = 'flow/activity'), 'groups[0].name', /^must be an identifier/);
    expectRejected(
      (p) => (groupAt(p, 0).version = '1'.repeat(65)),
      'groups[0].version',
      'must be at most 64 characters',
    );
    expectRejected((p) => (groupAt(p, 0).version = 'v/1'), 'groups[0].version', /^must be a version/);
    expectRejected((p) => (groupAt(p, 1).version = 2), 'groups[1].version', 'must be a string');
    expectRejected((p) => (p.groups = ['flow_activity']), 'groups[0]', 'must be a mapping');
  });

  it('groups: name and version pairs are unique', () => {
    expectRejected(
      (p) => (groupAt(p, 2).name = 'flow_activity'),
      'groups[2]',
      'duplicate group flow_activity version v1 (first at groups[0])',
    );
  });

  it('groups: streams and event types are non-empty lists of distinct names', () => {
    expectRejected((p) => (groupAt(p, 0).streams = []), 'groups[0].streams', 'must not be empty');
    expectRejected((p) => (groupAt(p, 0).streams = TRAFFIC), 'groups[0].streams', 'must be a list');
    expectRejected(
      (p) => (groupAt(p, 0).streams = [TRAFFIC, '']),
      'groups[0].streams[1]',
      'must be a non-empty string',
    );
    expectRejected(
      (p) => (groupAt(p, 0).streams = ['../etc']),
      'groups[0].streams[0]',
      /^must be a stream name/,
    );
    expectRejected(
      (p) => (groupAt(p, 0).streams = [TRAFFIC, TRAFFIC]),
      'groups[0].streams[1]',
      `duplicate "${TRAFFIC}" (first at groups[0].streams[0])`,
    );
    expectRejected((p) => (groupAt(p, 1).event_types = []), 'groups[1].event_types', 'must not be empty');
    expectRejected((p) => (groupAt(p, 1).event_types = [7]), 'groups[1].event_types[0]', 'must be a string');
  });

  it('groups: ttl and windows are durations; windows are non-empty and distinct', () => {
    expectRejected((p) => (groupAt(p, 2).windows = ['1h', '1 day']), 'groups[2].windows[1]', DURATION);
    const err = expectRejected((p) => (groupAt(p, 2).windows = ['1h', 24]), 'groups[2].windows[1]', DURATION);
    expect(err.message).toBe(
      'config/features.yaml: groups[2].windows[1]: must be a duration like 1h, 24h, 7d',
    );
    expectRejected((p) => (groupAt(p, 0).windows = []), 'groups[0].windows', 'must not be empty');
    expectRejected((p) => (groupAt(p, 0).windows = '1h'), 'groups[0].windows', 'must be a list');
    expectRejected(
      (p) => (groupAt(p, 0).windows = ['1h', '24h', '1h']),
      'groups[0].windows[2]',
      'duplicate window 1h (same length as groups[0].windows[0])',
    );
    expectRejected(
      (p) => (groupAt(p, 0).windows = ['1h', '60m']),
      'groups[0].windows[1]',
      'duplicate window 60m (same length as groups[0].windows[0])',
    );
    expectRejected((p) => (groupAt(p, 0).ttl = 'forever'), 'groups[0].ttl', DURATION);
    expectRejected((p) => (groupAt(p, 0).ttl = '07d'), 'groups[0].ttl', DURATION);
    expectRejected((p) => (groupAt(p, 0).ttl = `${Number.MAX_SAFE_INTEGER}d`), 'groups[0].ttl', DURATION);
  });

  it('features: non-empty, unique names, known aggregations, field exactly when not count', () => {
    expectRejected((p) => (groupAt(p, 1).features = []), 'groups[1].features', 'must not be empty');
    expectRejected(
      (p) => (featureAt(p, 0, 1).name = 'txn_count'),
      'groups[0].features[1].name',
      'duplicate feature name txn_count (first at groups[0].features[0])',
    );
    expectRejected(
      (p) => (featureAt(p, 0, 1).agg = 'median'),
      'groups[0].features[1].agg',
      'must be one of count, sum, min, max, avg, last',
    );
    expectRejected((p) => delete featureAt(p, 0, 1).agg, 'groups[0].features[1].agg', 'is required');
    expectRejected((p) => delete featureAt(p, 0, 1).name, 'groups[0].features[1].name', 'is required');
    expectRejected(
      (p) => delete featureAt(p, 0, 1).field,
      'groups[0].features[1].field',
      'is required for agg sum',
    );
    for (const agg of ['min', 'max', 'avg', 'last']) {
      expectRejected(
        (p) => (groupAt(p, 1).features = [{ name: 'x', agg }]),
        'groups[1].features[0].field',
        `is required for agg ${agg}`,
      );
    }
    expectRejected(
      (p) => (featureAt(p, 0, 0).field = 'amount'),
      'groups[0].features[0].field',
      'not allowed for agg count',
    );
    expectRejected(
      (p) => (featureAt(p, 0, 1).field = ''),
      'groups[0].features[1].field',
      'must be a non-empty string',
    );
    expectRejected((p) => (featureAt(p, 2, 0).window = '1h'), 'groups[2].features[0].window', /^unknown key/);
    expectRejected(
      (p) => (featureAt(p, 0, 0).name = 'txn-count'),
      'groups[0].features[0].name',
      /^must be an identifier/,
    );
  });

  it('refuses non-integer numbers anywhere, so the digest never depends on float formatting', () => {
    const base = stringify(basePolicy());
    for (const literal of ['1.5', '1.0', '.inf', '1e3']) {
      const err = errorOf(() => parsePolicy(base.replace('revision: r1', `revision: ${literal}`), FILE));
      expect(err.path).toBe('revision');
      expect(err.rule).toBe('non-integer numbers are not allowed (quote the value if it is text)');
      expect(err.line).toBe(2);
    }
    // An integer is data (and then a type error where a string is expected); one beyond 2^53 is refused as such.
    expect(errorOf(() => parsePolicy(base.replace('revision: r1', 'revision: 7'), FILE)).rule).toBe(
      'must be a string',
    );
    expect(
      errorOf(() => parsePolicy(base.replace('revision: r1', 'revision: 9007199254740993'), FILE)).rule,
    ).toBe('integer out of the safe range');
  });

  it('refuses YAML tags that are not plain data', () => {
    const base = stringify(basePolicy());
    for (const tagged of ['!!binary aGk=', '!!timestamp 2001-01-01', '!custom r1']) {
      const err = errorOf(() => parsePolicy(base.replace('revision: r1', `revision: ${tagged}`), FILE));
      expect(err.message).toMatch(/^config\/features\.yaml: (revision|line 2, column \d+): /);
    }
    // Explicit core tags are fine.
    expect(parsePolicy(base.replace('revision: r1', 'revision: !!str r1'), FILE).revision).toBe('r1');
  });

  it('refuses self-referencing aliases and alias expansion bombs', () => {
    expect(errorOf(() => parsePolicy('policy_id: &a [*a]\n', FILE)).rule).toBe('alias refers to itself');
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const name of 'bcdef') {
      const prev = String.fromCharCode(name.charCodeAt(0) - 1);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    expect(errorOf(() => parsePolicy(levels.join('\n'), FILE)).rule).toBe(
      'document too large (alias expansion?)',
    );
  });

  it('reports YAML syntax errors with the file and line', () => {
    const text = 'policy_id: p\nrevision: r1\ngroups:\n  - name: [a, b\n    version: v1\n';
    const err = errorOf(() => parsePolicy(text, FILE));
    expect(err.message).toMatch(/^config\/features\.yaml: line \d+, column \d+: invalid YAML: /);
    expect(err.line).toBeGreaterThanOrEqual(4);
    expect(err.path).toBe(`line ${err.line}, column ${err.path.split(', column ')[1]}`);
  });

  it('reports duplicate mapping keys as YAML errors on their line', () => {
    const err = errorOf(() => parsePolicy('policy_id: p\nrevision: r1\nrevision: r2\ngroups: []\n', FILE));
    expect(err.message).toMatch(/^config\/features\.yaml: line 3, column 1: invalid YAML: .*unique/);
    expect(err.line).toBe(3);
  });

  it('points validation errors at a line when it can', () => {
    const text = stringify(basePolicy());
    const broken = text.replace('- 24h', '- 24 hours');
    const err = errorOf(() => parsePolicy(broken, FILE));
    expect(err.path).toBe('groups[0].windows[1]');
    expect(err.line).toBe(broken.split('\n').findIndex((l) => l.includes('24 hours')) + 1);
    // A missing key points at its mapping.
    const p = basePolicy();
    delete groupAt(p, 1).ttl;
    const missing = stringify(p);
    const e2 = errorOf(() => parsePolicy(missing, FILE));
    expect(e2.path).toBe('groups[1].ttl');
    expect(e2.line).toBe(missing.split('\n').findIndex((l) => l.includes('name: merchant_velocity')) + 1);
  });
});

describe('content digest', () => {
  const digestOf = (text: string) => parsePolicy(text, FILE).contentDigest;
  const blockText = stringify(basePolicy());

  it('is sha256 of the canonical JSON of the parsed YAML as written', () => {
    const expected = createHash('sha256')
      .update(canonicalJson(parseYamlText(blockText)))
      .digest('hex');
    expect(digestOf(blockText)).toBe(expected);
    expect(parsePolicy(blockText, FILE).source).toEqual(basePolicy());
  });

  it('does not change with key order, comments, quoting or flow versus block style', () => {
    const p = basePolicy();
    const reordered: Obj = {
      groups: [...(p.groups as Obj[])].map((g) => Object.fromEntries(Object.entries(g).reverse())),
    };
    reordered.revision = p.revision;
    reordered.policy_id = p.policy_id;
    const variants = [
      stringify(reordered),
      `# a comment\n${blockText.replace('revision: r1', "revision: 'r1' # quoted")}`,
      JSON.stringify(p), // JSON is YAML too
      JSON.stringify(p, null, 4),
      stringify(p, { collectionStyle: 'flow' }),
      blockText.replace(/\n/g, '\r\n'),
    ];
    for (const text of variants) expect(digestOf(text)).toBe(digestOf(blockText));
  });

  it('changes when any value changes, including a setting equal to its default', () => {
    const base = digestOf(blockText);
    const changed = [
      blockText.replace('revision: r1', 'revision: r2'),
      blockText.replace('- 24h', '- 25h'),
      blockText.replace('agg: sum', 'agg: max'),
      `lateness: 1h\n${blockText}`, // the digest covers the file as written, not with defaults filled in
    ];
    const digests = changed.map(digestOf);
    for (const d of digests) expect(d).not.toBe(base);
    expect(new Set(digests).size).toBe(digests.length);
  });

  it('of the default policy is stable across loads', () => {
    expect(loadPolicyFile(DEFAULT_POLICY).contentDigest).toBe(loadPolicyFile(DEFAULT_POLICY).contentDigest);
  });
});

describe('loadPolicyFile', () => {
  it('reports a missing file with the file name and rule `file not found`', () => {
    const missing = path.join(ROOT, 'config/no-such-policy.yaml');
    const err = errorOf(() => loadPolicyFile(missing));
    expect(err.file).toBe(missing);
    expect(err.rule).toBe('file not found');
    expect(err.message).toBe(`${missing}: (file): file not found`);
    expect(err.name).toBe('PolicyError');
  });

  it('names the file as given in validation errors', () => {
    const err = errorOf(() => loadPolicyFile(path.join(ROOT, 'package.json')));
    expect(err.file).toBe(path.join(ROOT, 'package.json'));
    expect(err.message.startsWith(`${path.join(ROOT, 'package.json')}: `)).toBe(true);
  });
});
