/**
 * Database down (issue 4, SPEC 5.8): while PostgreSQL cannot be reached the gateway answers `UNAVAILABLE`
 * (retryable) on both transports, is not ready but stays live, never shows a stack trace and does not crash; when
 * the database returns it recovers by itself (nothing restarted) and answers exactly what it answered before.
 *
 * Everything is real: `ofp serve` runs as a child process (so a crash would show as its exit), over HTTP, against the
 * shared embedded PostgreSQL through a TCP proxy (support/tcp-proxy.ts) that the test cuts and restores; the
 * PostgreSQL server itself is never stopped (other test files use it).
 *
 * 1. A hard outage while serving: every connection reset, new ones refused.
 * 2. An outage while the pool's connections are idle, as a network partition: the gateway is not told, and when the
 *    database is back those pooled connections are dead (reset on first use), so recovery must discard them.
 * 3. A cut while a request is in flight (waiting for a minimum basis): it answers `UNAVAILABLE` too.
 * 4. A network partition while requests arrive: they must not hang on connections that will never answer.
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../../src/core/json';
import { loadContractSchema } from '../../src/contracts';
import { LosslessAjv } from '../../src/core/lossless-ajv';
import type { ContextPins } from '../../src/core/pins';
import { generate, ANCHOR_STREAM } from '../../src/generator/generate';
import { startChildGateway, type ChildGateway } from './support/child-gateway';
import { createTestStack, OPERATOR_TOKEN, READER_TOKEN, type TestStack } from './support/stack';
import {
  busiestKeys,
  contractPinsJson,
  expectedEntry,
  FEATURES_QUERY,
  postContract,
  postGraphql,
  readBusEvents,
  type ContractHttpResponse,
} from './support/serving';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

jest.setTimeout(180_000);

/** How long the gateway may take to answer OK again once the database is back. */
const RECOVERY_DEADLINE_MS = 10_000;
/**
 * How long a request may take to fail during a network partition: the gateway's query timeout (10 s, a stale pooled
 * connection) or its connect timeout (5 s, a new one), plus slack for a loaded machine.
 */
const PARTITION_ANSWER_BOUND_MS = 20_000;
/** The gateway's pool size (runtime/gateway.ts): at most this many pooled connections can be stale. */
const GATEWAY_POOL_SIZE = 8;

const ajv = new LosslessAjv();
const checkResponse = ajv.check(loadContractSchema('ofp_get_features_response.schema.yaml'), 'response');
const checkError = ajv.check(loadContractSchema('ofp_get_features_error.schema.yaml'), 'error');

const HEALTH_QUERY = `{ health { state reasons } }`;

type FeaturesResult =
  | ({ __typename: 'FeatureSnapshot'; createdAt: string } & Record<string, unknown>)
  | { __typename: 'FeaturesError'; code: string; retryable: boolean; detail: string; requestId: string };

