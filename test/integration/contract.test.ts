/**
 * `POST /v1/get_features` (SPEC 8) against a real gateway: every answer, OK or error, is valid against the
 * platform's contract schemas (parsed losslessly, validated exactly); HTTP statuses follow the error code; the seed
 * above 2^53 round-trips as an exact JSON integer; the snapshot carries the same data and the same hash as the
 * GraphQL answer for the same request and basis.
 */
import { loadContractSchema } from '../../src/contracts';
import { isLosslessNumber, type JsonValue } from '../../src/core/json';
import { LosslessAjv } from '../../src/core/lossless-ajv';
import type { ContextPins } from '../../src/core/pins';
import { formatTimestamp } from '../../src/core/time';
import { generate, ANCHOR_STREAM, TRAFFIC_STREAM } from '../../src/generator/generate';
import { logger } from '../../src/logger';
import { startGateway, type RunningGateway } from '../../src/runtime/gateway';
import { parseTokens } from '../../src/serving/auth';
import { createTestStack, READER_TOKEN, type TestStack } from './support/stack';
import {
  busiestKeys,
  contractPinsJson,
  expectedEntry,
  greatestTs,
  postContract,
  postGraphql,
  readBusEvents,
  type BusEvent,
} from './support/serving';

jest.setTimeout(120_000);

const ajv = new LosslessAjv();
const checkResponse = ajv.check(loadContractSchema('ofp_get_features_response.schema.yaml'), 'response');
const checkError = ajv.check(loadContractSchema('ofp_get_features_error.schema.yaml'), 'error');

/** A lossless tree with every number as a BigInt (exact), so `toEqual` compares integers digit for digit. */
function exact(v: JsonValue): unknown {
  if (isLosslessNumber(v)) return BigInt((v as { value: string }).value);
  if (Array.isArray(v)) return v.map(exact);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, exact(x)]));
  return v;
}

/** Expected contract values: counts as exact integers, decimals as canonical strings, null when missing. */
function contractValues(values: Record<string, string | null>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(values).map(([name, v]) => [name, name.includes('_count_') ? BigInt(v as string) : v]),
  );
}

const SNAPSHOT_QUERY = `
query($pins: ContextPinsInput!, $asOf: DateTime!, $keys: [FeatureKeyInput!]!, $groups: [FeatureGroupInput!]!) {
  features(pins: $pins, asOf: $asOf, keys: $keys, groups: $groups) {
    __typename
    ... on FeatureSnapshot {
      snapshotHash
      inputBasis { stream offsetKind offsets { partition offset } }
      freshness { state flags }
    }
    ... on FeaturesError { code detail }
  }
}`;

let stack: TestStack;
let gw: RunningGateway;
let run: ContextPins;
let anchors: BusEvent[];
let merchants: string[];
let asOf: string;

/** A request body as JSON text; `pins` is spliced in raw so the seed stays an exact integer. */
function requestText(o: {
  pins?: string;
  asOf?: string;
  keys?: { key_type: string; key_id: string }[];
  groups?: { name: string; version: string }[];
  requestId?: string;
}): string {
  const rest = JSON.stringify({
    as_of_time_utc: o.asOf ?? asOf,
    feature_keys: o.keys ?? [{ key_type: 'merchant_id', key_id: merchants[0] }],
    feature_groups: o.groups ?? [{ name: 'merchant_velocity', version: 'v1' }],
    ...(o.requestId ? { request_id: o.requestId } : {}),
  });
  return `{"pins":${o.pins ?? contractPinsJson(run)},${rest.slice(1)}`;
}

beforeAll(async () => {
  stack = await createTestStack();
  const summary = await generate(
    { seed: 31, count: 1200, partitions: 2, runs: 2, duration: '30h', merchants: 20, progress: false },
    stack.busRoot,
  );
  run = summary.runs[0];
  await stack.startWorker();
  await stack.waitCaughtUp();
  gw = await stack.startGateway();
  anchors = readBusEvents(stack.busRoot, ANCHOR_STREAM);
  merchants = busiestKeys(anchors, run, 'merchant_id', 2);
  asOf = expectedEntry(anchors, run, 'flow_count', 'merchant_id', merchants[0], '2100-01-01T00:00:00.000000Z')
    .lastEventTsUtc as string;
});

afterAll(async () => stack?.stop());

