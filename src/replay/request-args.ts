/**
 * Command-line spellings of a features request for `ofp replay`: pins as JSON text or a JSON file (GraphQL
 * `ContextPinsInput` names or envelope snake_case names; seed as a string or a JSON integer, read without losing
 * digits), keys as `keyType:keyId,...`, groups as `name/version,...`. Errors are one line naming the argument.
 */
import fs from 'node:fs';
import { isJsonObject, isLosslessNumber, parseLossless, type JsonValue } from '../core/json';
import { REQUIRED_PIN_FIELDS, type ContextPins } from '../core/pins';
import type { FeatureRequestInput } from '../serving/request';

export class RequestArgError extends Error {
  override name = 'RequestArgError';
}

const PIN_NAMES: [string, keyof ContextPins][] = [
  ...REQUIRED_PIN_FIELDS.map(([s, c]) => [s, c] as [string, keyof ContextPins]),
  ['run_id', 'runId'],
];

function pinText(value: JsonValue, name: string): string | null {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (isLosslessNumber(value)) return value.value;
  throw new RequestArgError(`--pins: ${name} must be a string or an integer`);
}

/** Reads `--pins`: JSON text (starting with `{`) or the path of a JSON file; `{"pins": {...}}` is accepted too. */
export function parsePinsArg(arg: string): FeatureRequestInput['pins'] {
  let text = arg.trim();
  if (!text.startsWith('{')) {
    try {
      text = fs.readFileSync(arg, 'utf8');
    } catch (err) {
      throw new RequestArgError(
        `--pins: "${arg}" is neither JSON nor a readable file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  }
  let value: JsonValue;
  try {
    value = parseLossless(text);
  } catch (err) {
    throw new RequestArgError(`--pins: not valid JSON: ${(err as Error).message}`);
  }
  if (isJsonObject(value) && isJsonObject(value.pins)) value = value.pins;
  if (!isJsonObject(value)) throw new RequestArgError('--pins: must be a JSON object of pins');
  const pins: FeatureRequestInput['pins'] = {};
  const known = new Set<string>();
  for (const [snake, camel] of PIN_NAMES) {
    known.add(snake).add(camel);
    const v = value[camel] ?? value[snake];
    if (v !== undefined) pins[camel] = pinText(v, camel) ?? undefined;
  }
  const unknown = Object.keys(value).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new RequestArgError(
      `--pins: unknown pin ${unknown[0]} (pins are ${PIN_NAMES.map(([, c]) => c).join(', ')})`,
    );
  return pins;
}

/** Reads `--keys keyType:keyId,...`. */
export function parseKeysArg(arg: string): FeatureRequestInput['keys'] {
  const items = arg
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new RequestArgError('--keys: give at least one keyType:keyId');
  return items.map((item) => {
    const at = item.indexOf(':');
    if (at <= 0 || at === item.length - 1)
      throw new RequestArgError(`--keys: "${item}" is not keyType:keyId`);
    return { keyType: item.slice(0, at), keyId: item.slice(at + 1) };
  });
}

/** Reads `--groups name/version,...`. */
export function parseGroupsArg(arg: string): FeatureRequestInput['groups'] {
  const items = arg
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new RequestArgError('--groups: give at least one name/version');
  return items.map((item) => {
    const at = item.indexOf('/');
    if (at <= 0 || at === item.length - 1)
      throw new RequestArgError(`--groups: "${item}" is not name/version (for example merchant_velocity/v1)`);
    return { name: item.slice(0, at), version: item.slice(at + 1) };
  });
}
