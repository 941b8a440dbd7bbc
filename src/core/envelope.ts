/**
 * Reading one bus record (SPEC 1.2, 1.3, 2, 4.2): lossless JSON, framing, pins, envelope, payload, payload hash.
 * Classes are decided in the SPEC's order: `unparseable` → `pins_invalid` → `envelope_invalid`; the payload is
 * validated separately because `irrelevant` sits between envelope and payload checks.
 */
import * as crypto from 'node:crypto';
import {
  canonicalJson,
  isIntegerLiteral,
  isJsonObject,
  isLosslessNumber,
  LosslessNumber,
  parseLossless,
  type JsonObject,
  type JsonValue,
} from './json';
import { LosslessAjv, type SchemaCheck } from './lossless-ajv';
import { REQUIRED_PIN_FIELDS, matchesPinPattern, pinProblem, type ContextPins } from './pins';
import type { Envelope, EnvelopeResult } from './record';
import { MAX_TIMESTAMP, MIN_TIMESTAMP, parseTimestamp } from './time';

/** Envelope `event_type` → name of its payload schema in `data_engine_6B_payloads.schema.yaml` (SPEC 1.1). */
export const PAYLOAD_SCHEMA_BY_EVENT_TYPE: Readonly<Record<string, string>> = Object.freeze({
  s3_flow_anchor_with_fraud_6B: 'flow_anchor_with_fraud_6B',
  s3_event_stream_with_fraud_6B: 'event_stream_with_fraud_6B',
});

/** The schemas a RecordParser validates with (see `src/contracts`). */
export interface RecordSchemas {
  envelopeSchema: object;
  /** Payload schemas by their 6B name (`flow_anchor_with_fraud_6B` ...). */
  payloadSchemas: Readonly<Record<string, object>>;
}

type Failure = Extract<EnvelopeResult, { ok: false }>;

const JSON_WHITESPACE_ONLY = /^[ \t\r\n]*$/;
const TS_UTC_FORM = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$/;
const MAX_EVENT_ID_CHARS = 256;

function kindOf(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isLosslessNumber(value)) return 'a number';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

// ---- fast lossless parse ----
// lossless-json alone parses ~45,000 records/s, below the projector's budget; V8's JSON.parse is several times
// faster but reads numbers as doubles. So the fast path runs both a cheap scan that collects the source text of every
// number token (outside strings, in source order) and JSON.parse, then walks the parsed tree in the same order putting
// a LosslessNumber with the exact text in place of each double. The scan also counts member separators (`:` outside
// strings): every object member has exactly one, so the text repeats a key iff it holds more of them than the tree has
// keys (JSON.parse, like lossless-json when the values are equal, silently keeps one copy; the SPEC wants every
// repeated key rejected). Anything unusual goes to lossless-json, whose answer (or error message) is authoritative:
// invalid JSON, and keys starting with a digit, since V8 orders integer-like keys first, not in source order.

/** True when the code unit is in the JSON number alphabet: digits . e E + - */
function isNumberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45;
}

/** Index of the quote closing the string opened at `open`, or -1 (`indexOf` is much faster than a char loop). */
function closingQuote(text: string, open: number): number {
  let end = text.indexOf('"', open + 1);
  while (end > 0 && text.charCodeAt(end - 1) === 92 /* \ */) {
    let backslashes = 1;
    while (text.charCodeAt(end - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) break; // the backslashes escape each other, not the quote
    end = text.indexOf('"', end + 1);
  }
  return end;
}

interface Scan {
  /** Source text of every number token, in source order. */
  numbers: string[];
  /** `:` outside strings, i.e. object members in the text. */
  members: number;
}

/** Scans JSON text outside its strings; null for an unterminated string (the slow path words the error). */
function scan(text: string): Scan | null {
  const numbers: string[] = [];
  let members = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Jump over the string: outside strings only a few characters separate them, inside they are longer.
      i = closingQuote(text, i);
      if (i < 0) return null;
    } else if (c === 58 /* : */) {
      members++;
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57) /* 0-9 */) {
      // Outside strings of valid JSON only numbers hold digits or `-`, and a number ends at a delimiter.
      let j = i + 1;
      while (j < n && isNumberChar(text.charCodeAt(j))) j++;
      numbers.push(text.slice(i, j));
      i = j - 1;
    }
  }
  return { numbers, members };
}

