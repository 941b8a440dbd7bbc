/**
 * The GraphQL fast path against the real gateway: real PostgreSQL, a real projector worker (Temporal), real HTTP.
 * Two gateways serve the same database, one with the fast path (the default) and one without (Apollo alone, as with
 * OFP_GRAPHQL_FAST_PATH=0). Every request of the corpus goes to both, twice, and the answers must be the same bytes
 * with the same status and headers; the fast-path gateway's /metrics says which requests it answered itself. Only
 * `createdAt` (the moment of answering) may differ between two answers, and is masked.
 */
import fc from 'fast-check';
import { ANCHOR_STREAM, generate } from '../../src/generator/generate';
import type { ContextPins } from '../../src/core/pins';
import { EXAMPLE_QUERY } from '../../src/graphql/example-query';
import { FileEventBus } from '../../src/bus/file-bus';
import { startGateway, type RunningGateway } from '../../src/runtime/gateway';
import { parseTokens } from '../../src/serving/auth';
import { logger } from '../../src/logger';
import { createTestStack, OPERATOR_TOKEN, READER_TOKEN, type TestStack } from './support/stack';
import { busiestKeys, FEATURES_QUERY, greatestTs, pinsWithoutRunId, readBusEvents } from './support/serving';
import { formatTimestamp, MICROS_PER_HOUR } from '../../src/core/time';
import { temporalAddress } from './support/services';

jest.setTimeout(180_000);

let stack: TestStack;
let fastGw: RunningGateway;
let apolloGw: RunningGateway;
let run: ContextPins;
let merchants: string[];
let devices: string[];
/** The run's latest event: windows ending there hold data. */
let asOf: string;
let latestUs: number;

interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

async function send(url: string, body: unknown, token: string | null = READER_TOKEN): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': 'it-fixed' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  const out: [string, string][] = [];
  res.headers.forEach((v, k) => {
    if (k !== 'date' && k !== 'connection' && k !== 'keep-alive') out.push([k, v]);
  });
  out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return {
    status: res.status,
    headers: out,
    body: text.replace(/"createdAt":"[^"]*"/g, '"createdAt":"<masked>"'),
  };
}

