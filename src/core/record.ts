/**
 * Record classification vocabulary (SPEC 4.2) and the typed results of reading a bus record.
 */
import type { JsonObject } from './json';
import type { ContextPins } from './pins';
import type { Micros } from './time';

/** Every record gets exactly one class, checked in this order. */
export const RECORD_CLASSES = [
  'unparseable',
  'pins_invalid',
  'envelope_invalid',
  'irrelevant',
  'payload_invalid',
  'too_late',
  'duplicate',
  'anomaly',
  'applied',
] as const;
export type RecordClass = (typeof RECORD_CLASSES)[number];

/** Classes that are quarantined (or stall the partition) rather than counted and skipped. */
export const INVALID_CLASSES = [
  'unparseable',
  'pins_invalid',
  'envelope_invalid',
  'payload_invalid',
  'too_late',
  'anomaly',
] as const;
export type InvalidClass = (typeof INVALID_CLASSES)[number];

export function isInvalidClass(c: RecordClass): c is InvalidClass {
  return (INVALID_CLASSES as readonly string[]).includes(c);
}

/** A raw record as a bus adapter returns it: the line text without its line ending. */
export interface BusRecord {
  stream: string;
  partition: number;
  /** 0-based position in the partition (file bus: line index). */
  offset: number;
  raw: string;
}

/** A valid canonical envelope with exact values. */
export interface Envelope {
  eventId: string;
  eventType: string;
  /** Envelope `ts_utc` exactly as sent (already validated). */
  tsUtc: string;
  tsMicros: Micros;
  schemaVersion: string | null;
  /** The six required pins (scenario id read as its decimal string when sent as an integer) plus run_id if sent. */
  pins: ContextPins;
  /** The payload object, or undefined when the envelope carries none. */
  payload: JsonObject | undefined;
}

export type EnvelopeResult =
  | { ok: true; envelope: Envelope }
  | {
      ok: false;
      class: 'unparseable' | 'pins_invalid' | 'envelope_invalid';
      /** Human-readable reason naming the field at fault. */
      reason: string;
      /** Present when all six pins were readable and well-formed (the record belongs to that run). */
      pins?: ContextPins;
    };
