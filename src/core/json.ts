/**
 * Lossless JSON: numbers keep their exact source text (ids above 2^53, decimal amounts), and canonical (RFC 8785 JCS)
 * serialisation writes every number as its exact canonical decimal rather than through a binary double.
 */
import { LosslessNumber, isLosslessNumber, parse as losslessParse } from 'lossless-json';
import { canonicalDecimal } from './decimal';

export { LosslessNumber, isLosslessNumber };

export type JsonValue = null | boolean | string | LosslessNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Parses JSON text keeping every number as a LosslessNumber. Throws SyntaxError on invalid JSON or duplicate keys. */
export function parseLossless(text: string): JsonValue {
  return losslessParse(text) as JsonValue;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

/** True when the number's source text is an integer literal: no fraction, no exponent (`7.0` and `7e0` are not). */
export function isIntegerLiteral(value: unknown): value is LosslessNumber {
  return isLosslessNumber(value) && isIntegerText((value as LosslessNumber).value);
}

/** True when `text` matches `^-?(0|[1-9][0-9]*)$` (a hand scan: it runs for every id of every record). */
export function isIntegerText(text: string): boolean {
  const n = text.length;
  const start = text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  const lead = text.charCodeAt(start); // NaN past the end
  if (lead === 48 /* 0 */) return n === start + 1;
  if (!(lead >= 49 && lead <= 57)) return false;
  for (let i = start + 1; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * RFC 8785 canonical JSON. Keys sort by UTF-16 code units (JavaScript's default string order); strings are escaped as
 * ECMAScript JSON.stringify does; LosslessNumbers are written as their canonical decimal; JS numbers must be
 * safe integers (counts), anything else is a programming error.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`canonicalJson: non-integer JS number ${value}`);
    return Object.is(value, -0) ? '0' : String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  // instanceof is a cheap first test; isLosslessNumber also knows numbers of other copies of lossless-json.
  if (value instanceof LosslessNumber || isLosslessNumber(value))
    return canonicalDecimal((value as LosslessNumber).value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + canonicalJson(value[i]);
    return out + ']';
  }
  if (typeof value === 'object') return canonicalObject(value as Record<string, unknown>);
  throw new TypeError(`canonicalJson: unsupported value of type ${typeof value}`);
}

// JSON.stringify escapes only these (a surrogate only when lone; any surrogate takes the exact path here).
// eslint-disable-next-line no-control-regex -- the control characters are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify of a string, skipping its copy for the usual string that needs no escape (measurably cheaper). */
function quoteString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

function canonicalObject(obj: Record<string, unknown>): string {
  const { sorted, members, laterMembers } = keyOrderOf(Object.keys(obj));
  let out = '{';
  let first = true;
  for (let i = 0; i < sorted.length; i++) {
    const v = obj[sorted[i]];
    if (v === undefined) continue;
    out += (first ? members[i] : laterMembers[i]) + canonicalJson(v);
    first = false;
  }
  return out + '}';
}

// ---- key order memo ----
// Payload hashing writes objects of a handful of shapes (the hash subject, one payload shape per event type) millions of
// times; sorting and quoting their keys anew each time was a large share of the hash. So the sorted keys of the last
// few key lists seen are kept. A hit needs the same keys in the same order, so it yields exactly what sorting would.

interface KeyOrder {
  /** The key list as Object.keys gave it. */
  keys: string[];
  /** The keys sorted by UTF-16 code units. */
  sorted: string[];
  /** `"key":` for each sorted key, quoted as JSON.stringify does. */
  members: string[];
  /** `,"key":`: the same after the first member. */
  laterMembers: string[];
}

/** Bounds the memo's memory and the cost of a miss (a linear search). */
const MAX_KEY_ORDERS = 16;
/** Objects with more keys are rare, and would make the memo hold large arrays: they are sorted every time. */
const MAX_MEMO_KEYS = 64;
const keyOrders: KeyOrder[] = [];
let nextEvicted = 0;

function keyOrderOf(keys: string[]): KeyOrder {
  const n = keys.length;
  search: for (let j = 0; j < keyOrders.length; j++) {
    const known = keyOrders[j].keys;
    if (known.length !== n) continue;
    for (let i = 0; i < n; i++) if (known[i] !== keys[i]) continue search;
    return keyOrders[j];
  }
  const sorted = keys.slice().sort();
  const members = sorted.map((k) => `${JSON.stringify(k)}:`);
  const order: KeyOrder = { keys, sorted, members, laterMembers: members.map((m) => `,${m}`) };
  if (n <= MAX_MEMO_KEYS) {
    if (keyOrders.length < MAX_KEY_ORDERS) keyOrders.push(order);
    else {
      keyOrders[nextEvicted] = order;
      nextEvicted = (nextEvicted + 1) % MAX_KEY_ORDERS;
    }
  }
  return order;
}