/** Thrown inside the fast path when the slow path must decide. */
const BAIL = new Error('lossless fast path not applicable');

/** Replaces the doubles of a JSON.parse tree by LosslessNumbers in source order; returns the object keys seen. */
function attachNumbers(value: unknown, numbers: string[], state: { next: number }): number {
  let keys = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'number') value[i] = new LosslessNumber(numbers[state.next++]);
      else if (typeof item === 'object' && item !== null) keys += attachNumbers(item, numbers, state);
    }
    return keys;
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const c = key.charCodeAt(0);
    if (c >= 48 && c <= 57) throw BAIL;
    keys++;
    const item = obj[key];
    if (typeof item === 'number') obj[key] = new LosslessNumber(numbers[state.next++]);
    else if (typeof item === 'object' && item !== null) keys += attachNumbers(item, numbers, state);
  }
  return keys;
}

/** The fast path: the lossless tree, or undefined when the slow path must decide. */
function parseFast(text: string): JsonValue | undefined {
  const scanned = scan(text);
  if (scanned === null) return undefined;
  const { numbers, members } = scanned;
  let tree: unknown;
  const state = { next: 0 };
  let keys = 0;
  try {
    tree = JSON.parse(text);
    if (typeof tree === 'number') tree = new LosslessNumber(numbers[state.next++]);
    else if (typeof tree === 'object' && tree !== null) keys = attachNumbers(tree, numbers, state);
  } catch {
    return undefined; // invalid JSON (lossless-json words the error), a digit-led key, or nesting too deep
  }
  if (state.next !== numbers.length) return undefined; // cannot happen for valid JSON; be safe
  if (keys !== members) throw new DuplicateKeyError(`duplicate key '${firstDuplicateKey(text)}'`);
  return tree as JsonValue;
}

/** Error thrown for JSON text that repeats a key in one object. */
export class DuplicateKeyError extends SyntaxError {}

/**
 * Parses JSON text exactly as {@link parseLossless} does (numbers as LosslessNumbers with their source text), only
 * faster, and additionally rejects every repeated key. Throws SyntaxError (DuplicateKeyError for repeated keys), or
 * RangeError when nested too deeply.
 */
export function parseJsonStrict(text: string): JsonValue {
  const fast = parseFast(text);
  if (fast !== undefined) return fast;
  const tree = parseLossless(text);
  if (colonsOutsideStrings(text) !== keysInTree(tree)) {
    throw new DuplicateKeyError(`duplicate key '${firstDuplicateKey(text)}'`);
  }
  return tree;
}

function colonsOutsideStrings(text: string): number {
  let count = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 58 /* : */) count++;
  }
  return count;
}

function keysInTree(value: JsonValue): number {
  if (Array.isArray(value)) {
    let n = 0;
    for (const item of value) n += keysInTree(item);
    return n;
  }
  if (!isJsonObject(value)) return 0;
  let n = 0;
  for (const key of Object.keys(value)) n += 1 + keysInTree(value[key]);
  return n;
}

/** Names the first repeated key of valid JSON text (slow path, only after a duplicate was detected). */
function firstDuplicateKey(text: string): string {
  const stack: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const str = JSON.parse(text.slice(i, j + 1)) as string;
      let k = j + 1;
      while (/[ \t\r\n]/.test(text[k] ?? '')) k++;
      const keys = stack[stack.length - 1];
      if (text[k] === ':' && keys) {
        if (keys.has(str)) return str;
        keys.add(str);
      }
      i = j;
    }
  }
  return '?';
}

// ---- pins ----

/** A pin that is missing, empty or malformed: the reason, without the field name. */
interface PinProblem {
  problem: string;
}

/** Reads one required pin as its text (a bare string, no wrapper object: this runs six times per record). */
function readPin(field: keyof ContextPins, value: JsonValue): string | PinProblem {
  if (value === '') return { problem: 'required pin is empty' };
  if (field === 'seed') {
    // seed is a JSON integer (uint64): a string, `7.0` or `7e0` is malformed even when its value would fit.
    if (!isIntegerLiteral(value))
      return { problem: `must be an unsigned 64-bit integer number, got ${kindOf(value)}` };
    const problem = pinProblem('seed', value.value);
    return problem ? { problem } : value.value;
  }
  let text: string;
  if (typeof value === 'string') text = value;
  else if (field === 'scenarioId' && isIntegerLiteral(value) && BigInt(value.value) >= 0n) {
    text = BigInt(value.value).toString(); // SPEC 1.2: `5` and `"5"` are one run (`-0` reads as `0`)
  } else {
    const expected = field === 'scenarioId' ? 'a string or a non-negative integer' : 'a string';
    return { problem: `must be ${expected}, got ${kindOf(value)}` };
  }
  const problem = pinProblem(field, text);
  return problem ? { problem } : text;
}

