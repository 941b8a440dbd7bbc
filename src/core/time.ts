/**
 * Event-time arithmetic in integer microseconds since the Unix epoch. Timestamps are `YYYY-MM-DDTHH:MM:SS.ffffffZ`
 * (SPEC 1.2 / 6); a number of microseconds up to year 2255 is a safe integer, so plain numbers are exact here.
 */
export type Micros = number;

export const MICROS_PER_SECOND = 1_000_000;
export const MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND;
export const MICROS_PER_HOUR = 60 * MICROS_PER_MINUTE;
export const MICROS_PER_DAY = 24 * MICROS_PER_HOUR;

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z$/;

/** Parses the SPEC timestamp form; returns null unless it is well-formed and names a real instant (no Feb 30). */
export function parseTimestamp(text: unknown): Micros | null {
  if (typeof text !== 'string') return null;
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  // Date.UTC rolls Feb 30 over into March: a real instant round-trips to the same calendar day.
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day)
    return null;
  return ms * 1000 + Number(m[7]);
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
