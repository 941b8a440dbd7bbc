/**
 * The Decision Fabric's typed example client (examples/decision-fabric/client.ts) against a real gateway: the
 * generated `DecisionFeaturesDocument` sent with plain fetch returns typed snapshots and typed domain errors, and
 * GraphQL-level failures are thrown with the gateway's code.
 */
import {
  fetchDecisionFeatures,
  fetchProjectorHealth,
  GraphQLRequestError,
  valuesByName,
} from '../../examples/decision-fabric/client';
import type { DecisionFeaturesQueryVariables, EntryStatus } from '../../examples/generated/graphql';
import type { ContextPins } from '../../src/core/pins';
import { generate, ANCHOR_STREAM } from '../../src/generator/generate';
import type { RunningGateway } from '../../src/runtime/gateway';
import { createTestStack, READER_TOKEN, type TestStack } from './support/stack';
import { busiestKeys, expectedEntry, readBusEvents, type BusEvent } from './support/serving';

jest.setTimeout(120_000);

let stack: TestStack;
let gw: RunningGateway;
let endpoint: string;
let run: ContextPins;
let anchors: BusEvent[];
let merchant: string;
let asOf: string;

beforeAll(async () => {
  stack = await createTestStack();
  const summary = await generate(
    { seed: 41, count: 600, partitions: 1, runs: 1, duration: '12h', merchants: 10, progress: false },
    stack.busRoot,
  );
  run = summary.runs[0];
  await stack.startWorker();
  await stack.waitCaughtUp();
  gw = await stack.startGateway();
  endpoint = `${gw.url}/graphql`;
  anchors = readBusEvents(stack.busRoot, ANCHOR_STREAM);
  merchant = busiestKeys(anchors, run, 'merchant_id', 1)[0];
  asOf = summary.eventTime!.to;
});

afterAll(async () => stack?.stop());

const request = (): DecisionFeaturesQueryVariables => ({
  pins: run,
  asOf,
  keys: [
    { keyType: 'merchant_id', keyId: merchant },
    { keyType: 'device_id', keyId: '18446744073709551616' },
  ],
  groups: [
    { name: 'merchant_velocity', version: 'v1' },
    { name: 'device_velocity', version: 'v1' },
  ],
  requestId: 'df-example-1',
});

describe('the Decision Fabric example client', () => {
  it('returns a typed FeatureSnapshot whose values equal the events on the bus', async () => {
    const { features } = await fetchDecisionFeatures(endpoint, READER_TOKEN, request());
    if (features.__typename !== 'FeatureSnapshot') throw new Error(`${features.code}: ${features.detail}`);
    // Typed fields: the compiler knows `status` is an EntryStatus and `seed` a string.
    const statuses: EntryStatus[] = features.values.map((v) => v.status);
    expect(statuses).toEqual(['OK', 'NO_DATA']);
    const seed: string = features.pins.seed;
    expect(seed).toBe(run.seed);
    expect(features.pins.runId).toBe(run.runId);
    expect(features.policyRev.contentDigest).toBe(stack.policy.contentDigest);
    expect(features.inputBasis.map((b) => b.stream)).toEqual([ANCHOR_STREAM]);
    expect(features.freshness).toEqual({ state: 'AMBER', flags: ['NO_DATA_KEYS'] });

    const [merchantEntry, deviceEntry] = features.values;
    expect(merchantEntry).toMatchObject({
      group: 'merchant_velocity',
      keyType: 'merchant_id',
      keyId: merchant,
    });
    const want = expectedEntry(anchors, run, 'flow_count', 'merchant_id', merchant, asOf);
    expect(merchantEntry.lastEventTsUtc).toBe(want.lastEventTsUtc);
    expect(valuesByName(merchantEntry)).toEqual(want.values);
    expect(Number(valuesByName(merchantEntry).flow_count_7d)).toBeGreaterThan(1);
    expect(valuesByName(deviceEntry)).toMatchObject({
      flow_count_24h: '0',
      amount_sum_24h: '0',
      amount_max_24h: null,
    });
  });

  it('returns domain errors as the typed FeaturesError member', async () => {
    const { features } = await fetchDecisionFeatures(endpoint, READER_TOKEN, {
      ...request(),
      pins: { ...run, scenarioRunId: 'a'.repeat(32) },
    });
    expect(features.__typename).toBe('FeaturesError');
    if (features.__typename !== 'FeaturesError') return;
    expect(features).toEqual({
      __typename: 'FeaturesError',
      code: 'NOT_FOUND',
      retryable: false,
      detail: expect.stringContaining('no event with these six pins'),
      requestId: 'df-example-1',
    });
  });

  it('throws GraphQL-level failures with the gateway code: a wrong token, a malformed DateTime', async () => {
    await expect(fetchDecisionFeatures(endpoint, 'not-the-token', request())).rejects.toMatchObject({
      name: 'GraphQLRequestError',
      status: 401,
      code: 'UNAUTHENTICATED',
      retryable: false,
    });
    const bad = await fetchDecisionFeatures(endpoint, READER_TOKEN, {
      ...request(),
      asOf: '2026-02-30T00:00:00.000000Z',
    }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(GraphQLRequestError);
    expect((bad as GraphQLRequestError).code).toBe('INVALID_REQUEST');
  });

  it('reads projector health through the generic typed executor', async () => {
    const { health } = await fetchProjectorHealth(endpoint, READER_TOKEN);
    expect(health.state).toBe('GREEN');
    expect(health.partitions.map((p) => [p.stream, p.partition, p.state, p.lagRecords])).toEqual([
      [ANCHOR_STREAM, 0, 'RUNNING', 0],
      ['fp.bus.traffic.fraud.v1', 0, 'RUNNING', 0],
    ]);
  });
});
