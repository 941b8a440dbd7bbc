/**
 * The GraphQL fast path answers exactly as Apollo does. Every request below goes to the gateway's real HTTP server
 * twice over (with the fast path, and with Apollo alone) over the same canned gateway service, and the two answers
 * must be the same bytes with the same status and headers. Each request is sent twice to the fast-path gateway: the
 * first time Apollo answers and teaches the fast path the query; the second time says which way it went.
 */
import fc from 'fast-check';
import { EXAMPLE_QUERY, EXAMPLE_VARIABLES } from '../../src/graphql/example-query';
import { FEATURES_QUERY } from '../integration/support/serving';
import {
  BAD_TIMESTAMP_KEY,
  cannedGateway,
  FAILING_STREAM,
  OVERFLOW_STREAM,
  type CannedGateway,
} from './support/canned-gateway';
import {
  fastPathCounts,
  OPERATOR,
  startGatewayPair,
  type GatewayPair,
  type HttpRequest,
} from './support/gateway-pair';
import { examplePins } from '../fixtures/pins';

type Way = 'answered' | 'declined' | 'handed_back' | 'not asked';

let canned: CannedGateway;
let pair: GatewayPair;

beforeAll(async () => {
  canned = cannedGateway();
  pair = await startGatewayPair(canned.gateway);
});
afterAll(async () => pair.close());

/** Sends `r` twice to both gateways, expects identical answers both times, and returns the second time's way. */
async function sameAnswers(r: HttpRequest): Promise<{ way: Way; status: number; body: string }> {
  const first = await pair.exchange(r);
  expect(first.fast).toEqual(first.apollo);
  const before = await fastPathCounts();
  const second = await pair.exchange(r);
  const after = await fastPathCounts();
  expect(second.fast).toEqual(second.apollo);
  const ways = (['answered', 'declined', 'handed_back'] as const).filter((w) => after[w] !== before[w]);
  expect(ways.length).toBeLessThanOrEqual(1);
  return { way: ways[0] ?? 'not asked', status: second.fast.status, body: second.fast.body };
}

const PINS = examplePins();
const ASOF = '2026-02-06T17:05:00.123456Z';
const MERCHANT = { name: 'merchant_velocity', version: 'v1' };
const variables = (extra: Record<string, unknown> = {}) => ({
  pins: PINS,
  asOf: ASOF,
  keys: [{ keyType: 'merchant_id', keyId: '100001' }],
  groups: [MERCHANT],
  ...extra,
});
const features = (extra: Record<string, unknown> = {}, query = FEATURES_QUERY) => ({
  body: { query, variables: variables(extra) },
});

describe('the features query', () => {
  it.each<[string, HttpRequest]>([
    ['the example query of SPEC 7', { body: { query: EXAMPLE_QUERY, variables: EXAMPLE_VARIABLES } }],
    ['the full query of the integration tests', features()],
    [
      'every optional argument',
      features({
        minBasis: [{ stream: 'fp.bus.traffic.fraud.v1', offsets: [{ partition: 0, offset: '3' }] }],
        waitMs: 0,
        requestId: 'req-1',
      }),
    ],
    ['optional arguments explicitly null', features({ minBasis: null, waitMs: null, requestId: null })],
    ['a runId pin', features({ pins: { ...PINS, runId: 'e'.repeat(32) } })],
    ['a null runId pin', features({ pins: { ...PINS, runId: null } })],
    ['a FeaturesError member (missing pins)', features({ pins: { ...PINS, seed: '' } })],
    ['a FeaturesError member (unknown group)', features({ groups: [{ name: 'nope', version: 'v1' }] })],
    [
      'a single key object where a list is expected',
      features({ keys: { keyType: 'merchant_id', keyId: '9' } }),
    ],
    ['no keys', features({ keys: [] })],
    [
      'keys that need JSON escapes',
      features({ keys: [{ keyType: 'merchant_id', keyId: '"\\\n\u0001\u2028\ud800é' }] }),
    ],
    [
      'several keys and groups',
      features({ keys: [1, 22, 333].map((k) => ({ keyType: 'merchant_id', keyId: String(k) })) }),
    ],
  ])('%s: answered by the fast path', async (_name, r) => {
    expect((await sameAnswers(r)).way).toBe('answered');
  });

  it.each<[string, HttpRequest]>([
    ['a malformed DateTime', features({ asOf: '2026-02-30T00:00:00.000000Z' })],
    ['a missing required variable', { body: { query: FEATURES_QUERY, variables: { pins: PINS } } }],
    ['no variables at all', { body: { query: FEATURES_QUERY } }],
    ['a wrong variable type', features({ waitMs: '5' })],
    ['a fractional Int', features({ waitMs: 1.5 })],
    ['an Int beyond 32 bits', features({ waitMs: 2 ** 31 })],
    ['an unknown input field', features({ keys: [{ keyType: 'merchant_id', keyId: '1', extra: 1 }] })],
    ['a null list item', features({ keys: [null] })],
  ])('%s: Apollo answers its error (the fast path declines)', async (_name, r) => {
    const { way, status, body } = await sameAnswers(r);
    expect(way).toBe('declined');
    expect(status).toBe(400);
    expect(JSON.parse(body).errors[0].extensions.code).toBe('INVALID_REQUEST');
  });
});

