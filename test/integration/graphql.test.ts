/**
 * The GraphQL surface (SPEC 5, 7) against a real gateway over HTTP, a real projector worker (Temporal) and real
 * PostgreSQL: what a snapshot carries, exact windows checked against the bus itself, hash stability, every error
 * code of SPEC 5.8 as the `FeaturesError` member, read-your-event, authentication and roles, query limits, the
 * policy and health queries, and operator pause / resume through Temporal updates.
 */
import { generate, ANCHOR_STREAM, TRAFFIC_STREAM } from '../../src/generator/generate';
import type { ContextPins } from '../../src/core/pins';
import { formatTimestamp, parseTimestamp, MICROS_PER_HOUR } from '../../src/core/time';
import type { RunningGateway } from '../../src/runtime/gateway';
import { createTestStack, OPERATOR_TOKEN, READER_TOKEN, type TestStack } from './support/stack';
import {
  busiestKeys,
  expectedEntry,
  FEATURES_QUERY,
  greatestTs,
  pinsWithoutRunId,
  postContract,
  postGraphql,
  readBusEvents,
  type BusEvent,
} from './support/serving';

jest.setTimeout(120_000);

interface Entry {
  group: string;
  version: string;
  keyType: string;
  keyId: string;
  status: 'OK' | 'STALE' | 'NO_DATA';
  lastEventTsUtc: string | null;
  features: { name: string; value: string | null }[];
}
interface Snapshot {
  __typename: 'FeatureSnapshot';
  snapshotHash: string;
  asOf: string;
  createdAt: string;
  snapshotRequestId: string | null;
  pins: Record<string, string | null>;
  policyRev: { policyId: string; revision: string; contentDigest: string };
  featureGroups: { name: string; version: string }[];
  inputBasis: { stream: string; offsetKind: string; offsets: { partition: number; offset: string }[] }[];
  graphVersion: null | { versionId: string; watermarkTsUtc: string };
  freshness: { state: string; flags: string[] };
  posture: { state: string; flags: string[] };
  values: Entry[];
}
interface FeaturesError {
  __typename: 'FeaturesError';
  code: string;
  retryable: boolean;
  detail: string;
  requestId: string;
}
type FeaturesResult = Snapshot | FeaturesError;

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const MERCHANT = { name: 'merchant_velocity', version: 'v1' };
const DEVICE = { name: 'device_velocity', version: 'v1' };

let stack: TestStack;
let gw: RunningGateway;
let run: ContextPins;
let otherRun: ContextPins;
let anchors: BusEvent[];
let merchants: string[];
let devices: string[];
/** The triggering instant: the latest anchor event of the busiest merchant (DF passes an event's ts_utc). */
let asOf: string;

async function features(variables: Record<string, unknown>, token = READER_TOKEN): Promise<FeaturesResult> {
  const res = await postGraphql<{ features: FeaturesResult }>(gw.url, token, FEATURES_QUERY, variables);
  if (res.body.errors) throw new Error(`unexpected GraphQL errors: ${JSON.stringify(res.body.errors)}`);
  return res.body.data!.features;
}

async function snapshot(variables: Record<string, unknown>): Promise<Snapshot> {
  const r = await features(variables);
  if (r.__typename !== 'FeatureSnapshot') throw new Error(`expected a snapshot, got ${r.code}: ${r.detail}`);
  return r;
}

async function featuresError(variables: Record<string, unknown>): Promise<FeaturesError> {
  const r = await features(variables);
  if (r.__typename !== 'FeaturesError') throw new Error(`expected a FeaturesError, got a snapshot`);
  return r;
}

const valuesOf = (e: Entry) => Object.fromEntries(e.features.map((f) => [f.name, f.value]));

async function checkpoints(): Promise<{ stream: string; partition: number; next_offset: number }[]> {
  return (
    await stack.pool.query(
      `SELECT stream, partition, next_offset FROM checkpoints ORDER BY stream, partition`,
    )
  ).rows;
}

function basisOf(rows: { stream: string; partition: number; next_offset: number }[], stream: string) {
  return rows
    .filter((r) => r.stream === stream)
    .map((r) => ({ partition: r.partition, offset: String(r.next_offset) }));
}

