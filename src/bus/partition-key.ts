/**
 * Reading a record's partition key from its JSON line, with the framings of SPEC 1.3:
 * - an object with key `envelope` → `envelope` is the event;
 * - else an object with `payload` and (`partition_key` or `published_at_utc`) → `payload` is the event
 *   (the platform publisher's framing);
 * - else the object itself is the event.
 * The key is read at a dotted path of the event (default `payload.flow_id`) as exact text: lossless parsing keeps
 * every digit of ids above 2^53, and a number's text is used as written.
 */
import { isLosslessNumber, parse } from 'lossless-json';

/** The default partition key path inside the event. */
export const DEFAULT_PARTITION_KEY = 'payload.flow_id';

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isLosslessNumber(value);
}

/** Key text of a JSON value: a number's source text or a string's value; null for anything else. */
function keyText(value: unknown): string | null {
  if (isLosslessNumber(value)) return value.value;
  if (typeof value === 'string') return value;
  return null;
}

/** The event inside a parsed line, per the SPEC 1.3 framing rules; null when the line is not an object. */
export function unframe(doc: unknown): Obj | null {
  if (!isObject(doc)) return null;
  if ('envelope' in doc) return isObject(doc.envelope) ? doc.envelope : null;
  if ('payload' in doc && ('partition_key' in doc || 'published_at_utc' in doc)) {
    return isObject(doc.payload) ? doc.payload : null;
  }
  return doc;
}

/**
 * The partition key text of one line, or null when it cannot be read (not JSON, no object, path missing, or the
 * value is not a number or string). When the event has no key at `keyPath` but the line uses the platform framing
 * with a `partition_key`, that key is used, so such lines still follow the platform's routing intent.
 */
export function readPartitionKey(line: string, keyPath: string = DEFAULT_PARTITION_KEY): string | null {
  let doc: unknown;
  try {
    doc = parse(line);
  } catch {
    return null;
  }
  const event = unframe(doc);
  if (event === null) return null;
  let value: unknown = event;
  for (const segment of keyPath.split('.')) {
    value =
      isObject(value) && Object.prototype.hasOwnProperty.call(value, segment) ? value[segment] : undefined;
  }
  const text = keyText(value);
  if (text !== null) return text;
  if (isObject(doc) && !('envelope' in doc) && 'partition_key' in doc) return keyText(doc.partition_key);
  return null;
}