function readPins(event: JsonValue | undefined): ContextPins | Failure {
  if (!isJsonObject(event)) {
    const reason = `${REQUIRED_PIN_FIELDS[0][0]}: required pin is missing (the event is ${kindOf(event)}, not an object)`;
    return { ok: false, class: 'pins_invalid', reason };
  }
  const pins = {} as Record<keyof ContextPins, string>;
  for (const [snake, camel] of REQUIRED_PIN_FIELDS) {
    if (!Object.hasOwn(event, snake))
      return { ok: false, class: 'pins_invalid', reason: `${snake}: required pin is missing` };
    const read = readPin(camel, event[snake]);
    if (typeof read !== 'string')
      return { ok: false, class: 'pins_invalid', reason: `${snake}: ${read.problem}` };
    pins[camel] = read;
  }
  return pins;
}

// ---- the parser ----

/**
 * Parses and classifies bus records. Validators are compiled once at construction; `parse` never throws.
 */
export class RecordParser {
  private readonly checkEnvelope: SchemaCheck;
  private readonly payloadChecks = new Map<string, SchemaCheck>();

  /**
   * @param schemas the envelope schema and the 6B payload schemas (normally `envelopeSchema`, `payloadSchemas` of
   *   `src/contracts`); every payload schema named in {@link PAYLOAD_SCHEMA_BY_EVENT_TYPE} must be present.
   * @param ajv the validator factory to compile with (a fresh one by default).
   */
  constructor(schemas: RecordSchemas, ajv: LosslessAjv = new LosslessAjv()) {
    this.checkEnvelope = ajv.check(schemas.envelopeSchema);
    for (const [eventType, name] of Object.entries(PAYLOAD_SCHEMA_BY_EVENT_TYPE)) {
      const schema = schemas.payloadSchemas[name];
      if (!schema)
        throw new Error(`RecordParser: payload schema ${name} (event_type ${eventType}) is missing`);
      this.payloadChecks.set(eventType, ajv.check(schema, 'payload'));
    }
  }

  /**
   * Reads one raw bus record (a line without its ending) into a valid envelope, or classifies it as `unparseable`,
   * `pins_invalid` or `envelope_invalid` with a reason naming the field at fault. Never throws.
   */
  parse(raw: string): EnvelopeResult {
    let root: JsonValue;
    try {
      if (JSON_WHITESPACE_ONLY.test(raw)) return { ok: false, class: 'unparseable', reason: 'blank line' };
      root = parseJsonStrict(raw);
    } catch (error) {
      // SyntaxError from the parser, or RangeError for nesting deeper than the stack.
      const reason =
        error instanceof RangeError ? 'JSON nested too deeply' : `invalid JSON: ${(error as Error).message}`;
      return { ok: false, class: 'unparseable', reason };
    }
    if (!isJsonObject(root)) {
      return {
        ok: false,
        class: 'unparseable',
        reason: `top-level JSON value is ${kindOf(root)}, not an object`,
      };
    }
    try {
      return this.classify(root);
    } catch (error) {
      // Not expected: a safety net so that one odd record can never crash a projector.
      return {
        ok: false,
        class: 'envelope_invalid',
        reason: `envelope could not be validated: ${(error as Error).message}`,
      };
    }
  }

  /**
   * Validates a payload against the 6B schema of its envelope `event_type`. Returns null when valid, else a reason
   * naming the field (`payload.amount: must be number`). A missing payload is invalid; nothing is coerced.
   */
  validatePayload(eventType: string, payload: JsonObject | undefined): string | null {
    const check = this.payloadChecks.get(eventType);
    if (!check) return `event_type: no payload schema for ${JSON.stringify(eventType)}`;
    if (payload === undefined) return 'payload: is required';
    return check(payload);
  }