/** Anything that looks like a stack trace or a source location in a response body. */
const STACK_TRACE = /\n\s*at |\bat [\w$.<>]+ \(|\.[cm]?[jt]s:\d+|node_modules|stacktrace/i;

let stack: TestStack;
let proxy: TcpProxy;
let gw: ChildGateway;
let run: ContextPins;
let asOf: string;
let merchants: string[];
/** The answers before any outage, with the per-answer timestamps removed. */
let baselineGraphql: Record<string, unknown>;
let baselineContract: JsonObject;

function graphqlVariables(requestId: string, extra: Record<string, unknown> = {}) {
  return {
    pins: run,
    asOf,
    keys: merchants.map((keyId) => ({ keyType: 'merchant_id', keyId })),
    groups: [{ name: 'merchant_velocity', version: 'v1' }],
    requestId,
    ...extra,
  };
}

function contractText(requestId: string): string {
  const rest = JSON.stringify({
    as_of_time_utc: asOf,
    feature_keys: merchants.map((key_id) => ({ key_type: 'merchant_id', key_id })),
    feature_groups: [{ name: 'merchant_velocity', version: 'v1' }],
    request_id: requestId,
  });
  return `{"pins":${contractPinsJson(run, { withRunId: true })},${rest.slice(1)}`;
}

interface GraphqlAnswer {
  status: number;
  text: string;
  result: FeaturesResult;
}

/** `features` over GraphQL: the HTTP status, the raw text, and the result union member. */
async function graphqlFeatures(
  requestId: string,
  extra: Record<string, unknown> = {},
): Promise<GraphqlAnswer> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${READER_TOKEN}` },
    body: JSON.stringify({ query: FEATURES_QUERY, variables: graphqlVariables(requestId, extra) }),
  });
  const text = await res.text();
  const body = JSON.parse(text) as { data?: { features: FeaturesResult }; errors?: unknown[] };
  if (body.errors) throw new Error(`unexpected GraphQL errors (HTTP ${res.status}): ${text}`);
  return { status: res.status, text, result: body.data!.features };
}

async function contractFeatures(requestId: string): Promise<ContractHttpResponse> {
  return postContract(gw.url, READER_TOKEN, contractText(requestId));
}

/** A snapshot without what differs from answer to answer by design (createdAt, requestId). */
function stableGraphql(r: FeaturesResult): Record<string, unknown> {
  const {
    createdAt: _createdAt,
    requestId: _requestId,
    snapshotRequestId: _snapshotRequestId,
    ...rest
  } = r as Record<string, unknown>;
  return rest;
}

/** A contract OK body without what differs from answer to answer (served_at_utc, created_at_utc, request_id). */
function stableContract(body: JsonValue): JsonObject {
  if (!isJsonObject(body) || !isJsonObject(body.snapshot)) throw new Error(`not an OK body: ${String(body)}`);
  const { served_at_utc: _s, request_id: _r, snapshot, ...rest } = body;
  const { created_at_utc: _c, ...snap } = snapshot;
  return { ...rest, snapshot: snap };
}

/** What every answer during an outage must be, on both transports, plus readiness, liveness and health. */
async function expectUnavailableEverywhere(tag: string): Promise<void> {
  const [g, c, ready, live, health] = await Promise.all([
    graphqlFeatures(`${tag}-gql`),
    contractFeatures(`${tag}-http`),
    fetch(`${gw.url}/readyz`),
    fetch(`${gw.url}/healthz`),
    postGraphql<{ health: { state: string; reasons: string[] } }>(gw.url, OPERATOR_TOKEN, HEALTH_QUERY),
  ]);

  // GraphQL: the FeaturesError member (SPEC 5.8: domain errors are the union member, not a GraphQL error).
  expect(g.status).toBe(200);
  expect(g.result).toEqual({
    __typename: 'FeaturesError',
    code: 'UNAVAILABLE',
    retryable: true,
    detail: expect.stringMatching(/^database unreachable: /),
    requestId: `${tag}-gql`,
  });
  expect(g.text).not.toMatch(STACK_TRACE);

  // The contract endpoint: ofp_get_features_error, HTTP 503.
  expect(c.status).toBe(503);
  expect(checkError(c.body)).toBeNull();
  expect(c.body).toMatchObject({
    status: 'ERROR',
    code: 'UNAVAILABLE',
    retryable: true,
    request_id: `${tag}-http`,
  });
  expect((c.body as { detail: string }).detail).toMatch(/^database unreachable: /);
  expect(c.text).not.toMatch(STACK_TRACE);

  const readyText = await ready.text();
  expect(ready.status).toBe(503);
  expect(JSON.parse(readyText)).toMatchObject({ ready: false });
  expect(readyText).not.toMatch(STACK_TRACE);

  expect(live.status).toBe(200);
  expect(await live.json()).toEqual({ status: 'ok' });

  expect(health.status).toBe(200);
  expect(health.body.errors).toBeUndefined();
  expect(health.body.data!.health.state).toBe('RED');
  expect(health.body.data!.health.reasons.join('\n')).toMatch(/database unreachable/);
  expect(JSON.stringify(health.body)).not.toMatch(STACK_TRACE);

  expect(gw.isRunning()).toBe(true);
}

interface Recovery {
  ms: number;
  /** Answers (both transports) that were not OK after the database was back, before the first OK of both. */
  failures: string[];
}

/**
 * Polls both transports and readiness until all three answer OK (bounded by RECOVERY_DEADLINE_MS), then checks the
 * answers equal the ones before the outage. Every answer on the way must be a retryable UNAVAILABLE.
 */
async function expectRecovery(tag: string): Promise<Recovery> {
  const started = Date.now();
  const failures: string[] = [];
  let graphqlOk = false;
  let contractOk = false;
  let readyOk = false;
  for (let i = 0; !(graphqlOk && contractOk && readyOk); i++) {
    if (Date.now() - started > RECOVERY_DEADLINE_MS)
      throw new Error(
        `no recovery within ${RECOVERY_DEADLINE_MS} ms (graphql ${graphqlOk}, contract ${contractOk}, ready ${readyOk}); ` +
          `answers: ${failures.join(' | ')}\n${gw.logTail()}`,
      );
    if (!graphqlOk) {
      const g = await graphqlFeatures(`${tag}-poll-${i}`);
      expect(g.text).not.toMatch(STACK_TRACE);
      if (g.result.__typename === 'FeatureSnapshot') {
        expect(stableGraphql(g.result)).toEqual(baselineGraphql);
        graphqlOk = true;
      } else {
        failures.push(`graphql ${g.result.code}: ${g.result.detail}`);
        expect(g.result).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
      }
    }
    if (!contractOk) {
      const c = await contractFeatures(`${tag}-poll-${i}`);
      expect(c.text).not.toMatch(STACK_TRACE);
      if (c.status === 200) {
        expect(checkResponse(c.body)).toBeNull();
        expect(stableContract(c.body)).toEqual(baselineContract);
        contractOk = true;
      } else {
        failures.push(`contract ${c.status} ${c.text}`);
        expect(c.status).toBe(503);
        expect(checkError(c.body)).toBeNull();
        expect(c.body).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
      }
    }
    if (!readyOk) {
      const r = await fetch(`${gw.url}/readyz`);
      const body = (await r.json()) as { ready: boolean };
      if (r.status === 200 && body.ready) readyOk = true;
      else failures.push(`readyz ${r.status}`);
    }
    // No sleep: each round trip is itself the pause, and a dead connection fails at once.
  }
  expect(gw.isRunning()).toBe(true);
  return { ms: Date.now() - started, failures };
}

/** Several concurrent requests of both kinds, all OK and equal to the answers before any outage. */
async function expectSteadyOk(tag: string, n = GATEWAY_POOL_SIZE): Promise<void> {
  const answers = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const [g, c] = await Promise.all([graphqlFeatures(`${tag}-${i}`), contractFeatures(`${tag}-${i}`)]);
      return { g, c };
    }),
  );
  for (const { g, c } of answers) {
    expect(g.result.__typename).toBe('FeatureSnapshot');
    expect(stableGraphql(g.result)).toEqual(baselineGraphql);
    expect(c.status).toBe(200);
    expect(stableContract(c.body)).toEqual(baselineContract);
  }
}

beforeAll(async () => {
  stack = await createTestStack();
  const summary = await generate(
    { seed: 47, count: 600, partitions: 2, runs: 1, duration: '30h', merchants: 12, progress: false },
    stack.busRoot,
  );
  run = summary.runs[0];
  const worker = await stack.startWorker();
  await stack.waitCaughtUp();
  // The bus does not grow and nothing else writes: the answers cannot change, so "after" must equal "before".
  await worker.shutdown();

  const anchors = readBusEvents(stack.busRoot, ANCHOR_STREAM);
  merchants = busiestKeys(anchors, run, 'merchant_id', 2);
  asOf = expectedEntry(anchors, run, 'flow_count', 'merchant_id', merchants[0], '2100-01-01T00:00:00.000000Z')
    .lastEventTsUtc as string;

  const db = new URL(stack.databaseUrl);
  proxy = await startTcpProxy({ host: db.hostname, port: Number(db.port || 5432) });
  gw = await startChildGateway({
    databaseUrl: proxy.proxiedUrl(stack.databaseUrl),
    busRoot: stack.busRoot,
    tokens: `reader:${READER_TOKEN},operator:${OPERATOR_TOKEN}`,
  });

  const g = await graphqlFeatures('baseline');
  if (g.result.__typename !== 'FeatureSnapshot')
    throw new Error(`baseline: expected a snapshot, got ${g.text}`);
  baselineGraphql = stableGraphql(g.result);
  const c = await contractFeatures('baseline');
  if (c.status !== 200) throw new Error(`baseline: expected OK, got ${c.status} ${c.text}`);
  expect(checkResponse(c.body)).toBeNull();
  baselineContract = stableContract(c.body);
  // The snapshot read real data (not only NO_DATA entries), on both transports.
  expect(JSON.stringify(baselineGraphql)).toContain('"status":"OK"');
  expect(JSON.stringify(baselineContract)).toContain('"status":"OK"');
}, 180_000);

afterEach(async () => {
  // Whatever a test left behind, the next one starts with the database reachable.
  await proxy?.restore();
  // Outages are answered, not logged as failures of the gateway itself (a 500 logs 'request failed' at error level).
  const errors = (gw?.logText() ?? '').split('\n').filter((l) => /"level":(50|60)/.test(l));
  expect(errors).toEqual([]);
});

afterAll(async () => {
  const status = gw?.exitStatus();
  await gw?.stop();
  await proxy?.close();
  await stack?.stop();
  if (status) throw new Error(`the gateway process exited during the tests: ${JSON.stringify(status)}`);
});

describe('database down: a hard outage while serving', () => {
  it('answers UNAVAILABLE (retryable) on both transports, is not ready but live, then recovers by itself', async () => {
    await expectSteadyOk('warm');
    expect(proxy.openConnections()).toBeGreaterThan(0);

    await proxy.cut();
    // Twice: first the pooled connections that were just reset, then fresh connection attempts (refused).
    await expectUnavailableEverywhere('down-1');
    await expectUnavailableEverywhere('down-2');

    await proxy.restore();
    const recovery = await expectRecovery('back');
    await expectSteadyOk('after');
    // The gateway only learnt about the cut from failed requests; it needed no restart and no operator.
    expect(gw.isRunning()).toBe(true);
    expect(recovery.ms).toBeLessThan(RECOVERY_DEADLINE_MS);
  });

  it('survives repeated outages in a row', async () => {
    for (let round = 0; round < 3; round++) {
      await proxy.cut();
      await expectUnavailableEverywhere(`flap-${round}`);
      await proxy.restore();
      await expectRecovery(`flap-${round}`);
    }
    await expectSteadyOk('after-flaps');
  });
});

describe('database down while the pool is idle', () => {
  it('discards the pooled connections that died during a silent outage and answers OK again', async () => {
    // Fill the pool with connections, then leave them idle.
    await expectSteadyOk('fill', GATEWAY_POOL_SIZE);
    const pooled = proxy.openConnections();
    expect(pooled).toBeGreaterThan(1);

    // A partition: the gateway hears nothing; its pooled connections look alive but the server side is gone.
    await proxy.cutSilently();
    const live = await fetch(`${gw.url}/healthz`);
    expect(live.status).toBe(200);
    // The database is back, as after a reboot: it resets the old connections as soon as they are used.
    await proxy.restore();

    const recovery = await expectRecovery('idle-back');
    // Every pooled connection was stale; each may cost at most one failed (retryable) answer before it is dropped.
    expect(recovery.failures.length).toBeLessThanOrEqual(pooled);
    await expectSteadyOk('idle-after');
    expect(proxy.staleResets).toBeGreaterThan(0);
    expect(gw.isRunning()).toBe(true);
  });
});

describe('database down during a request', () => {
  it('answers UNAVAILABLE to a request that was waiting for its minimum basis when the connection was cut', async () => {
    const end = await stack.bus.endOffset(ANCHOR_STREAM, 0);
    const before = proxy.chunksToServer;
    // A minimum basis that is never reached: the gateway polls the checkpoints for up to 5 s.
    const pending = graphqlFeatures('in-flight', {
      minBasis: [{ stream: ANCHOR_STREAM, offsets: [{ partition: 0, offset: String(end + 1000) }] }],
      waitMs: 5000,
    });
    // Cut once the gateway is seen polling (a few queries through the proxy), so the cut lands inside the wait.
    const deadline = Date.now() + 5000;
    while (proxy.chunksToServer < before + 3) {
      if (Date.now() > deadline) throw new Error('the gateway never queried the database for the request');
      await new Promise((r) => setTimeout(r, 5));
    }
    await proxy.cut();
    const g = await pending;
    expect(g.status).toBe(200);
    expect(g.result).toMatchObject({
      __typename: 'FeaturesError',
      code: 'UNAVAILABLE',
      retryable: true,
      detail: expect.stringMatching(/^database unreachable: /),
    });
    expect(g.text).not.toMatch(STACK_TRACE);
    await proxy.restore();
    await expectRecovery('in-flight-back');
  });
});

describe('database down as a network partition while requests arrive', () => {
  it('answers UNAVAILABLE within a bounded time instead of hanging on dead connections, then recovers', async () => {
    await expectSteadyOk('fill-partition', GATEWAY_POOL_SIZE);
    expect(proxy.openConnections()).toBeGreaterThan(1);
    await proxy.cutSilently();

    // Requests take pooled connections that look alive but whose server side is gone: nothing ever answers on
    // them. The gateway bounds each query (runtime/gateway.ts) and each new connection attempt (db/pool.ts).
    const started = Date.now();
    // A hang fails here at the bound, with its name, instead of at the test timeout.
    const timed = async <T>(what: string, p: Promise<T>) => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} did not answer within ${PARTITION_ANSWER_BOUND_MS} ms`)),
          PARTITION_ANSWER_BOUND_MS,
        );
      });
      try {
        const value = await Promise.race([p, bound]);
        return { value, ms: Date.now() - started };
      } finally {
        clearTimeout(timer);
      }
    };
    const [g, c, ready, live] = await Promise.all([
      timed('features over GraphQL', graphqlFeatures('partition-gql')),
      timed('POST /v1/get_features', contractFeatures('partition-http')),
      timed(
        '/readyz',
        fetch(`${gw.url}/readyz`).then(async (r) => ({ status: r.status, text: await r.text() })),
      ),
      timed(
        '/healthz',
        fetch(`${gw.url}/healthz`).then((r) => r.status),
      ),
    ]);
    expect(live.value).toBe(200);
    expect(g.value.result).toMatchObject({
      __typename: 'FeaturesError',
      code: 'UNAVAILABLE',
      retryable: true,
      requestId: 'partition-gql',
    });
    expect(g.value.text).not.toMatch(STACK_TRACE);
    expect(c.value.status).toBe(503);
    expect(checkError(c.value.body)).toBeNull();
    expect(c.value.body).toMatchObject({
      code: 'UNAVAILABLE',
      retryable: true,
      request_id: 'partition-http',
    });
    expect(c.value.text).not.toMatch(STACK_TRACE);
    expect(ready.value.status).toBe(503);
    expect(ready.value.text).not.toMatch(STACK_TRACE);
    expect(gw.isRunning()).toBe(true);

    await proxy.restore();
    await expectRecovery('partition-back');
    await expectSteadyOk('partition-after');
  });
});
