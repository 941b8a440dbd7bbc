/**
 * Event-time arithmetic in integer microseconds since the Unix epoch. Timestamps are `YYYY-MM-DDTHH:MM:SS.ffffffZ`
 * (SPEC 1.2 / 6). Plain numbers are exact for safe integers, ±2^53 - 1 µs (from 1684 to 2255): parseTimestamp
 * refuses instants outside that range rather than round them.
 */
export type Micros = number;

export const MICROS_PER_SECOND = 1_000_000;
export const MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND;
export const MICROS_PER_HOUR = 60 * MICROS_PER_MINUTE;
export const MICROS_PER_DAY = 24 * MICROS_PER_HOUR;

/** The earliest and latest instants whose microseconds are exact as numbers (safe integers). */
export const MIN_TIMESTAMP = '1684-07-28T00:12:25.259009Z';
export const MAX_TIMESTAMP = '2255-06-05T23:47:34.740991Z';

/**
 * Parses the SPEC timestamp form; returns null unless it is well-formed and names a real instant (no Feb 30)
 * between MIN_TIMESTAMP and MAX_TIMESTAMP.
 * Reads `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$` by character codes rather than a regex and a Date round
 * trip: every record's event time comes through here.
 */
export function parseTimestamp(text: unknown): Micros | null {
  if (typeof text !== 'string' || text.length !== 27) return null;
  if (
    text.charCodeAt(4) !== 45 /* - */ ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 /* T */ ||
    text.charCodeAt(13) !== 58 /* : */ ||
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 /* . */ ||
    text.charCodeAt(26) !== 90 /* Z */
  ) {
    return null;
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const micros = digits(text, 20, 6);
  // digits() is -1 for a non-digit, which every lower bound below rejects.
  if (year < 0 || micros < 0 || minute < 0 || second < 0 || hour < 0) return null;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  // Date.UTC reads years 0..99 as 1900..1999, so the former round-trip check never accepted them.
  if (year < 100 || day > daysInMonth(year, month)) return null;
  const value = Date.UTC(year, month - 1, day, hour, minute, second) * 1000 + micros;
  return Number.isSafeInteger(value) ? value : null;
}

/** The decimal value of `count` ASCII digits at `start`, or -1 when one of them is not a digit. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month - 1];
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/** Formats microseconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function formatTimestamp(micros: Micros): string {
  const ms = Math.floor(micros / 1000);
  const frac = micros - ms * 1000;
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 23)}${String(frac).padStart(3, '0')}Z`;
}

const DURATION = /^([1-9][0-9]*)(s|m|h|d)$/;
const UNIT: Record<string, number> = {
  s: MICROS_PER_SECOND,
  m: MICROS_PER_MINUTE,
  h: MICROS_PER_HOUR,
  d: MICROS_PER_DAY,
};

/** Parses a policy duration (`30s`, `5m`, `1h`, `7d`) into microseconds; null when malformed. */
export function parseDuration(text: unknown): Micros | null {
  if (typeof text !== 'string') return null;
  const m = DURATION.exec(text);
  return m ? Number(m[1]) * UNIT[m[2]] : null;
}

/** Floors `micros` to a multiple of `granularity` (works for instants before 1970 too). */
export function floorTo(micros: Micros, granularity: Micros): Micros {
  return Math.floor(micros / granularity) * granularity;
}
