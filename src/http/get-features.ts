/**
 * `POST /v1/get_features` (SPEC 8): the platform contract over the same gateway services as GraphQL. Requests are
 * parsed losslessly (seed is a JSON integer up to 2^64-1) and validated against the platform's request schema.
 */
import { LosslessNumber, stringify } from 'lossless-json';
import { loadContractSchema } from '../contracts';
import { isIntegerLiteral, isJsonObject, type JsonObject, type JsonValue } from '../core/json';
import { parseJsonStrict } from '../core/envelope';
import { LosslessAjv } from '../core/lossless-ajv';
import { REQUIRED_PIN_FIELDS } from '../core/pins';
import { streamsOf, findGroup } from '../core/policy';
import type { FeatureValue } from '../core/snapshot';
import { formatTimestamp } from '../core/time';
import type { FeaturesErrorModel, SnapshotModel } from '../graphql/models';
import type { Gateway } from '../serving/gateway-services';
import type { FeaturesErrorCode } from '../serving/errors';

const checkRequest = new LosslessAjv().check(
  loadContractSchema('ofp_get_features_request.schema.yaml'),
  'request',
);

export const HTTP_STATUS: Record<FeaturesErrorCode, number> = {
  MISSING_PINS: 400,
  INVALID_REQUEST: 400,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  MISSING_PROVENANCE: 503,
};

export interface ContractResponse {
  status: number;
  /** JSON text (lossless: the seed keeps every digit). */
  body: string;
}

function errorResponse(
  code: FeaturesErrorCode,
  detail: string,
  requestId: string,
  retryable?: boolean,
): ContractResponse {
  const body = {
    status: 'ERROR',
    code,
    retryable: retryable ?? (code === 'UNAVAILABLE' || code === 'MISSING_PROVENANCE'),
    detail: detail.slice(0, 2048),
    request_id: requestId,
    served_at_utc: formatTimestamp(Date.now() * 1000),
  };
  return { status: HTTP_STATUS[code], body: JSON.stringify(body) };
}

/** The contract's UNAVAILABLE answer (retryable), for requests refused before they reach the gateway's read. */
export function unavailableResponse(detail: string, requestId: string): ContractResponse {
  return errorResponse('UNAVAILABLE', detail, requestId, true);
}

function contractValue(v: FeatureValue): JsonValue | number {
  return v.kind === 'count' ? new LosslessNumber(String(v.value)) : v.value;
}

function okResponse(s: SnapshotModel): ContractResponse {
  const c = s.content;
  const features: Record<string, Record<string, unknown>> = {};
  for (const g of c.featureGroups) features[`${g.name}/${g.version}`] = {};
  for (const e of c.features) {
    features[`${e.group}/${e.version}`][`${e.keyType}:${e.keyId}`] = {
      status: e.status,
      last_event_ts_utc: e.lastEventTsUtc,
      values: Object.fromEntries(e.values.map((v) => [v.name, contractValue(v.value)])),
    };
  }
  const pins: Record<string, unknown> = {
    platform_run_id: c.pins.platformRunId,
    scenario_run_id: c.pins.scenarioRunId,
    scenario_id: c.pins.scenarioId,
    manifest_fingerprint: c.pins.manifestFingerprint,
    parameter_hash: c.pins.parameterHash,
    seed: new LosslessNumber(c.pins.seed),
  };
  if (c.pins.runId !== undefined) pins.run_id = c.pins.runId;
  const basis = c.inputBasis[0];
  const body = {
    status: 'OK',
    request_id: s.requestId,
    served_at_utc: formatTimestamp(Date.now() * 1000),
    snapshot: {
      snapshot_hash: s.snapshotHash,
      eb_offset_basis: { stream: basis.stream, offset_kind: basis.offsetKind, offsets: basis.offsets },
      pins,
      created_at_utc: s.createdAt,
      as_of_time_utc: c.asOfUtc,
      feature_groups: c.featureGroups,
      feature_def_policy_rev: {
        policy_id: c.policyRev.policyId,
        revision: c.policyRev.revision,
        content_digest: c.policyRev.contentDigest,
      },
      features,
      freshness: c.freshness,
    },
  };
  return { status: 200, body: stringify(body) as string };
}

const str = (v: JsonValue | undefined): string | undefined =>
  typeof v === 'string' ? v : isIntegerLiteral(v) ? (v as LosslessNumber).value : undefined;

/** Handles one request body; never throws. */
export async function handleGetFeatures(
  gateway: Gateway,
  text: string,
  fallbackRequestId: string,
): Promise<ContractResponse> {
  let body: JsonValue;
  try {
    body = parseJsonStrict(text);
  } catch (err) {
    return errorResponse(
      'INVALID_REQUEST',
      `request body is not JSON: ${(err as Error).message}`,
      fallbackRequestId,
    );
  }
  if (!isJsonObject(body))
    return errorResponse('INVALID_REQUEST', 'request body must be a JSON object', fallbackRequestId);
  const requestId =
    typeof body.request_id === 'string' && body.request_id.length > 0
      ? body.request_id.slice(0, 128)
      : fallbackRequestId;
  const pinsIn = isJsonObject(body.pins) ? body.pins : undefined;
  const missing = REQUIRED_PIN_FIELDS.filter(([snake]) => {
    const v = pinsIn?.[snake];
    return v === undefined || v === null || v === '';
  });
  if (missing.length > 0)
    return errorResponse('MISSING_PINS', `missing pins: ${missing.map(([s]) => s).join(', ')}`, requestId);
  const problem = checkRequest(body);
  if (problem) return errorResponse('INVALID_REQUEST', problem, requestId);

  const pins = pinsIn as JsonObject;
  const groups = (body.feature_groups as JsonObject[]).map((g) => ({
    name: g.name as string,
    version: g.version as string,
  }));
  const known = groups
    .map((g) => findGroup(gateway.policy, g.name, g.version))
    .filter((g) => g !== undefined);
  if (known.length === groups.length && streamsOf(known).length > 1) {
    return errorResponse(
      'INVALID_REQUEST',
      `the requested groups read ${streamsOf(known).length} streams (${streamsOf(known).join(', ')}); eb_offset_basis carries one stream, request groups of one stream`,
      requestId,
    );
  }
  const result = await gateway.features(
    {
      pins: {
        platformRunId: str(pins.platform_run_id),
        scenarioRunId: str(pins.scenario_run_id),
        scenarioId: str(pins.scenario_id),
        manifestFingerprint: str(pins.manifest_fingerprint),
        parameterHash: str(pins.parameter_hash),
        seed: str(pins.seed),
        runId: str(pins.run_id),
      },
      asOf: body.as_of_time_utc as string,
      keys: (body.feature_keys as JsonObject[]).map((k) => ({
        keyType: k.key_type as string,
        keyId: k.key_id as string,
      })),
      groups,
      requestId,
    },
    'http',
  );
  if ('code' in result)
    return errorResponse(
      (result as FeaturesErrorModel).code,
      result.detail,
      result.requestId,
      result.retryable,
    );
  return okResponse(result);
}
