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
  return isLosslessNumber(value) && /^-?(0|[1-9][0-9]*)$/.test((value as LosslessNumber).value);
}

/**
 * RFC 8785 canonical JSON. Keys sort by UTF-16 code units (JavaScript's default string order); strings are escaped as
 * ECMAScript JSON.stringify does; LosslessNumbers are written as their canonical decimal; JS numbers must be
 * safe integers (counts), anything else is a programming error.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`canonicalJson: non-integer JS number ${value}`);
    return Object.is(value, -0) ? '0' : String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (isLosslessNumber(value)) return canonicalDecimal((value as LosslessNumber).value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + canonicalJson(value[i]);
    return out + ']';
  }
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
    let out = '{';
    let first = true;
    for (const k of keys) {
      const v = obj[k];
      if (v === undefined) continue;
      out += (first ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(v);
      first = false;
    }
    return out + '}';
  }
  throw new TypeError(`canonicalJson: unsupported value of type ${typeof value}`);
}