beforeAll(async () => {
  stack = await createTestStack();
  const summary = await generate(
    {
      seed: 21,
      count: 1500,
      partitions: 2,
      runs: 2,
      duration: '30h',
      merchants: 25,
      devices: 40,
      progress: false,
    },
    stack.busRoot,
  );
  [run, otherRun] = summary.runs;
  await stack.startWorker();
  await stack.waitCaughtUp();
  gw = await stack.startGateway();
  anchors = readBusEvents(stack.busRoot, ANCHOR_STREAM);
  merchants = busiestKeys(anchors, run, 'merchant_id', 3);
  devices = busiestKeys(anchors, run, 'device_id', 2);
  asOf = expectedEntry(anchors, run, 'flow_count', 'merchant_id', merchants[0], '2100-01-01T00:00:00.000000Z')
    .lastEventTsUtc as string;
});

afterAll(async () => stack?.stop());

describe('features: the FeatureSnapshot member', () => {
  it('answers the SPEC 7 query with every pinned field filled from the request, the policy and the basis', async () => {
    const s = await snapshot({
      pins: run,
      asOf,
      keys: [{ keyType: 'merchant_id', keyId: merchants[0] }],
      groups: [MERCHANT],
    });
    expect(s.snapshotHash).toMatch(/^[0-9a-f]{64}$/);
    expect(s.asOf).toBe(asOf);
    expect(s.createdAt).toMatch(TIMESTAMP);
    expect(s.pins).toEqual({ ...run });
    expect(s.policyRev).toEqual({
      policyId: 'ofp.features.default',
      revision: 'r1',
      contentDigest: stack.policy.contentDigest,
    });
    expect(s.featureGroups).toEqual([MERCHANT]);
    // merchant_velocity reads only the flow-anchor stream: the basis names its partitions at their checkpoints.
    expect(s.inputBasis).toEqual([
      {
        stream: ANCHOR_STREAM,
        offsetKind: 'file_line',
        offsets: basisOf(await checkpoints(), ANCHOR_STREAM),
      },
    ]);
    expect(s.graphVersion).toBeNull();
    expect(s.freshness).toEqual({ state: 'GREEN', flags: [] });
    expect(s.posture).toEqual({ state: 'GREEN', flags: [] });
    expect(s.values).toHaveLength(1);
    expect(s.values[0]).toMatchObject({
      group: 'merchant_velocity',
      version: 'v1',
      keyType: 'merchant_id',
      keyId: merchants[0],
      status: 'OK',
      lastEventTsUtc: asOf,
    });
    expect(s.values[0].features.map((f) => f.name)).toEqual([
      'flow_count_1h',
      'flow_count_24h',
      'flow_count_7d',
      'amount_sum_1h',
      'amount_sum_24h',
      'amount_sum_7d',
      'amount_max_1h',
      'amount_max_24h',
      'amount_max_7d',
    ]);
  });

  it('serves exactly the events of the run and key whose ts_utc is in (asOf − d, asOf], as counted from the bus', async () => {
    const tenHoursEarlier = formatTimestamp((parseTimestamp(asOf) as number) - 10 * MICROS_PER_HOUR);
    for (const at of [asOf, tenHoursEarlier]) {
      const s = await snapshot({
        pins: run,
        asOf: at,
        keys: [
          ...merchants.map((keyId) => ({ keyType: 'merchant_id', keyId })),
          ...devices.map((keyId) => ({ keyType: 'device_id', keyId })),
        ],
        groups: [MERCHANT, DEVICE],
      });
      expect(s.values).toHaveLength(merchants.length + devices.length);
      for (const e of s.values) {
        // Both groups count flow anchors keyed by the payload field named like the key type.
        const want = expectedEntry(anchors, run, 'flow_count', e.keyType, e.keyId, at);
        expect({ key: `${e.keyType}:${e.keyId}@${at}`, last: e.lastEventTsUtc, values: valuesOf(e) }).toEqual(
          {
            key: `${e.keyType}:${e.keyId}@${at}`,
            last: want.lastEventTsUtc,
            values: want.values,
          },
        );
      }
    }
    // The busiest merchant really has history in every window, so the comparison above is not vacuous.
    const busiest = expectedEntry(anchors, run, 'flow_count', 'merchant_id', merchants[0], asOf).values;
    expect(Number(busiest.flow_count_1h)).toBeGreaterThanOrEqual(1);
    expect(Number(busiest.flow_count_24h)).toBeGreaterThan(Number(busiest.flow_count_1h));
  });

  it('gives the same snapshotHash when keys and groups come in another order or repeated', async () => {
    const [m0, m1] = merchants;
    const base = await snapshot({
      pins: run,
      asOf,
      keys: [
        { keyType: 'merchant_id', keyId: m0 },
        { keyType: 'merchant_id', keyId: m1 },
        { keyType: 'device_id', keyId: devices[0] },
      ],
      groups: [MERCHANT, DEVICE],
    });
    const shuffled = await snapshot({
      pins: run,
      asOf,
      keys: [
        { keyType: 'device_id', keyId: devices[0] },
        { keyType: 'merchant_id', keyId: m1 },
        { keyType: 'merchant_id', keyId: m0 },
        { keyType: 'merchant_id', keyId: m1 },
      ],
      groups: [DEVICE, MERCHANT, DEVICE],
    });
    expect(shuffled.snapshotHash).toBe(base.snapshotHash);
    // Duplicates count once: one entry per distinct (group, key).
    expect(shuffled.values).toHaveLength(3);
    expect(shuffled.featureGroups).toEqual([DEVICE, MERCHANT]);
    // A different request (one key fewer) is a different document, hence a different hash.
    const fewer = await snapshot({
      pins: run,
      asOf,
      keys: [{ keyType: 'merchant_id', keyId: m0 }],
      groups: [MERCHANT],
    });
    expect(fewer.snapshotHash).not.toBe(base.snapshotHash);
  });

  it('serves key id "18446744073709551616" (above uint64) as NO_DATA: counts "0", sums "0", max null', async () => {
    const s = await snapshot({
      pins: run,
      asOf,
      keys: [{ keyType: 'merchant_id', keyId: '18446744073709551616' }],
      groups: [MERCHANT],
    });
    expect(s.values).toEqual([
      {
        group: 'merchant_velocity',
        version: 'v1',
        keyType: 'merchant_id',
        keyId: '18446744073709551616',
        status: 'NO_DATA',
        lastEventTsUtc: null,
        features: [
          { name: 'flow_count_1h', value: '0' },
          { name: 'flow_count_24h', value: '0' },
          { name: 'flow_count_7d', value: '0' },
          { name: 'amount_sum_1h', value: '0' },
          { name: 'amount_sum_24h', value: '0' },
          { name: 'amount_sum_7d', value: '0' },
          { name: 'amount_max_1h', value: null },
          { name: 'amount_max_24h', value: null },
          { name: 'amount_max_7d', value: null },
        ],
      },
    ]);
    expect(s.freshness).toEqual({ state: 'AMBER', flags: ['NO_DATA_KEYS'] });
  });

  it('echoes runId only when it was sent, and a sent runId is part of the hash', async () => {
    const keys = [{ keyType: 'merchant_id', keyId: merchants[0] }];
    const without = await snapshot({ pins: pinsWithoutRunId(run), asOf, keys, groups: [MERCHANT] });
    const withRunId = await snapshot({ pins: run, asOf, keys, groups: [MERCHANT] });
    expect(without.pins.runId).toBeNull();
    expect(withRunId.pins.runId).toBe(run.runId);
    expect(withRunId.snapshotHash).not.toBe(without.snapshotHash);
    expect(withRunId.values).toEqual(without.values); // runId never scopes state
  });

  it('sees none of another run: pins differing only in seed are NOT_FOUND', async () => {
    const e = await featuresError({
      pins: { ...run, seed: otherRun.seed },
      asOf,
      keys: [{ keyType: 'merchant_id', keyId: merchants[0] }],
      groups: [MERCHANT],
    });
    expect(e).toMatchObject({ code: 'NOT_FOUND', retryable: false });
  });

  it('carries the requestId it was given, and generates one otherwise', async () => {
    const vars = {
      pins: run,
      asOf,
      keys: [{ keyType: 'merchant_id', keyId: merchants[0] }],
      groups: [MERCHANT],
    };
    expect((await snapshot({ ...vars, requestId: 'df-decision-42' })).snapshotRequestId).toBe(
      'df-decision-42',
    );
    expect((await snapshot(vars)).snapshotRequestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('features: the FeaturesError member (SPEC 5.8)', () => {
  const request = () => ({
    pins: pinsWithoutRunId(run),
    asOf,
    keys: [{ keyType: 'merchant_id', keyId: merchants[0] }],
    groups: [MERCHANT],
  });

  type Case = [string, string, RegExp, (v: ReturnType<typeof request>) => Record<string, unknown>];
  const cases: Case[] = [
    [
      'a required pin is empty',
      'MISSING_PINS',
      /scenarioId/,
      (v) => ({ ...v, pins: { ...v.pins, scenarioId: '' } }),
    ],
    [
      'a pin is malformed (manifestFingerprint not 64 hex)',
      'INVALID_REQUEST',
      /pins\.manifestFingerprint/,
      (v) => ({ ...v, pins: { ...v.pins, manifestFingerprint: 'ABC' } }),
    ],
    [
      'the seed pin is 2^64, beyond uint64',
      'INVALID_REQUEST',
      /pins\.seed/,
      (v) => ({ ...v, pins: { ...v.pins, seed: '18446744073709551616' } }),
    ],
    [
      'runId is sent but malformed',
      'INVALID_REQUEST',
      /pins\.runId/,
      (v) => ({ ...v, pins: { ...v.pins, runId: 'not-hex' } }),
    ],
    [
      'a group version is unknown',
      'INVALID_REQUEST',
      /unknown group or version merchant_velocity\/v9/,
      (v) => ({ ...v, groups: [{ name: 'merchant_velocity', version: 'v9' }] }),
    ],
    [
      'a group name is unknown',
      'INVALID_REQUEST',
      /no_such_group\/v1/,
      (v) => ({ ...v, groups: [{ name: 'no_such_group', version: 'v1' }] }),
    ],
    [
      'a key type is served by no requested group',
      'INVALID_REQUEST',
      /device_id is served by none of the requested groups/,
      (v) => ({ ...v, keys: [...v.keys, { keyType: 'device_id', keyId: '1' }] }),
    ],
    [
      'more than 200 distinct keys',
      'INVALID_REQUEST',
      /201 distinct keys requested, at most 200/,
      (v) => ({
        ...v,
        keys: Array.from({ length: 201 }, (_, i) => ({ keyType: 'merchant_id', keyId: String(i) })),
      }),
    ],
    [
      'more than 20 distinct groups',
      'INVALID_REQUEST',
      /21 distinct groups requested, at most 20/,
      (v) => ({
        ...v,
        groups: Array.from({ length: 21 }, (_, i) => ({ name: 'merchant_velocity', version: `v${i}` })),
      }),
    ],
    ['waitMs above 5000', 'INVALID_REQUEST', /waitMs/, (v) => ({ ...v, waitMs: 5001 })],
  ];

  it.each(cases)('%s → %s', async (_name, code, detail, change) => {
    const e = await featuresError({ ...change(request()), requestId: 'err-case' });
    expect(e).toEqual({
      __typename: 'FeaturesError',
      code,
      retryable: false,
      detail: expect.stringMatching(detail),
      requestId: 'err-case',
    });
  });

  it('counts duplicates once toward the limits: 200 distinct keys sent twice each are served', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => ({
      keyType: 'merchant_id',
      keyId: String(100000 + i),
    }));
    const s = await snapshot({ ...request(), keys: [...keys, ...keys] });
    expect(s.values).toHaveLength(200);
  });

  it('rejects a malformed DateTime variable as a GraphQL error with code INVALID_REQUEST, not retryable', async () => {
    for (const bad of ['2026-02-30T00:00:00.000000Z', '2026-02-06T17:00:00Z', '2026-02-06 17:00:00.000000']) {
      const res = await postGraphql(gw.url, READER_TOKEN, FEATURES_QUERY, { ...request(), asOf: bad });
      expect(res.status).toBe(400);
      expect(res.body.data ?? null).toBeNull();
      expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'INVALID_REQUEST', retryable: false });
      expect(res.body.errors?.[0].message).toContain('DateTime');
    }
  });

  it('rejects a malformed DateTime literal the same way', async () => {
    const res = await postGraphql(
      gw.url,
      READER_TOKEN,
      `query($pins: ContextPinsInput!) {
         features(pins: $pins, asOf: "2026-13-01T00:00:00.000000Z", keys: [{keyType: "merchant_id", keyId: "1"}],
                  groups: [{name: "merchant_velocity", version: "v1"}]) { __typename }
       }`,
      { pins: run },
    );
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'INVALID_REQUEST', retryable: false });
  });

  it('refuses asOf before the retention boundary, naming the earliest servable instant', async () => {
    const earliest = formatTimestamp(greatestTs(anchors, run) - stack.policy.horizonMicros);
    const e = await featuresError({ ...request(), asOf: '2026-01-01T00:00:00.000000Z' });
    expect(e.code).toBe('INVALID_REQUEST');
    expect(e.retryable).toBe(false);
    expect(e.detail).toBe(
      `RETENTION_BOUNDARY_EXCEEDED: asOf 2026-01-01T00:00:00.000000Z is before the earliest servable instant ${earliest}`,
    );
    // The named instant itself is servable.
    expect((await features({ ...request(), asOf: earliest })).__typename).toBe('FeatureSnapshot');
  });

  it('answers NOT_FOUND for well-formed pins of a run that has no applied event', async () => {
    const e = await featuresError({
      ...request(),
      pins: { ...request().pins, scenarioRunId: 'f'.repeat(32) },
    });
    expect(e).toMatchObject({ code: 'NOT_FOUND', retryable: false });
    expect(e.detail).toMatch(/no event with these six pins/);
  });
});