const SNAPSHOT_ARGS = `$pins: ContextPinsInput!, $asOf: DateTime!, $keys: [FeatureKeyInput!]!, $groups: [FeatureGroupInput!]!`;
const CALL = `features(pins: $pins, asOf: $asOf, keys: $keys, groups: $groups)`;

describe('selections', () => {
  it.each<[string, string]>([
    [
      'aliases, named and nested fragments, inline fragments on the union',
      `query Q(${SNAPSHOT_ARGS}) {
        a: ${CALL} { ...R ... on FeatureSnapshot { __typename } }
        b: ${CALL} { ... on FeaturesError { code } }
        __typename
      }
      fragment R on FeaturesResult { __typename ... on FeatureSnapshot { pins { runId seed } values { ...E } } }
      fragment E on FeatureEntry { keyId features { value name } ...E2 }
      fragment E2 on FeatureEntry { status lastEventTsUtc features { n: name } }`,
    ],
    [
      'the same field twice, merged',
      `query(${SNAPSHOT_ARGS}) { ${CALL} { ... on FeatureSnapshot { asOf asOf policyRev { revision } policyRev { policyId } } } }`,
    ],
    [
      'a fragment on the snapshot type spread on the union',
      `query(${SNAPSHOT_ARGS}) { f: ${CALL} { ...S } } fragment S on FeatureSnapshot { snapshotHash freshness { flags state } }`,
    ],
    [
      'literal arguments instead of variables',
      `{ features(pins: {platformRunId: "platform_20260206T170000Z", scenarioRunId: "${PINS.scenarioRunId}", scenarioId: "baseline_v1", manifestFingerprint: "${PINS.manifestFingerprint}", parameterHash: "${PINS.parameterHash}", seed: "7"}, asOf: "${ASOF}", keys: [{keyType: "merchant_id", keyId: "5"}], groups: {name: "merchant_velocity", version: "v1"}, waitMs: 0) { __typename ... on FeatureSnapshot { values { keyId } } } }`,
    ],
  ])('%s: answered by the fast path', async (_name, query) => {
    expect((await sameAnswers({ body: { query, variables: variables() } })).way).toBe('answered');
  });

  it('variables with defaults, given or not', async () => {
    const query = `query($pins: ContextPinsInput!, $asOf: DateTime!, $keys: [FeatureKeyInput!]!, $groups: [FeatureGroupInput!]!,
        $waitMs: Int = 0, $requestId: String = "from-default") {
      features(pins: $pins, asOf: $asOf, keys: $keys, groups: $groups, waitMs: $waitMs, requestId: $requestId) {
        ... on FeatureSnapshot { requestId inputBasis { offsets { offset } } } ... on FeaturesError { requestId detail }
      }
    }`;
    expect((await sameAnswers({ body: { query, variables: variables() } })).way).toBe('answered');
    const given = { body: { query, variables: variables({ waitMs: 7, requestId: 'given' }) } };
    expect((await sameAnswers(given)).way).toBe('answered');
    const nulls = { body: { query, variables: variables({ waitMs: null, requestId: null }) } };
    expect((await sameAnswers(nulls)).way).toBe('answered');
  });

  it('a non-null variable with a default and no value: graphql-jit refuses it, so Apollo answers', async () => {
    const query = `query($pins: ContextPinsInput!, $asOf: DateTime! = "${ASOF}", $keys: [FeatureKeyInput!]!, $groups: [FeatureGroupInput!]!) {
      ${CALL} { __typename }
    }`;
    const { asOf: _asOf, ...withoutAsOf } = variables();
    const { way, status } = await sameAnswers({ body: { query, variables: withoutAsOf } });
    expect(way).toBe('declined');
    expect(status).toBe(200);
  });

  it.each<[string, string]>([
    ['a directive', `query($skip: Boolean!) { featurePolicy { policyId @skip(if: $skip) revision } }`],
    ['introspection', `{ __schema { queryType { name } } }`],
    ['__type', `{ __type(name: "Query") { name } }`],
    [
      'a variable inside a literal object',
      `query($id: String) { features(pins: {platformRunId: "p", scenarioRunId: "s", scenarioId: "x", manifestFingerprint: "m", parameterHash: "h", seed: "7", runId: $id}, asOf: "${ASOF}", keys: [], groups: []) { __typename } }`,
    ],
  ])('%s: the fast path leaves it to Apollo', async (_name, query) => {
    const r = await sameAnswers({ body: { query, variables: { skip: false } } });
    expect(r.way).toBe('declined');
    expect(r.status).toBe(200);
  });

  it('a query beyond the depth, cost or alias limits is refused by Apollo alone', async () => {
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: __typename`).join(' ');
    const r = await sameAnswers({ body: { query: `{ ${aliases} }` } });
    expect(r.way).toBe('declined');
    expect(r.status).toBe(400);
  });
});

describe('operations', () => {
  const DOCUMENT = `
    query Policy { featurePolicy { policyId groups { name windows valueNames } } }
    query Health { health { state reasons policyRevision partitions { stream partition state stalledReason } } }
    mutation Pause { pausePartition(stream: "a", partition: 0) { state nextOffset } }`;

  it.each<[string, unknown, Way, number]>([
    ['the first query by name', 'Policy', 'answered', 200],
    ['the second query by name', 'Health', 'answered', 200],
    ['the mutation by name (a reader may not)', 'Pause', 'declined', 200],
    ['no name among several operations', undefined, 'declined', 400],
    ['a null name among several operations', null, 'declined', 400],
    ['an empty name', '', 'declined', 400],
    ['an unknown name', 'Nope', 'declined', 400],
  ])('%s', async (_name, operationName, way, status) => {
    const r = await sameAnswers({ body: { query: DOCUMENT, operationName } });
    expect(r).toMatchObject({ way, status });
  });

  it('a mutation never takes the fast path, and runs once per request', async () => {
    const before = canned.calls.control;
    const r = await sameAnswers({ body: { query: DOCUMENT, operationName: 'Pause' }, token: OPERATOR });
    expect(r.way).toBe('declined');
    expect(JSON.parse(r.body)).toEqual({ data: { pausePartition: { state: 'PAUSED', nextOffset: '5' } } });
    expect(canned.calls.control - before).toBe(4);
  });

  it.each<[string, string]>([
    [
      'health',
      '{ health { state reasons policyRevision partitions { stream partition nextOffset endOffset lagRecords lagSeconds state quarantined applied duplicates irrelevant stalledOffset stalledClass stalledReason } } }',
    ],
    [
      'featurePolicy',
      '{ featurePolicy { policyId revision contentDigest lateness keyRetention onInvalid groups { name version keyType streams eventTypes ttl windows valueNames } } }',
    ],
    ['partitions of every stream', '{ partitions { stream partition lagSeconds state } }'],
    ['partitions of one stream', '{ partitions(stream: "a") { stream partition nextOffset } }'],
    [
      'several root fields',
      '{ p: partitions(stream: "b") { stream } featurePolicy { revision } __typename }',
    ],
  ])('%s: answered by the fast path', async (_name, query) => {
    expect((await sameAnswers({ body: { query } })).way).toBe('answered');
  });
});

describe('errors during execution', () => {
  it.each<[string, string, Record<string, unknown>]>([
    [
      'a root resolver that rejects (partitions while PostgreSQL is down), next to a features read',
      `query(${SNAPSHOT_ARGS}) { ${CALL} { __typename } partitions(stream: "${FAILING_STREAM}") { stream } }`,
      variables(),
    ],
    [
      'a value the schema cannot represent (an Int beyond 32 bits), nulls propagated to the list',
      `query(${SNAPSHOT_ARGS}) { ${CALL} { __typename } partitions(stream: "${OVERFLOW_STREAM}") { stream lagRecords } }`,
      variables(),
    ],
    [
      'a custom scalar that refuses to serialize (DateTime)',
      `query(${SNAPSHOT_ARGS}) { ${CALL} { ... on FeatureSnapshot { values { lastEventTsUtc } } } }`,
      variables({ keys: [{ keyType: 'merchant_id', keyId: BAD_TIMESTAMP_KEY }] }),
    ],
  ])(
    '%s: Apollo writes the answer from the recorded root results, every resolver with side effects runs once',
    async (_name, query, vars) => {
      const before = { ...canned.calls };
      const r = await sameAnswers({ body: { query, variables: vars } });
      expect(r.way).toBe('handed_back');
      expect(JSON.parse(r.body).errors.length).toBeGreaterThan(0);
      // Two sendings to two gateways: four requests, four features reads, four partitions reads.
      expect(canned.calls.features - before.features).toBe(4);
      expect(canned.calls.partitions - before.partitions).toBe(query.includes('partitions') ? 4 : 0);
    },
  );
});

describe('HTTP requests the fast path leaves to Apollo', () => {
  const ok = features().body;
  it.each<[string, HttpRequest, Way]>([
    [
      'a charset parameter on the content type',
      { body: ok, headers: { 'content-type': 'application/json; charset=utf-8' } },
      'answered',
    ],
    ['an upper-case content type', { body: ok, headers: { 'content-type': 'Application/JSON' } }, 'answered'],
    [
      'Accept: application/graphql-response+json',
      { body: ok, headers: { accept: 'application/graphql-response+json' } },
      'answered',
    ],
    ['Accept: */*', { body: ok, headers: { accept: '*/*' } }, 'answered'],
    ['Accept that Apollo cannot satisfy (406)', { body: ok, headers: { accept: 'text/plain' } }, 'declined'],
    [
      'a simple content type (CSRF prevention)',
      { body: ok, headers: { 'content-type': 'text/plain' } },
      'declined',
    ],
    ['no content type', { body: ok, headers: { 'content-type': undefined } }, 'declined'],
    ['an extensions object', { body: { ...ok, extensions: {} } }, 'declined'],
    [
      'a persisted query',
      { body: { ...ok, extensions: { persistedQuery: { version: 1, sha256Hash: 'x' } } } },
      'declined',
    ],
    ['variables as a JSON string', { body: { ...ok, variables: JSON.stringify(ok.variables) } }, 'declined'],
    ['variables as an array', { body: { ...ok, variables: [] } }, 'declined'],
    ['a numeric operationName', { body: { ...ok, operationName: 5 } }, 'declined'],
    ['a batch', { body: [ok] }, 'declined'],
    ['an empty query', { body: { query: '' } }, 'declined'],
    ['a syntax error', { body: { query: '{ health { state ' } }, 'declined'],
    ['a body that is not JSON', { body: '{"query":' }, 'not asked'],
    ['no bearer token', { body: ok, token: null }, 'not asked'],
    [
      'a GET request',
      { body: undefined, method: 'GET', path: '/graphql?query=%7B__typename%7D' },
      'not asked',
    ],
  ])('%s', async (_name, r, way) => {
    expect((await sameAnswers(r)).way).toBe(way);
  });
});

describe('introspection turned off', () => {
  it('is refused alike, and the refused document never reaches the fast path', async () => {
    const closed = await startGatewayPair(cannedGateway().gateway, { introspection: false });
    try {
      const r = { body: { query: '{ __schema { queryType { name } } }' } };
      for (let i = 0; i < 2; i++) {
        const { fast, apollo } = await closed.exchange(r);
        expect(fast).toEqual(apollo);
        expect(fast.status).toBe(400);
      }
    } finally {
      await closed.close();
    }
  });
});

describe('property: any variables, any aliases', () => {
  const text = fc.oneof(
    fc.string(),
    fc.constantFrom(
      '',
      '7',
      '18446744073709551616',
      'merchant_id',
      'device_id',
      '"',
      '\\',
      '\u2028',
      '\ud800',
    ),
  );
  const anyJson = fc.jsonValue({ maxDepth: 2 });
  const key = fc.record({ keyType: fc.constantFrom('merchant_id', 'device_id', 'flow_id'), keyId: text });
  const group = fc.record({
    name: fc.constantFrom('merchant_velocity', 'device_velocity', 'nope'),
    version: fc.constantFrom('v1', 'v2'),
  });
  const pins = fc.record(
    {
      platformRunId: fc.oneof(fc.constant(PINS.platformRunId), text),
      scenarioRunId: fc.oneof(fc.constant(PINS.scenarioRunId), text),
      scenarioId: fc.oneof(fc.constant(PINS.scenarioId), text),
      manifestFingerprint: fc.constant(PINS.manifestFingerprint),
      parameterHash: fc.constant(PINS.parameterHash),
      seed: fc.oneof(fc.constant('7'), text),
      runId: fc.oneof(fc.constant(null), text),
    },
    {
      requiredKeys: ['platformRunId', 'scenarioRunId', 'scenarioId', 'manifestFingerprint', 'parameterHash'],
    },
  );
  /** Mostly well-typed values (so that execution is reached), sometimes anything at all. */
  const slot = <T>(typed: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 20, arbitrary: typed }, { weight: 1, arbitrary: anyJson });
  const vars = fc.record(
    {
      pins: slot(pins),
      asOf: slot(
        fc.oneof(
          { weight: 8, arbitrary: fc.constant(ASOF) },
          { weight: 1, arbitrary: fc.constantFrom('2026-02-06T17:05:00Z', '2026-13-01T00:00:00.000000Z') },
        ),
      ),
      keys: slot(fc.oneof(fc.array(key, { maxLength: 4 }), key)),
      groups: slot(fc.oneof(fc.array(group, { maxLength: 3 }), group)),
      minBasis: slot(
        fc.oneof(
          fc.constant(null),
          fc.array(
            fc.record({
              stream: text,
              offsets: fc.array(fc.record({ partition: fc.integer({ min: -1, max: 3 }), offset: text }), {
                maxLength: 2,
              }),
            }),
            { maxLength: 2 },
          ),
        ),
      ),
      waitMs: slot(fc.oneof(fc.constant(null), fc.integer({ min: -10, max: 6000 }))),
      requestId: slot(fc.oneof(fc.constant(null), text)),
    },
    // The optional arguments are left out at times; the required ones only through an `anyJson` slot.
    { requiredKeys: ['pins', 'asOf', 'keys', 'groups'] },
  );

  it('the full features query answers alike for any variables', async () => {
    const before = await fastPathCounts();
    await fc.assert(
      fc.asyncProperty(vars, async (v) => {
        const { fast, apollo } = await pair.exchange({ body: { query: FEATURES_QUERY, variables: v } });
        expect(fast).toEqual(apollo);
      }),
      { numRuns: 150 },
    );
    // Not a property of Apollo alone: most generated variables do take the fast path.
    const after = await fastPathCounts();
    expect(after.answered - before.answered).toBeGreaterThan(50);
  });

  const SNAPSHOT_FIELDS = [
    'snapshotHash',
    'asOf',
    'createdAt',
    'requestId',
    'pins { seed runId }',
    'policyRev { revision }',
    'featureGroups { name version }',
    'inputBasis { stream offsets { partition offset } }',
    'graphVersion { versionId }',
    'freshness { state flags }',
    'posture { state flags partitions { stream lagRecords } }',
    'values { keyId status lastEventTsUtc features { name value } }',
  ];
  const selection = fc.record({
    fields: fc.subarray(SNAPSHOT_FIELDS, { minLength: 1 }),
    aliases: fc.array(fc.constantFrom('a', 'b', 'c', 'x1', 'requestId', 'asOf'), {
      minLength: 12,
      maxLength: 12,
    }),
    aliased: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    asFragment: fc.boolean(),
    typename: fc.boolean(),
    errorMember: fc.boolean(),
  });

  it('any selection of snapshot fields, aliased or not, in a fragment or not, is answered alike', async () => {
    await fc.assert(
      fc.asyncProperty(selection, fc.boolean(), async (s, missingRun) => {
        // Aliases must not clash: an alias is used once, and only where no other field takes the same key.
        const used = new Set<string>();
        const fields = s.fields.map((f, i) => {
          const alias = s.aliases[i];
          if (!s.aliased[i] || used.has(alias)) return f;
          used.add(alias);
          return `${alias}: ${f}`;
        });
        const keys = s.fields.map((f, i) => (fields[i] === f ? f.split(' ')[0] : s.aliases[i]));
        if (new Set(keys).size !== keys.length) return; // two response keys for different fields: invalid
        const body = fields.join(' ');
        const snapshot = s.asFragment ? '...S' : `... on FeatureSnapshot { ${body} }`;
        const onError = s.errorMember ? '... on FeaturesError { code detail }' : '';
        const query = `query(${SNAPSHOT_ARGS}) { ${CALL} { ${s.typename ? '__typename' : ''} ${snapshot} ${onError} } }${
          s.asFragment ? ` fragment S on FeatureSnapshot { ${body} }` : ''
        }`;
        const v = missingRun ? variables({ pins: { ...PINS, seed: '' } }) : variables();
        const first = await pair.exchange({ body: { query, variables: v } });
        expect(first.fast).toEqual(first.apollo);
        const second = await pair.exchange({ body: { query, variables: v } });
        expect(second.fast).toEqual(second.apollo);
      }),
      { numRuns: 60 },
    );
  });
});