async function answered(): Promise<number> {
  const text = await (await fetch(`${fastGw.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('ofp_graphql_fast_path_requests_total{outcome="answered"}'));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Sends `body` twice to both gateways; the answers must match; returns whether the fast path answered the second. */
async function same(
  body: unknown,
  token: string | null = READER_TOKEN,
): Promise<{ fast: boolean; answer: Answer }> {
  for (let i = 0; i < 2; i++) {
    const before = await answered();
    const fast = await send(fastGw.url, body, token);
    const apollo = await send(apolloGw.url, body, token);
    expect(fast).toEqual(apollo);
    if (i === 1) return { fast: (await answered()) > before, answer: fast };
  }
  throw new Error('unreachable');
}

async function gateway(graphqlFastPath: boolean): Promise<RunningGateway> {
  const log = logger.child({ test: 'fast-path' });
  log.level = 'warn';
  return startGateway({
    databaseUrl: stack.databaseUrl,
    temporalAddress: temporalAddress(),
    namespace: 'default',
    policy: stack.policy,
    bus: new FileEventBus(stack.busRoot),
    tokens: parseTokens(`reader:${READER_TOKEN},operator:${OPERATOR_TOKEN}`),
    port: 0,
    introspection: true,
    graphqlFastPath,
    log,
    idPrefix: stack.idPrefix,
  });
}

beforeAll(async () => {
  stack = await createTestStack();
  const summary = await generate(
    {
      seed: 33,
      count: 600,
      partitions: 2,
      runs: 1,
      duration: '6h',
      merchants: 8,
      devices: 10,
      progress: false,
    },
    stack.busRoot,
  );
  run = pinsWithoutRunId(summary.runs[0]);
  await stack.startWorker();
  await stack.waitCaughtUp();
  [fastGw, apolloGw] = await Promise.all([gateway(true), gateway(false)]);
  const anchors = readBusEvents(stack.busRoot, ANCHOR_STREAM);
  merchants = busiestKeys(anchors, summary.runs[0], 'merchant_id', 3);
  devices = busiestKeys(anchors, summary.runs[0], 'device_id', 2);
  latestUs = greatestTs(anchors, summary.runs[0]);
  asOf = formatTimestamp(latestUs);
});

afterAll(async () => {
  await fastGw?.stop();
  await apolloGw?.stop();
  await stack?.stop();
});

const MERCHANT = { name: 'merchant_velocity', version: 'v1' };
const DEVICE = { name: 'device_velocity', version: 'v1' };
const vars = (extra: Record<string, unknown> = {}) => ({
  pins: run,
  asOf,
  keys: [{ keyType: 'merchant_id', keyId: merchants[0] }],
  groups: [MERCHANT],
  ...extra,
});

describe('answered by the fast path, byte for byte as Apollo', () => {
  it('the SPEC 7 example query', async () => {
    expect((await same({ query: EXAMPLE_QUERY, variables: vars() })).fast).toBe(true);
  });

  it('the full features query with its optional arguments, several keys and groups', async () => {
    const variables = vars({
      keys: [
        ...merchants.map((keyId) => ({ keyType: 'merchant_id', keyId })),
        { keyType: 'device_id', keyId: devices[0] },
      ],
      groups: [MERCHANT, DEVICE],
      minBasis: null,
      waitMs: 0,
      requestId: 'it-request',
    });
    const { fast, answer } = await same({ query: FEATURES_QUERY, variables });
    expect(fast).toBe(true);
    expect(JSON.parse(answer.body).data.features.__typename).toBe('FeatureSnapshot');
  });

  it('FeaturesError members: an unknown run, missing pins, an unknown group', async () => {
    for (const variables of [
      vars({ pins: { ...run, seed: '8' } }),
      vars({ pins: { ...run, scenarioId: '' } }),
      vars({ groups: [{ name: 'nope', version: 'v1' }] }),
    ]) {
      const { fast, answer } = await same({ query: FEATURES_QUERY, variables });
      expect(fast).toBe(true);
      expect(JSON.parse(answer.body).data.features.__typename).toBe('FeaturesError');
    }
  });

  it('aliases, fragments and inline fragments on the FeaturesResult union, __typename', async () => {
    const query = `query Q($pins: ContextPinsInput!, $asOf: DateTime!, $keys: [FeatureKeyInput!]!, $groups: [FeatureGroupInput!]!) {
      m: features(pins: $pins, asOf: $asOf, keys: $keys, groups: $groups) { ...R }
      __typename
    }
    fragment R on FeaturesResult {
      kind: __typename
      ... on FeatureSnapshot { hash: snapshotHash basis: inputBasis { stream offsets { partition offset } } values { ...E } }
      ... on FeaturesError { code detail }
    }
    fragment E on FeatureEntry { keyId status last: lastEventTsUtc features { name value } }`;
    expect((await same({ query, variables: vars(), operationName: 'Q' })).fast).toBe(true);
  });

  it('health, featurePolicy and partitions', async () => {
    for (const query of [
      '{ health { state reasons policyRevision partitions { stream partition nextOffset endOffset lagRecords state } } }',
      '{ featurePolicy { policyId revision contentDigest groups { name version windows valueNames } } }',
      `{ partitions(stream: "${ANCHOR_STREAM}") { stream partition nextOffset quarantined applied } }`,
    ])
      expect((await same({ query })).fast).toBe(true);
  });

  it('one of several operations by operationName', async () => {
    const query = `query H { health { state } } query P { featurePolicy { revision } }`;
    expect((await same({ query, operationName: 'P' })).fast).toBe(true);
    expect((await same({ query, operationName: 'H' })).fast).toBe(true);
  });

  it('property: any window of keys, any asOf inside the data, any aliases', async () => {
    const before = await answered();
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(merchants, { minLength: 1 }),
        // From 8 hours before the latest event to 1 hour after it, to the microsecond.
        fc.integer({ min: -8 * MICROS_PER_HOUR, max: MICROS_PER_HOUR }),
        fc.constantFrom('a', 'b', 'hash'),
        async (keys, offsetUs, alias) => {
          const at = formatTimestamp(latestUs + offsetUs);
          const query = `query($pins: ContextPinsInput!, $asOf: DateTime!, $keys: [FeatureKeyInput!]!, $groups: [FeatureGroupInput!]!) {
            ${alias}: features(pins: $pins, asOf: $asOf, keys: $keys, groups: $groups) {
              ... on FeatureSnapshot { snapshotHash values { keyId status features { name value } } }
              ... on FeaturesError { code detail }
            }
          }`;
          const variables = vars({
            asOf: at,
            keys: keys.map((keyId) => ({ keyType: 'merchant_id', keyId })),
          });
          const fast = await send(fastGw.url, { query, variables });
          const apollo = await send(apolloGw.url, { query, variables });
          expect(fast).toEqual(apollo);
        },
      ),
      { numRuns: 25 },
    );
    // The fast path answered them (the first request of each alias's text is Apollo's, which teaches it the text).
    expect((await answered()) - before).toBeGreaterThanOrEqual(25 - 3);
  });
});

describe('left to Apollo, with the same answer', () => {
  // Bodies are made when the test runs: the run and its keys are known only after beforeAll.
  it.each<[string, () => unknown]>([
    [
      'a malformed DateTime',
      () => ({ query: FEATURES_QUERY, variables: vars({ asOf: '2026-02-30T00:00:00.000000Z' }) }),
    ],
    ['a missing variable', () => ({ query: FEATURES_QUERY, variables: { pins: run } })],
    ['a wrong variable type', () => ({ query: FEATURES_QUERY, variables: vars({ waitMs: 'soon' }) })],
    ['introspection', () => ({ query: '{ __schema { queryType { name } } }' })],
    ['a directive', () => ({ query: '{ health { state @include(if: true) } }' })],
    ['a query beyond the limits', () => ({ query: `{ health { ${'state '.repeat(600)} } }` })],
    ['an unknown operation name', () => ({ query: '{ health { state } }', operationName: 'Nope' })],
  ])('%s', async (_name, body) => {
    expect((await same(body())).fast).toBe(false);
  });

  it('a mutation a reader may not run (FORBIDDEN)', async () => {
    const query = `mutation { pausePartition(stream: "${ANCHOR_STREAM}", partition: 0) { state } }`;
    const { fast, answer } = await same({ query });
    expect(fast).toBe(false);
    expect(JSON.parse(answer.body).errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it('an operator mutation never takes the fast path, and acts once', async () => {
    const pause = `mutation { pausePartition(stream: "${ANCHOR_STREAM}", partition: 1) { partition state } }`;
    const resume = `mutation { resumePartition(stream: "${ANCHOR_STREAM}", partition: 1) { partition state } }`;
    const before = await answered();
    const paused = await send(fastGw.url, { query: pause }, OPERATOR_TOKEN);
    expect(JSON.parse(paused.body)).toEqual({ data: { pausePartition: { partition: 1, state: 'PAUSED' } } });
    const resumed = await send(fastGw.url, { query: resume }, OPERATOR_TOKEN);
    expect(JSON.parse(resumed.body)).toEqual({
      data: { resumePartition: { partition: 1, state: 'RUNNING' } },
    });
    // The same mutation again: it was validated (and learned) the first time, yet Apollo runs it again.
    const again = await send(fastGw.url, { query: pause }, OPERATOR_TOKEN);
    expect(JSON.parse(again.body).data.pausePartition.state).toBe('PAUSED');
    await send(fastGw.url, { query: resume }, OPERATOR_TOKEN);
    expect(await answered()).toBe(before);
  });

  it('no bearer token (401, before any GraphQL)', async () => {
    expect((await same({ query: '{ health { state } }' }, null)).answer.status).toBe(401);
  });
});
