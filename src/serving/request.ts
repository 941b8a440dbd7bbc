/**
 * Validation of a `features` request (SPEC 5.4, 5.8), shared by GraphQL and `POST /v1/get_features`: the transport
 * maps its input to `FeatureRequestInput`; everything after that is one code path.
 */
import { REQUIRED_PIN_FIELDS, pinProblem, type ContextPins } from '../core/pins';
import { findGroup, type FeatureGroup, type FeaturePolicy } from '../core/policy';
import { MAX_TIMESTAMP, MIN_TIMESTAMP, parseTimestamp, type Micros } from '../core/time';
import { invalidRequest, missingPins } from './errors';

export const MAX_KEYS = 200;
export const MAX_GROUPS = 20;
export const MAX_WAIT_MS = 5000;

export interface FeatureRequestInput {
  pins: Partial<Record<keyof ContextPins, string | null | undefined>>;
  asOf: string;
  keys: { keyType: string; keyId: string }[];
  groups: { name: string; version: string }[];
  minBasis?: { stream: string; offsets: { partition: number; offset: string }[] }[] | null;
  waitMs?: number | null;
  requestId?: string | null;
}

export interface FeatureRequest {
  pins: ContextPins;
  asOfUtc: string;
  asOf: Micros;
  /** Distinct keys, in request order. */
  keys: { keyType: string; keyId: string }[];
  /** Distinct groups, in request order. */
  groups: FeatureGroup[];
  minBasis: { stream: string; partition: number; offset: number }[];
  waitMs: number;
}

function distinct<T>(items: T[], keyOf: (t: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((t) => {
    const k = keyOf(t);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function validatePins(input: FeatureRequestInput['pins']): ContextPins {
  const missing = REQUIRED_PIN_FIELDS.filter(
    ([, camel]) => input[camel] === undefined || input[camel] === null || input[camel] === '',
  );
  if (missing.length > 0) throw missingPins(`missing pins: ${missing.map(([, camel]) => camel).join(', ')}`);
  const pins = {} as ContextPins;
  for (const [, camel] of REQUIRED_PIN_FIELDS) {
    const value = String(input[camel]);
    const problem = pinProblem(camel, value);
    if (problem) throw invalidRequest(`pins.${camel}: ${problem}`);
    pins[camel] = value;
  }
  if (input.runId !== undefined && input.runId !== null) {
    const problem = pinProblem('runId', input.runId);
    if (problem) throw invalidRequest(`pins.runId: ${problem}`);
    pins.runId = input.runId;
  }
  return pins;
}

export function validateRequest(input: FeatureRequestInput, policy: FeaturePolicy): FeatureRequest {
  const pins = validatePins(input.pins);
  const asOf = parseTimestamp(input.asOf);
  if (asOf === null)
    throw invalidRequest(
      `asOf: "${input.asOf}" is not a real instant of the form YYYY-MM-DDTHH:MM:SS.ffffffZ from ${MIN_TIMESTAMP} to ${MAX_TIMESTAMP}`,
    );

  const groupRefs = distinct(input.groups, (g) => `${g.name}\u0000${g.version}`);
  if (groupRefs.length === 0) throw invalidRequest('groups: at least one group is required');
  if (groupRefs.length > MAX_GROUPS)
    throw invalidRequest(`groups: ${groupRefs.length} distinct groups requested, at most ${MAX_GROUPS}`);
  const groups = groupRefs.map((ref, i) => {
    const g = findGroup(policy, ref.name, ref.version);
    if (!g)
      throw invalidRequest(
        `groups[${i}]: unknown group or version ${ref.name}/${ref.version} in policy ${policy.policyId} ${policy.revision}`,
      );
    return g;
  });

  const keys = distinct(input.keys, (k) => `${k.keyType}\u0000${k.keyId}`);
  if (keys.length === 0) throw invalidRequest('keys: at least one key is required');
  if (keys.length > MAX_KEYS)
    throw invalidRequest(`keys: ${keys.length} distinct keys requested, at most ${MAX_KEYS}`);
  const servedTypes = new Set(groups.map((g) => g.keyType));
  keys.forEach((k, i) => {
    if (k.keyId.length === 0 || k.keyId.length > 256)
      throw invalidRequest(`keys[${i}].keyId: must be 1..256 characters`);
    if (k.keyId.includes('\u0000')) throw invalidRequest(`keys[${i}].keyId: must not contain U+0000`);
    if (!servedTypes.has(k.keyType)) {
      throw invalidRequest(
        `keys[${i}].keyType: ${k.keyType} is served by none of the requested groups (${[...servedTypes].join(', ')})`,
      );
    }
  });

  const waitMs = input.waitMs ?? 0;
  if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > MAX_WAIT_MS)
    throw invalidRequest(`waitMs: must be an integer 0..${MAX_WAIT_MS}`);
  const minBasis = (input.minBasis ?? []).flatMap((b, i) =>
    b.offsets.map((o, j) => {
      if (!/^(0|[1-9][0-9]{0,15})$/.test(o.offset))
        throw invalidRequest(`minBasis[${i}].offsets[${j}].offset: must be a decimal offset`);
      if (!Number.isInteger(o.partition) || o.partition < 0)
        throw invalidRequest(`minBasis[${i}].offsets[${j}].partition: must be >= 0`);
      return { stream: b.stream, partition: o.partition, offset: Number(o.offset) };
    }),
  );
  return { pins, asOfUtc: input.asOf, asOf, keys, groups, minBasis, waitMs };
}