describe('features: read-your-event (SPEC 5.7)', () => {
  it('answers at once when minBasis equals the current checkpoints', async () => {
    const cps = await checkpoints();
    const minBasis = [{ stream: ANCHOR_STREAM, offsets: basisOf(cps, ANCHOR_STREAM) }];
    const s = await snapshot({
      pins: run,
      asOf,
      keys: [{ keyType: 'merchant_id', keyId: merchants[0] }],
      groups: [MERCHANT],
      minBasis,
      waitMs: 0,
    });
    expect(s.inputBasis[0].offsets).toEqual(minBasis[0].offsets);
  });

  it('answers UNAVAILABLE (retryable) with the lag when minBasis is not reached within waitMs', async () => {
    const end = await stack.bus.endOffset(ANCHOR_STREAM, 0);
    const started = Date.now();
    const e = await featuresError({
      pins: run,
      asOf,
      keys: [{ keyType: 'merchant_id', keyId: merchants[0] }],
      groups: [MERCHANT],
      minBasis: [{ stream: ANCHOR_STREAM, offsets: [{ partition: 0, offset: String(end + 5) }] }],
      waitMs: 200,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.retryable).toBe(true);
    expect(e.detail).toBe(
      `minimum basis not reached within 200 ms: ${ANCHOR_STREAM}/0 at ${end}, needs ${end + 5}`,
    );
  });

  it('waits for an event published after the request was made and serves it', async () => {
    // A new run's traffic arrives on the bus; the DF asks for it with the offsets its publisher reported.
    const later = await generate(
      { seed: 22, count: 120, partitions: 2, runs: 1, duration: '1h', merchants: 5, progress: false },
      stack.busRoot,
    );
    const newRun = later.runs[0];
    const minBasis = await Promise.all(
      [ANCHOR_STREAM, TRAFFIC_STREAM].map(async (stream) => ({
        stream,
        offsets: await Promise.all(
          [0, 1].map(async (partition) => ({
            partition,
            offset: String(await stack.bus.endOffset(stream, partition)),
          })),
        ),
      })),
    );
    const newAnchors = readBusEvents(stack.busRoot, ANCHOR_STREAM);
    const merchant = busiestKeys(newAnchors, newRun, 'merchant_id', 1)[0];
    const at = later.eventTime!.to;
    const s = await snapshot({
      pins: newRun,
      asOf: at,
      keys: [{ keyType: 'merchant_id', keyId: merchant }],
      groups: [MERCHANT],
      minBasis,
      waitMs: 5000,
    });
    expect(s.inputBasis[0].offsets).toEqual(minBasis[0].offsets);
    const want = expectedEntry(newAnchors, newRun, 'flow_count', 'merchant_id', merchant, at);
    expect(valuesOf(s.values[0])).toEqual(want.values);
    expect(Number(want.values.flow_count_1h)).toBeGreaterThan(0);
    await stack.waitCaughtUp();
  });
});

describe('authentication and roles', () => {
  const HEALTH = '{ health { state } }';

  it.each([
    ['no token', null],
    ['a wrong token', 'not-a-token-of-this-deployment'],
  ])('refuses %s with HTTP 401, WWW-Authenticate: Bearer and code UNAUTHENTICATED', async (_name, token) => {
    const res = await postGraphql(gw.url, token, HEALTH);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors?.[0].extensions).toEqual({ code: 'UNAUTHENTICATED', retryable: false });
  });

  it('lets a reader query but not run a mutation (FORBIDDEN)', async () => {
    expect((await postGraphql(gw.url, READER_TOKEN, HEALTH)).body.data).toEqual({
      health: { state: 'GREEN' },
    });
    const res = await postGraphql(
      gw.url,
      READER_TOKEN,
      `mutation { pausePartition(stream: "${ANCHOR_STREAM}", partition: 0) { state } }`,
    );
    expect(res.body.data ?? null).toBeNull();
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', retryable: false });
    const health = await postGraphql<{ health: { partitions: { state: string }[] } }>(
      gw.url,
      READER_TOKEN,
      '{ health { partitions { state } } }',
    );
    expect(health.body.data!.health.partitions.every((p) => p.state === 'RUNNING')).toBe(true);
  });
});

