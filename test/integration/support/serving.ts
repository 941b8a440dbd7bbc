/**
 * Test-side helpers for the gateway's HTTP surface: GraphQL and contract requests over real HTTP, and an oracle that
 * computes expected window values straight from the bus files (every generated line is a valid event when the
 * generator injects nothing), independent of the projector and of the replay module.
 */
import fs from 'node:fs';
import path from 'node:path';
import { canonicalDecimal, Decimal } from '../../../src/core/decimal';
import { isJsonObject, parseLossless, type JsonObject, type JsonValue } from '../../../src/core/json';
import type { ContextPins } from '../../../src/core/pins';
import { parseTimestamp, formatTimestamp, MICROS_PER_HOUR, MICROS_PER_DAY } from '../../../src/core/time';
import { SNAPSHOT_FIELDS } from '../../../src/graphql/example-query';

export interface GraphqlResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: T | null;
    errors?: { message: string; extensions?: { code?: string; retryable?: boolean } }[];
  };
}

/** POSTs one GraphQL operation to `${url}/graphql` with a bearer token (none when `token` is null). */
export async function postGraphql<T = Record<string, unknown>>(
  url: string,
  token: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphqlResponse<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) };
}

export interface ContractHttpResponse {
  status: number;
  headers: Headers;
  /** The raw response text (to check how numbers are written). */
  text: string;
  /** Parsed losslessly: every number is a LosslessNumber with its exact source text. */
  body: JsonValue;
}

