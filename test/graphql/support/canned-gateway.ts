/**
 * A gateway without PostgreSQL or Temporal for the GraphQL layer's tests and benchmark: `features` validates the
 * request with the real validation and the real default policy (so that how variables and arguments reach the
 * resolver shows in the answer: a null where graphql-js would leave a field out, a wrong default) and answers a
 * snapshot made from the request; health, partitions, the policy and operator actions answer canned data. Calls
 * are counted, and a few stream names make reads fail or return values the schema cannot represent.
 */
import path from 'node:path';
import { describePolicy } from '../../../src/core/policy';
import { loadPolicyFile } from '../../../src/core/policy-file';
import type { FeatureEntry } from '../../../src/core/snapshot';
import type { FeaturesErrorModel, PartitionHealthModel, SnapshotModel } from '../../../src/graphql/models';
import { FeaturesRequestError } from '../../../src/serving/errors';
import type { Gateway, HealthModel } from '../../../src/serving/gateway-services';
import { validateRequest, type FeatureRequestInput } from '../../../src/serving/request';

export const POLICY = loadPolicyFile(path.resolve(__dirname, '../../../config/features.yaml'));

/** `partitions(stream: FAILING_STREAM)` rejects, as the checkpoint read does when PostgreSQL is down. */
export const FAILING_STREAM = 'down';
/** `partitions(stream: OVERFLOW_STREAM)` answers a lag beyond GraphQL's Int (a field error, null propagation). */
export const OVERFLOW_STREAM = 'overflow';
/** keyId that makes the snapshot carry a lastEventTsUtc the DateTime scalar refuses to serialize. */
export const BAD_TIMESTAMP_KEY = 'bad-timestamp';

function partition(stream: string, n: number): PartitionHealthModel {
  return {
    stream,
    partition: n,
    nextOffset: 1000 + n,
    endOffset: 1200 + n,
    lagRecords: stream === OVERFLOW_STREAM ? 2 ** 40 : 200,
    lagSeconds: n === 0 ? null : 1.5,
    state: n === 1 ? 'STALLED' : 'RUNNING',
    quarantined: 3,
    applied: 990,
    duplicates: 7,
    irrelevant: 0,
    stalledOffset: n === 1 ? 1001 : null,
    stalledClass: n === 1 ? 'history_rewritten' : null,
    stalledReason: n === 1 ? 'line 1001 changed: "quoted" \\ and \u2028' : null,
  };
}

function snapshot(input: FeatureRequestInput, requestId: string): SnapshotModel | FeaturesErrorModel {
  let req;
  try {
    req = validateRequest(input, POLICY);
  } catch (err) {
    if (!(err instanceof FeaturesRequestError)) throw err;
    return { code: err.code, retryable: err.retryable, detail: err.detail, requestId };
  }
  const features: FeatureEntry[] = [];
  for (const g of req.groups)
    for (const k of req.keys.filter((key) => key.keyType === g.keyType))
      features.push({
        group: g.name,
        version: g.version,
        keyType: k.keyType,
        keyId: k.keyId,
        status: k.keyId.length % 3 === 0 ? 'NO_DATA' : 'OK',
        lastEventTsUtc:
          k.keyId === BAD_TIMESTAMP_KEY ? 'yesterday' : k.keyId.length % 3 === 0 ? null : req.asOfUtc,
        values: g.valueNames.map((name, i) => ({
          name,
          value:
            i % 3 === 0 ? { kind: 'count', value: i } : { kind: 'decimal', value: i % 2 ? '13.5' : null },
        })),
      } as FeatureEntry);
  return {
    content: {
      pins: req.pins,
      asOfUtc: req.asOfUtc,
      policyRev: {
        policyId: POLICY.policyId,
        revision: POLICY.revision,
        contentDigest: POLICY.contentDigest,
      },
      featureGroups: req.groups.map((g) => ({ name: g.name, version: g.version })),
      inputBasis: [
        {
          stream: 'fp.bus.traffic.fraud.v1',
          offsetKind: 'file_line',
          offsets: [
            { partition: 0, offset: '8569' },
            { partition: 1, offset: String(req.minBasis.length + req.waitMs) },
          ],
        },
      ],
      graphVersion: null,
      freshness: { state: 'GREEN', flags: [] },
      features,
    },
    posture: { state: 'AMBER', flags: ['PARTITION_LAGGING'], partitions: [] },
    snapshotHash: 'f'.repeat(64),
    createdAt: '2026-11-27T18:50:12.639000Z',
    requestId,
  } as unknown as SnapshotModel;
}

export interface CannedGateway {
  gateway: Gateway;
  /** Calls per service method. */
  calls: Record<'features' | 'health' | 'partitions' | 'describePolicy' | 'control', number>;
}

export function cannedGateway(): CannedGateway {
  const calls = { features: 0, health: 0, partitions: 0, describePolicy: 0, control: 0 };
  const gateway = {
    policy: POLICY,
    async features(input: FeatureRequestInput) {
      calls.features++;
      return snapshot(input, input.requestId || 'generated-request-id');
    },
    async health(): Promise<HealthModel> {
      calls.health++;
      return {
        state: 'RED',
        reasons: ['a/1 STALLED'],
        policyRevision: POLICY.revision,
        partitions: [partition('a', 1)],
      };
    },
    async partitions(stream?: string): Promise<PartitionHealthModel[]> {
      calls.partitions++;
      if (stream === FAILING_STREAM) throw new Error('connect ECONNREFUSED 127.0.0.1:5433');
      return [partition(stream ?? 'a', 0), partition(stream ?? 'a', 1)];
    },
    describePolicy() {
      calls.describePolicy++;
      return describePolicy(POLICY);
    },
    async control(stream: string, partitionNumber: number) {
      calls.control++;
      return { stream, partition: partitionNumber, state: 'PAUSED', nextOffset: 5, stalled: null };
    },
    async ready() {
      return true;
    },
  } as unknown as Gateway;
  return { gateway, calls };
}