describe('query limits', () => {
  it('refuses a query deeper than the limit with INVALID_REQUEST (HTTP 400, never 500)', async () => {
    let selection = 'name';
    for (let i = 0; i < 15; i++) selection = `ofType { ${selection} }`;
    const res = await postGraphql(
      gw.url,
      READER_TOKEN,
      `{ __type(name: "Query") { fields { type { ${selection} } } } }`,
    );
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]).toMatchObject({
      message: 'query depth exceeds the limit of 12',
      extensions: { code: 'INVALID_REQUEST', retryable: false },
    });
  });

  it('refuses a query selecting more fields than the cost limit', async () => {
    const res = await postGraphql(gw.url, READER_TOKEN, `{ health { ${'state '.repeat(600)} } }`);
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]).toMatchObject({
      message: 'query selects more fields than the limit of 500',
      extensions: { code: 'INVALID_REQUEST', retryable: false },
    });
  });

  it('refuses alias flooding', async () => {
    const aliases = Array.from({ length: 40 }, (_, i) => `h${i}: health { state }`).join(' ');
    const res = await postGraphql(gw.url, READER_TOKEN, `{ ${aliases} }`);
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'INVALID_REQUEST', retryable: false });
  });

  it('answers a body over 1 MB with HTTP 413 and INVALID_REQUEST instead of resetting the connection', async () => {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${READER_TOKEN}` },
      body: JSON.stringify({ query: `{ health { state } }`, variables: { pad: 'x'.repeat(2 << 20) } }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { errors: { extensions: unknown }[] };
    expect(body.errors[0].extensions).toEqual({ code: 'INVALID_REQUEST', retryable: false });
  });

  it('answers unparseable GraphQL and a non-JSON body with INVALID_REQUEST', async () => {
    const parse = await postGraphql(gw.url, READER_TOKEN, '{ health { state ');
    expect(parse.status).toBe(400);
    expect(parse.body.errors?.[0].extensions).toMatchObject({ code: 'INVALID_REQUEST', retryable: false });
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${READER_TOKEN}` },
      body: '{"query": ',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { extensions: unknown }[] };
    expect(body.errors[0].extensions).toEqual({ code: 'INVALID_REQUEST', retryable: false });
  });
});