/** POSTs a raw JSON text (so seeds above 2^53 can be written exactly) to `${url}/v1/get_features`. */
export async function postContract(
  url: string,
  token: string | null,
  bodyText: string,
): Promise<ContractHttpResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/v1/get_features`, { method: 'POST', headers, body: bodyText });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: parseLossless(text) };
}

/** The six required pins plus run_id in contract (snake_case) JSON text, seed as an unquoted integer. */
export function contractPinsJson(pins: ContextPins, options: { withRunId?: boolean } = {}): string {
  const parts = [
    `"platform_run_id":${JSON.stringify(pins.platformRunId)}`,
    `"scenario_run_id":${JSON.stringify(pins.scenarioRunId)}`,
    `"scenario_id":${JSON.stringify(pins.scenarioId)}`,
    `"manifest_fingerprint":${JSON.stringify(pins.manifestFingerprint)}`,
    `"parameter_hash":${JSON.stringify(pins.parameterHash)}`,
    `"seed":${pins.seed}`,
  ];
  if (options.withRunId && pins.runId) parts.push(`"run_id":${JSON.stringify(pins.runId)}`);
  return `{${parts.join(',')}}`;
}

/** GraphQL pins input without `runId` (it is only echoed when sent). */
export function pinsWithoutRunId(pins: ContextPins): ContextPins {
  const { runId: _runId, ...six } = pins;
  return six;
}

// ---- the bus oracle ----

export interface BusEvent {
  pins: ContextPins;
  tsUs: number;
  payload: JsonObject;
}

/** Every event of every partition file of one stream (lines that do not parse are skipped). */
export function readBusEvents(busRoot: string, stream: string): BusEvent[] {
  const dir = path.join(busRoot, stream);
  const events: BusEvent[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const e = parseLossless(line);
      if (!isJsonObject(e) || !isJsonObject(e.payload)) continue;
      const text = (v: JsonValue) => (typeof v === 'string' ? v : String((v as { value: string }).value));
      events.push({
        pins: {
          platformRunId: text(e.platform_run_id),
          scenarioRunId: text(e.scenario_run_id),
          scenarioId: text(e.scenario_id),
          manifestFingerprint: text(e.manifest_fingerprint),
          parameterHash: text(e.parameter_hash),
          seed: text(e.seed),
        },
        tsUs: parseTimestamp(e.ts_utc) as number,
        payload: e.payload,
      });
    }
  }
  return events;
}

const sameRun = (a: ContextPins, b: ContextPins) =>
  a.platformRunId === b.platformRunId &&
  a.scenarioRunId === b.scenarioRunId &&
  a.scenarioId === b.scenarioId &&
  a.manifestFingerprint === b.manifestFingerprint &&
  a.parameterHash === b.parameterHash &&
  a.seed === b.seed;

/** The exact decimal text of a payload field (`merchant_id`, `amount`). */
export function fieldText(payload: JsonObject, field: string): string {
  const v = payload[field];
  return typeof v === 'string' ? v : (v as { value: string }).value;
}

export const WINDOWS = [
  ['1h', MICROS_PER_HOUR],
  ['24h', MICROS_PER_DAY],
  ['7d', 7 * MICROS_PER_DAY],
] as const;

/**
 * What the default policy's velocity groups (count / sum amount / max amount over 1h, 24h, 7d) serve for one key,
 * computed from the bus: events of the run whose `keyField` equals `keyId` and whose ts_utc is in (asOf − d, asOf].
 * Values in the GraphQL text encoding (counts as decimal text).
 */
export function expectedEntry(
  events: BusEvent[],
  pins: ContextPins,
  countName: string,
  keyField: string,
  keyId: string,
  asOfUtc: string,
): { lastEventTsUtc: string | null; values: Record<string, string | null> } {
  const asOf = parseTimestamp(asOfUtc) as number;
  const mine = events.filter((e) => sameRun(e.pins, pins) && fieldText(e.payload, keyField) === keyId);
  const values: Record<string, string | null> = {};
  for (const [label, d] of WINDOWS) {
    const inWindow = mine.filter((e) => e.tsUs > asOf - d && e.tsUs <= asOf);
    const amounts = inWindow.map((e) => new Decimal(fieldText(e.payload, 'amount')));
    values[`${countName}_${label}`] = String(inWindow.length);
    values[`amount_sum_${label}`] = canonicalDecimal(amounts.reduce((a, b) => a.plus(b), new Decimal(0)));
    values[`amount_max_${label}`] =
      amounts.length === 0 ? null : canonicalDecimal(amounts.reduce((a, b) => (b.gt(a) ? b : a)));
  }
  const last = Math.max(-Infinity, ...mine.filter((e) => e.tsUs <= asOf).map((e) => e.tsUs));
  return { lastEventTsUtc: Number.isFinite(last) ? formatTimestamp(last) : null, values };
}

/** The key ids of `keyField` in a run, most frequent first (ties by id), so tests pick keys with real history. */
export function busiestKeys(events: BusEvent[], pins: ContextPins, keyField: string, n: number): string[] {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (!sameRun(e.pins, pins)) continue;
    const k = fieldText(e.payload, keyField);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([k]) => k);
}

/** Greatest ts_utc of a run's events on a stream (H of SPEC 5.2 when everything was applied). */
export function greatestTs(events: BusEvent[], pins: ContextPins): number {
  return Math.max(...events.filter((e) => sameRun(e.pins, pins)).map((e) => e.tsUs));
}

/**
 * The `features` query of SPEC 7 selecting every field, with the optional arguments (minBasis, waitMs, requestId)
 * wired as variables. The snapshot's requestId is aliased `snapshotRequestId`, apart from the error member's.
 */
export const FEATURES_QUERY = `
query Features($pins: ContextPinsInput!, $asOf: DateTime!, $keys: [FeatureKeyInput!]!, $groups: [FeatureGroupInput!]!,
               $minBasis: [InputBasisInput!], $waitMs: Int, $requestId: String) {
  features(pins: $pins, asOf: $asOf, keys: $keys, groups: $groups, minBasis: $minBasis, waitMs: $waitMs, requestId: $requestId) {
    __typename
    ... on FeatureSnapshot {
      snapshotHash asOf createdAt snapshotRequestId: requestId
      ${SNAPSHOT_FIELDS}
    }
    ... on FeaturesError { code retryable detail requestId }
  }
}`;
