/**
 * ContextPins (SPEC 2): the six required pins scope all state; `runId` is carried but never scopes anything.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './json';

export interface ContextPins {
  platformRunId: string;
  scenarioRunId: string;
  scenarioId: string;
  manifestFingerprint: string;
  parameterHash: string;
  /** uint64 as its decimal text, so no digit is lost. */
  seed: string;
  runId?: string;
}

export const PIN_PATTERNS = {
  platformRunId: /^platform_[0-9]{8}T[0-9]{6}Z$/,
  scenarioRunId: /^[a-f0-9]{32}$/,
  manifestFingerprint: /^[a-f0-9]{64}$/,
  parameterHash: /^[a-f0-9]{64}$/,
  runId: /^[a-f0-9]{32}$/,
} as const;

export const UINT64_MAX = 18446744073709551615n;

/** The required pins in their envelope (snake_case) spelling, in a fixed order. */
export const REQUIRED_PIN_FIELDS = [
  ['platform_run_id', 'platformRunId'],
  ['scenario_run_id', 'scenarioRunId'],
  ['scenario_id', 'scenarioId'],
  ['manifest_fingerprint', 'manifestFingerprint'],
  ['parameter_hash', 'parameterHash'],
  ['seed', 'seed'],
] as const;

const UINT64_MAX_TEXT = UINT64_MAX.toString();

/** True when `text` is a decimal uint64 written without sign, leading zeros, fraction or exponent. */
export function isUint64Text(text: string): boolean {
  // `^(0|[1-9][0-9]{0,19})$` and at most UINT64_MAX, by hand: every record's seed comes here (and BigInt is slow).
  const n = text.length;
  if (n === 0 || n > UINT64_MAX_TEXT.length) return false;
  if (text.charCodeAt(0) === 48 /* 0 */) return n === 1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  // Digit strings of one length compare as numbers.
  return n < UINT64_MAX_TEXT.length || text <= UINT64_MAX_TEXT;
}

/** Checks a scenario id string (1..256 characters, SPEC 2 / envelope schema). */
export function isScenarioId(text: string): boolean {
  return text.length >= 1 && text.length <= 256 && !text.includes('\u0000');
}

/**
 * Validates one pin value that is present and non-empty; returns a reason when malformed, else null.
 * Used both for envelopes and for requests so that "malformed" means one thing everywhere.
 */
export function pinProblem(field: keyof ContextPins, value: string): string | null {
  switch (field) {
    case 'seed':
      return isUint64Text(value) ? null : 'must be an unsigned 64-bit integer';
    case 'scenarioId':
      return isScenarioId(value) ? null : 'must be 1..256 characters, none of them U+0000';
    default:
      return matchesPinPattern(field, value) ? null : `must match ${PIN_PATTERNS[field].source}`;
  }
}

type PatternPin = keyof typeof PIN_PATTERNS;

/** Per pin, the last value that matched its pattern. */
const lastMatch: Partial<Record<PatternPin, string>> = {};

/**
 * `PIN_PATTERNS[field].test(value)`, remembering the last match: every record of a run repeats the same pins, and
 * comparing with the last match is much cheaper than running the pattern again.
 */
export function matchesPinPattern(field: PatternPin, value: string): boolean {
  if (value === lastMatch[field]) return true;
  if (!PIN_PATTERNS[field].test(value)) return false;
  lastMatch[field] = value;
  return true;
}

const runKeyCache = new Map<string, string>();

/** The pins of the last runKeyOf call and their key: consecutive records nearly always belong to one run. */
let lastPins: ContextPins | undefined;
let lastRunKey = '';

/**
 * The run key: lowercase hex sha256 of the canonical JSON of the six required pins. It names a run in the database
 * so that state of runs that differ in any one pin never mixes, while staying a fixed-width column.
 */
export function runKeyOf(pins: ContextPins): string {
  const last = lastPins;
  if (
    last !== undefined &&
    pins.platformRunId === last.platformRunId &&
    pins.scenarioRunId === last.scenarioRunId &&
    pins.scenarioId === last.scenarioId &&
    pins.manifestFingerprint === last.manifestFingerprint &&
    pins.parameterHash === last.parameterHash &&
    pins.seed === last.seed
  ) {
    return lastRunKey;
  }
  const key = memoisedRunKey(pins);
  // A copy: the caller may change its pins object later (runId is set after the required pins are read).
  lastPins = sixPins(pins);
  lastRunKey = key;
  return key;
}

/** A copy of the six required pins, without `runId`. */
export function sixPins(pins: ContextPins): ContextPins {
  return {
    platformRunId: pins.platformRunId,
    scenarioRunId: pins.scenarioRunId,
    scenarioId: pins.scenarioId,
    manifestFingerprint: pins.manifestFingerprint,
    parameterHash: pins.parameterHash,
    seed: pins.seed,
  };
}

function memoisedRunKey(pins: ContextPins): string {
  // Every record of a run hashes the same six pins: memoise (bounded; a deployment serves a handful of runs).
  const memo = `${pins.platformRunId}|${pins.scenarioRunId}|${pins.scenarioId.length}:${pins.scenarioId}|${pins.manifestFingerprint}|${pins.parameterHash}|${pins.seed}`;
  const hit = runKeyCache.get(memo);
  if (hit !== undefined) return hit;
  if (runKeyCache.size > 10_000) runKeyCache.clear();
  const key = computeRunKey(pins);
  runKeyCache.set(memo, key);
  return key;
}

/**
 * The six required pins under their envelope names (SPEC 1), as the run key and the snapshot document hash them. The
 * seed stays a decimal string, so a uint64 above 2^53 keeps every digit.
 */
export function sixPinsDocument(pins: ContextPins): Record<string, string> {
  return {
    platform_run_id: pins.platformRunId,
    scenario_run_id: pins.scenarioRunId,
    scenario_id: pins.scenarioId,
    manifest_fingerprint: pins.manifestFingerprint,
    parameter_hash: pins.parameterHash,
    seed: pins.seed,
  };
}

function computeRunKey(pins: ContextPins): string {
  return createHash('sha256')
    .update(canonicalJson(sixPinsDocument(pins)))
    .digest('hex');
}