describe('featurePolicy and health', () => {
  it('featurePolicy describes the active policy: identity, digest, groups, windows and value names', async () => {
    const res = await postGraphql<{
      featurePolicy: Record<string, unknown> & { groups: Record<string, unknown>[] };
    }>(
      gw.url,
      READER_TOKEN,
      `{ featurePolicy { policyId revision contentDigest lateness keyRetention onInvalid
           groups { name version keyType streams eventTypes ttl windows valueNames } } }`,
    );
    const p = res.body.data!.featurePolicy;
    expect(p).toMatchObject({
      policyId: 'ofp.features.default',
      revision: 'r1',
      contentDigest: stack.policy.contentDigest,
      lateness: '1h',
      keyRetention: '400d',
      onInvalid: 'quarantine',
    });
    expect(p.contentDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(p.groups.map((g) => g.name)).toEqual([
      'flow_activity',
      'merchant_velocity',
      'device_velocity',
      'account_velocity',
      'instrument_velocity',
    ]);
    expect(p.groups[0]).toEqual({
      name: 'flow_activity',
      version: 'v1',
      keyType: 'flow_id',
      streams: [TRAFFIC_STREAM],
      eventTypes: ['s3_event_stream_with_fraud_6B'],
      ttl: '7d',
      windows: ['1h', '24h', '7d'],
      valueNames: [
        'txn_count_1h',
        'txn_count_24h',
        'txn_count_7d',
        'amount_sum_1h',
        'amount_sum_24h',
        'amount_sum_7d',
        'amount_max_1h',
        'amount_max_24h',
        'amount_max_7d',
      ],
    });
  });

  it('health is GREEN with every partition caught up and every record accounted for', async () => {
    const res = await postGraphql<{
      health: {
        state: string;
        reasons: string[];
        policyRevision: string;
        partitions: {
          stream: string;
          partition: number;
          nextOffset: string;
          endOffset: string;
          lagRecords: number;
          state: string;
          quarantined: number;
          applied: number;
        }[];
      };
    }>(
      gw.url,
      READER_TOKEN,
      `{ health { state reasons policyRevision
           partitions { stream partition nextOffset endOffset lagRecords lagSeconds state quarantined applied } } }`,
    );
    const h = res.body.data!.health;
    expect(h.state).toBe('GREEN');
    expect(h.reasons).toEqual([]);
    expect(h.policyRevision).toBe('r1');
    expect(h.partitions.map((p) => `${p.stream}/${p.partition}`)).toEqual([
      `${ANCHOR_STREAM}/0`,
      `${ANCHOR_STREAM}/1`,
      `${TRAFFIC_STREAM}/0`,
      `${TRAFFIC_STREAM}/1`,
    ]);
    for (const p of h.partitions) {
      const end = await stack.bus.endOffset(p.stream, p.partition);
      expect(p).toMatchObject({
        nextOffset: String(end),
        endOffset: String(end),
        lagRecords: 0,
        state: 'RUNNING',
        quarantined: 0,
      });
    }
    // Nothing was injected: every record on the bus was applied.
    const total = h.partitions.reduce((a, p) => a + p.applied, 0);
    expect(total).toBe(h.partitions.reduce((a, p) => a + Number(p.endOffset), 0));
  });
});

describe('operator control through Temporal updates', () => {
  const HEALTH = `{ health { state reasons partitions { stream partition state } } }`;
  type Health = {
    health: {
      state: string;
      reasons: string[];
      partitions: { stream: string; partition: number; state: string }[];
    };
  };

  it('pausePartition pauses the workflow (health AMBER, posture PARTITION_PAUSED); resumePartition resumes it', async () => {
    const pause = await postGraphql(
      gw.url,
      OPERATOR_TOKEN,
      `mutation { pausePartition(stream: "${ANCHOR_STREAM}", partition: 1) { stream partition state nextOffset stalledOffset } }`,
    );
    expect(pause.body.errors).toBeUndefined();
    const end = await stack.bus.endOffset(ANCHOR_STREAM, 1);
    expect(pause.body.data).toEqual({
      pausePartition: {
        stream: ANCHOR_STREAM,
        partition: 1,
        state: 'PAUSED',
        nextOffset: String(end),
        stalledOffset: null,
      },
    });

    const paused = (await postGraphql<Health>(gw.url, READER_TOKEN, HEALTH)).body.data!.health;
    expect(paused.state).toBe('AMBER');
    expect(paused.reasons).toEqual([`${ANCHOR_STREAM}/1 PAUSED by an operator`]);
    expect(paused.partitions.find((p) => p.stream === ANCHOR_STREAM && p.partition === 1)?.state).toBe(
      'PAUSED',
    );

    // Serving goes on from the paused partition's checkpoint; the live posture says so (not part of the hash).
    const s = await snapshot({
      pins: run,
      asOf,
      keys: [{ keyType: 'merchant_id', keyId: merchants[0] }],
      groups: [MERCHANT],
    });
    expect(s.posture).toEqual({ state: 'AMBER', flags: ['PARTITION_PAUSED'] });

    const resume = await postGraphql(
      gw.url,
      OPERATOR_TOKEN,
      `mutation { resumePartition(stream: "${ANCHOR_STREAM}", partition: 1) { state } }`,
    );
    expect(resume.body).toEqual({ data: { resumePartition: { state: 'RUNNING' } } });
    const resumed = (await postGraphql<Health>(gw.url, READER_TOKEN, HEALTH)).body.data!.health;
    expect(resumed.state).toBe('GREEN');
    expect(resumed.partitions.every((p) => p.state === 'RUNNING')).toBe(true);
  });

  it('skipStalledRecord on a partition that is not stalled is FAILED_PRECONDITION, at once', async () => {
    const res = await postGraphql(
      gw.url,
      OPERATOR_TOKEN,
      `mutation { skipStalledRecord(stream: "${ANCHOR_STREAM}", partition: 0) { state } }`,
    );
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'FAILED_PRECONDITION', retryable: false });
    expect(res.body.errors?.[0].message).toMatch(/nothing to skip, the partition is RUNNING/);
  });

  it('a mutation on a partition no workflow owns is INVALID_REQUEST', async () => {
    const res = await postGraphql(
      gw.url,
      OPERATOR_TOKEN,
      `mutation { pausePartition(stream: "${ANCHOR_STREAM}", partition: 7) { state } }`,
    );
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'INVALID_REQUEST', retryable: false });
  });
});