describe('POST /v1/get_features: OK answers (HTTP 200)', () => {
  it('answers with a response valid against ofp_get_features_response, features keyed group/version → key_type:key_id', async () => {
    const res = await postContract(
      gw.url,
      READER_TOKEN,
      requestText({
        pins: contractPinsJson(run, { withRunId: true }),
        keys: [
          { key_type: 'merchant_id', key_id: merchants[0] },
          { key_type: 'merchant_id', key_id: merchants[1] },
          { key_type: 'merchant_id', key_id: '18446744073709551616' },
        ],
        groups: [
          { name: 'merchant_velocity', version: 'v1' },
          { name: 'device_velocity', version: 'v1' },
        ],
        requestId: 'df-request-1',
      }),
    );
    expect(res.status).toBe(200);
    expect(checkResponse(res.body)).toBeNull();
    const body = exact(res.body) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(body.status).toBe('OK');
    expect(body.request_id).toBe('df-request-1');
    expect(body.served_at_utc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);

    const s = body.snapshot;
    expect(s.as_of_time_utc).toBe(asOf);
    expect(s.feature_groups).toEqual([
      { name: 'merchant_velocity', version: 'v1' },
      { name: 'device_velocity', version: 'v1' },
    ]);
    expect(s.feature_def_policy_rev).toEqual({
      policy_id: 'ofp.features.default',
      revision: 'r1',
      content_digest: stack.policy.contentDigest,
    });
    expect(s.pins).toEqual({
      platform_run_id: run.platformRunId,
      scenario_run_id: run.scenarioRunId,
      scenario_id: run.scenarioId,
      manifest_fingerprint: run.manifestFingerprint,
      parameter_hash: run.parameterHash,
      seed: BigInt(run.seed),
      run_id: run.runId,
    });
    expect(s).not.toHaveProperty('graph_version'); // null until identity resolution is wired; the contract wants an object
    expect(s.freshness).toEqual({ state: 'AMBER', flags: ['NO_DATA_KEYS'] });

    const entry = (keyId: string) => {
      const want = expectedEntry(anchors, run, 'flow_count', 'merchant_id', keyId, asOf);
      return {
        status: want.lastEventTsUtc === null ? 'NO_DATA' : 'OK',
        last_event_ts_utc: want.lastEventTsUtc,
        values: contractValues(want.values),
      };
    };
    expect(s.features).toEqual({
      'merchant_velocity/v1': {
        [`merchant_id:${merchants[0]}`]: entry(merchants[0]),
        [`merchant_id:${merchants[1]}`]: entry(merchants[1]),
        'merchant_id:18446744073709551616': entry('18446744073709551616'),
      },
      // Requested, but no requested key has its key type: present and empty.
      'device_velocity/v1': {},
    });
    expect(s.features['merchant_velocity/v1']['merchant_id:18446744073709551616'].values.flow_count_24h).toBe(
      0n,
    );
    expect(
      s.features['merchant_velocity/v1'][`merchant_id:${merchants[0]}`].values.flow_count_24h,
    ).toBeGreaterThan(1n);
  });

  it('round-trips a seed above 2^53 exactly, written as a JSON integer', async () => {
    expect(BigInt(run.seed)).toBeGreaterThan(2n ** 53n);
    const res = await postContract(gw.url, READER_TOKEN, requestText({}));
    expect(res.status).toBe(200);
    expect(res.text).toMatch(new RegExp(`"seed":${run.seed}[,}]`));
    const seed = (res.body as { snapshot: { pins: { seed: JsonValue } } }).snapshot.pins.seed;
    expect(isLosslessNumber(seed)).toBe(true);
    expect((seed as { value: string }).value).toBe(run.seed);
    // The same digits with the last one changed name another run: nothing was rounded on the way in.
    const nearby = (BigInt(run.seed) - 1n).toString();
    const other = await postContract(
      gw.url,
      READER_TOKEN,
      requestText({ pins: contractPinsJson({ ...run, seed: nearby }) }),
    );
    expect(other.status).toBe(404);
  });

  it('carries the same snapshot_hash, basis and freshness as the GraphQL answer to the same request', async () => {
    const keys = [
      { keyType: 'merchant_id', keyId: merchants[1] },
      { keyType: 'merchant_id', keyId: merchants[0] },
    ];
    const groups = [{ name: 'merchant_velocity', version: 'v1' }];
    for (const withRunId of [false, true]) {
      const contract = await postContract(
        gw.url,
        READER_TOKEN,
        requestText({
          pins: contractPinsJson(run, { withRunId }),
          keys: keys.map((k) => ({ key_type: k.keyType, key_id: k.keyId })),
          groups,
        }),
      );
      expect(contract.status).toBe(200);
      const gql = await postGraphql<{ features: Record<string, unknown> }>(
        gw.url,
        READER_TOKEN,
        SNAPSHOT_QUERY,
        {
          pins: withRunId ? run : { ...run, runId: undefined },
          asOf,
          keys,
          groups,
        },
      );
      const answer = gql.body.data!.features as {
        snapshotHash: string;
        inputBasis: { stream: string; offsetKind: string; offsets: unknown[] }[];
        freshness: unknown;
      };
      const snap = exact(contract.body) as { snapshot: Record<string, unknown> };
      expect(snap.snapshot.snapshot_hash).toBe(answer.snapshotHash);
      expect(snap.snapshot.eb_offset_basis).toEqual({
        stream: ANCHOR_STREAM,
        offset_kind: 'file_line',
        offsets: answer.inputBasis[0].offsets.map((o) => {
          const { partition, offset } = o as { partition: number; offset: string };
          return { partition: BigInt(partition), offset };
        }),
      });
      expect(snap.snapshot.freshness).toEqual(answer.freshness);
    }
  });

  it('serves flow_activity (the traffic stream) with the traffic stream as eb_offset_basis', async () => {
    const traffic = readBusEvents(stack.busRoot, TRAFFIC_STREAM);
    const flow = busiestKeys(traffic, run, 'flow_id', 1)[0];
    expect(BigInt(flow)).toBeGreaterThan(2n ** 53n); // run 0's flow ids are not representable as doubles
    const res = await postContract(
      gw.url,
      READER_TOKEN,
      requestText({
        keys: [{ key_type: 'flow_id', key_id: flow }],
        groups: [{ name: 'flow_activity', version: 'v1' }],
      }),
    );
    expect(res.status).toBe(200);
    expect(checkResponse(res.body)).toBeNull();
    const s = (exact(res.body) as { snapshot: Record<string, any> }).snapshot; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(s.eb_offset_basis.stream).toBe(TRAFFIC_STREAM);
    const want = expectedEntry(traffic, run, 'txn_count', 'flow_id', flow, asOf);
    expect(s.features['flow_activity/v1'][`flow_id:${flow}`].values).toEqual(contractValues(want.values));
  });
});