  private classify(root: JsonObject): EnvelopeResult {
    const event = unframe(root);
    const pins = readPins(event);
    if ('ok' in pins) return pins;
    const envelope = event as JsonObject; // readPins proved it is an object

    if (Object.hasOwn(envelope, 'run_id')) {
      const runId = envelope.run_id;
      if (typeof runId !== 'string')
        return envelopeInvalid(pins, `run_id: must be a string, got ${kindOf(runId)}`);
      if (!matchesPinPattern('runId', runId))
        return envelopeInvalid(pins, `run_id: ${pinProblem('runId', runId)}`);
      pins.runId = runId;
    }
    const eventId = envelope.event_id;
    if (eventId === undefined) return envelopeInvalid(pins, 'event_id: is required');
    if (typeof eventId !== 'string' || eventId.length === 0 || longerThan(eventId, MAX_EVENT_ID_CHARS)) {
      return envelopeInvalid(pins, `event_id: must be a string of 1..${MAX_EVENT_ID_CHARS} characters`);
    }
    // PostgreSQL text cannot hold U+0000: such a record could never be stored, so it is invalid, not a retry loop.
    if (eventId.includes('\u0000')) return envelopeInvalid(pins, 'event_id: must not contain U+0000');
    const tsUtc = envelope.ts_utc;
    if (tsUtc === undefined) return envelopeInvalid(pins, 'ts_utc: is required');
    const tsMicros = parseTimestamp(tsUtc);
    if (tsMicros === null) {
      return envelopeInvalid(
        pins,
        typeof tsUtc === 'string' && TS_UTC_FORM.test(tsUtc)
          ? `ts_utc: ${tsUtc} is not a real instant from ${MIN_TIMESTAMP} to ${MAX_TIMESTAMP}`
          : 'ts_utc: must be YYYY-MM-DDTHH:MM:SS.ffffffZ (exactly 6 fractional digits)',
      );
    }
    const problem = this.checkEnvelope(envelope);
    if (problem !== null) return envelopeInvalid(pins, problem);
    if ((envelope.event_type as string).includes('\u0000'))
      return envelopeInvalid(pins, 'event_type: must not contain U+0000');

    const result: Envelope = {
      eventId,
      eventType: envelope.event_type as string,
      tsUtc: tsUtc as string,
      tsMicros,
      schemaVersion: (envelope.schema_version as string | undefined) ?? null,
      pins,
      payload: envelope.payload as JsonObject | undefined,
    };
    return { ok: true, envelope: result };
  }
}

/** An `envelope_invalid` result (a function, not a closure per record: this is the hot path). */
function envelopeInvalid(pins: ContextPins, reason: string): Failure {
  return { ok: false, class: 'envelope_invalid', reason, pins };
}

/** SPEC 1.3 framing: `{envelope}` → envelope; `{payload, partition_key | published_at_utc}` → payload; else itself. */
function unframe(root: JsonObject): JsonValue | undefined {
  if (Object.hasOwn(root, 'envelope')) return root.envelope;
  if (
    Object.hasOwn(root, 'payload') &&
    (Object.hasOwn(root, 'partition_key') || Object.hasOwn(root, 'published_at_utc'))
  ) {
    return root.payload;
  }
  return root;
}

/** True when `text` has more than `max` Unicode code points (what JSON Schema's maxLength counts). */
function longerThan(text: string, max: number): boolean {
  if (text.length <= max) return false; // UTF-16 length is an upper bound on code points
  let n = 0;
  for (const _ of text) if (++n > max) return true;
  return false;
}

/**
 * SPEC 4.3 payload hash: lowercase hex sha256 of the JCS form of `{event_type, schema_version, payload}`, every number
 * written as its exact canonical decimal (`10.50` → `10.5`, `1.5e2` → `150`, `-0.0` → `0`).
 * `schema_version` is null when absent; an absent payload is left out.
 */
export function payloadHash(envelope: Envelope): string {
  const subject = {
    event_type: envelope.eventType,
    schema_version: envelope.schemaVersion,
    payload: envelope.payload,
  };
  return sha256Hex(canonicalJson(subject));
}

/**
 * Lowercase hex sha256 of the UTF-8 text. The one-shot `crypto.hash` (Node >= 20.12) skips the Hash object that
 * `createHash` builds, a visible share of hashing a ~1 KB payload; older Node takes the createHash path.
 */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');