describe('load shedding (OFP_MAX_INFLIGHT)', () => {
  it('refuses reader requests past the in-flight limit with a retryable UNAVAILABLE, never operators', async () => {
    const limited = await stack.startGateway({ maxInflight: 1 });
    const end = await stack.bus.endOffset(ANCHOR_STREAM, 0);
    // The one admitted request: it waits up to 2 s for a minimum basis that is never reached.
    const pending = postGraphql<{ features: FeaturesResult }>(limited.url, READER_TOKEN, FEATURES_QUERY, {
      pins: run,
      asOf,
      keys: [{ keyType: 'merchant_id', keyId: merchants[0] }],
      groups: [MERCHANT],
      minBasis: [{ stream: ANCHOR_STREAM, offsets: [{ partition: 0, offset: String(end + 1000) }] }],
      waitMs: 2000,
    });
    await new Promise((r) => setTimeout(r, 400));

    const shed = await postGraphql(limited.url, READER_TOKEN, '{ health { state } }');
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(shed.body.errors?.[0].extensions).toEqual({ code: 'UNAVAILABLE', retryable: true });
    expect(shed.body.errors?.[0].message).toMatch(/^gateway overloaded: 1 requests already in flight/);

    const contract = await postContract(limited.url, READER_TOKEN, '{}');
    expect(contract.status).toBe(503);
    expect(contract.body).toMatchObject({ status: 'ERROR', code: 'UNAVAILABLE', retryable: true });

    // Operators keep control of the gateway however loaded it is.
    const operator = await postGraphql(limited.url, OPERATOR_TOKEN, '{ health { state } }');
    expect(operator.status).toBe(200);
    expect(operator.body.errors).toBeUndefined();

    const first = await pending;
    expect(first.body.data?.features).toMatchObject({ __typename: 'FeaturesError', code: 'UNAVAILABLE' });
    // Its place is free again.
    const after = await postGraphql(limited.url, READER_TOKEN, '{ health { state } }');
    expect(after.status).toBe(200);
    expect(after.body.errors).toBeUndefined();
  });
});