describe('POST /v1/get_features: errors (ofp_get_features_error)', () => {
  const withoutSeed = () => contractPinsJson(run).replace(`,"seed":${run.seed}`, '');

  type Case = [string, number, string, RegExp, () => string];
  const cases: Case[] = [
    [
      'a required pin is absent (seed)',
      400,
      'MISSING_PINS',
      /missing pins: seed/,
      () => requestText({ pins: withoutSeed() }),
    ],
    [
      'a required pin is empty',
      400,
      'MISSING_PINS',
      /scenario_id/,
      () => requestText({ pins: contractPinsJson({ ...run, scenarioId: '' }) }),
    ],
    [
      'a pin is malformed',
      400,
      'INVALID_REQUEST',
      /pins\.manifest_fingerprint/,
      () => requestText({ pins: contractPinsJson({ ...run, manifestFingerprint: 'ABC' }) }),
    ],
    [
      'the seed is a string, not a JSON integer',
      400,
      'INVALID_REQUEST',
      /pins\.seed: must be integer/,
      () =>
        requestText({ pins: contractPinsJson(run).replace(`"seed":${run.seed}`, `"seed":"${run.seed}"`) }),
    ],
    [
      'the seed has a fraction (7.0)',
      400,
      'INVALID_REQUEST',
      /pins\.seed: must be integer/,
      () => requestText({ pins: contractPinsJson(run).replace(`"seed":${run.seed}`, '"seed":7.0') }),
    ],
    [
      'as_of_time_utc is not a real instant',
      400,
      'INVALID_REQUEST',
      /asOf: "2026-02-30T17:00:00.000000Z" is not a real instant/,
      () => requestText({ asOf: '2026-02-30T17:00:00.000000Z' }),
    ],
    [
      'a group version is unknown',
      400,
      'INVALID_REQUEST',
      /merchant_velocity\/v2/,
      () => requestText({ groups: [{ name: 'merchant_velocity', version: 'v2' }] }),
    ],
    [
      'a key type is served by no requested group',
      400,
      'INVALID_REQUEST',
      /device_id is served by none of the requested groups/,
      () => requestText({ keys: [{ key_type: 'device_id', key_id: '1' }] }),
    ],
    [
      'the groups read two streams',
      400,
      'INVALID_REQUEST',
      /read 2 streams .*eb_offset_basis carries one stream/,
      () =>
        requestText({
          keys: [{ key_type: 'merchant_id', key_id: '1' }],
          groups: [
            { name: 'merchant_velocity', version: 'v1' },
            { name: 'flow_activity', version: 'v1' },
          ],
        }),
    ],
    [
      'more than 200 distinct keys',
      400,
      'INVALID_REQUEST',
      /at most 200/,
      () =>
        requestText({
          keys: Array.from({ length: 201 }, (_, i) => ({ key_type: 'merchant_id', key_id: String(i) })),
        }),
    ],
    ['the body is not JSON', 400, 'INVALID_REQUEST', /not JSON/, () => '{"pins": '],
    [
      'a property the contract does not know',
      400,
      'INVALID_REQUEST',
      /explain: is not an allowed property/,
      () => requestText({}).replace('{"pins"', '{"explain":true,"pins"'),
    ],
    [
      'asOf is before the retention boundary',
      400,
      'INVALID_REQUEST',
      /^RETENTION_BOUNDARY_EXCEEDED: .* earliest servable instant \d{4}-/,
      () => requestText({ asOf: '2026-01-01T00:00:00.000000Z' }),
    ],
    [
      'no event with these six pins was applied',
      404,
      'NOT_FOUND',
      /no event with these six pins/,
      () => requestText({ pins: contractPinsJson({ ...run, scenarioRunId: '0'.repeat(32) }) }),
    ],
  ];

  it.each(cases)('%s → HTTP %s %s', async (_name, status, code, detail, body) => {
    const res = await postContract(gw.url, READER_TOKEN, body());
    expect(checkError(res.body)).toBeNull();
    expect({ status: res.status, body: res.body }).toEqual({
      status,
      body: {
        status: 'ERROR',
        code,
        retryable: false,
        detail: expect.stringMatching(detail),
        request_id: expect.any(String),
        served_at_utc: expect.stringMatching(/Z$/),
      },
    });
  });

  it('names the earliest servable instant in RETENTION_BOUNDARY_EXCEEDED', async () => {
    const earliest = formatTimestamp(greatestTs(anchors, run) - stack.policy.horizonMicros);
    const res = await postContract(
      gw.url,
      READER_TOKEN,
      requestText({ asOf: '2026-01-01T00:00:00.000000Z' }),
    );
    expect((res.body as { detail: string }).detail).toContain(`earliest servable instant ${earliest}`);
  });

  it('echoes request_id in errors, and the X-Request-Id header when the body has none', async () => {
    const named = await postContract(
      gw.url,
      READER_TOKEN,
      requestText({ asOf: 'yesterday', requestId: 'df-err-7' }),
    );
    expect((named.body as { request_id: string }).request_id).toBe('df-err-7');
    const res = await fetch(`${gw.url}/v1/get_features`, {
      method: 'POST',
      headers: { authorization: `Bearer ${READER_TOKEN}`, 'x-request-id': 'hdr-123' },
      body: requestText({ asOf: 'yesterday' }),
    });
    expect(((await res.json()) as { request_id: string }).request_id).toBe('hdr-123');
  });

  it('answers UNAVAILABLE (HTTP 503, retryable) when the database is unreachable', async () => {
    const log = logger.child({ test: 'contract-db-down' });
    log.level = 'error';
    const down = await startGateway({
      databaseUrl: 'postgresql://ofp@127.0.0.1:1/ofp',
      namespace: 'default',
      policy: stack.policy,
      bus: stack.bus,
      tokens: parseTokens(`reader:${READER_TOKEN}`),
      port: 0,
      introspection: false,
      log,
    });
    try {
      const res = await postContract(down.url, READER_TOKEN, requestText({ requestId: 'df-down' }));
      expect(res.status).toBe(503);
      expect(checkError(res.body)).toBeNull();
      expect(res.body).toMatchObject({
        status: 'ERROR',
        code: 'UNAVAILABLE',
        retryable: true,
        request_id: 'df-down',
      });
      expect((res.body as { detail: string }).detail).toMatch(/database unreachable/);
    } finally {
      await down.stop();
    }
  });
});

describe('POST /v1/get_features: authentication sits outside the contract', () => {
  it.each([
    ['no token', null],
    ['a wrong token', 'wrong-token-123456'],
  ])('refuses %s with HTTP 401, WWW-Authenticate: Bearer and a short JSON error', async (_name, token) => {
    const res = await postContract(gw.url, token, requestText({}));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect(res.body).toEqual({ error: 'unauthorized', detail: 'missing or invalid bearer token' });
  });

  it('accepts only POST', async () => {
    const res = await fetch(`${gw.url}/v1/get_features`, {
      headers: { authorization: `Bearer ${READER_TOKEN}` },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});
