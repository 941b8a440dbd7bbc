/**
 * parseTimestamp reads `YYYY-MM-DDTHH:MM:SS.ffffffZ` by hand; it must answer exactly as the regex and Date round trip
 * it replaced (which, through Date.UTC, never accepted the years 0000..0099), except that it refuses instants whose
 * microseconds are not exact as numbers (beyond ±2^53 - 1: before 1684 or after 2255) instead of rounding them.
 */
import fc from 'fast-check';
import { formatTimestamp, MAX_TIMESTAMP, MIN_TIMESTAMP, parseTimestamp } from '../../src/core/time';

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z$/;

/** The former definition, kept as the reference. */
function referenceParseTimestamp(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day)
    return null;
  const micros = ms * 1000 + Number(m[7]);
  return Number.isSafeInteger(micros) ? micros : null;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Well-formed timestamps whose fields range a little beyond the valid ones. */
const formed = fc
  .tuple(
    fc.oneof(
      fc.integer({ min: 0, max: 9999 }),
      fc.constantFrom(0, 99, 100, 1600, 1900, 1970, 2000, 2024, 2100),
    ),
    fc.integer({ min: 0, max: 13 }),
    fc.integer({ min: 0, max: 32 }),
    fc.integer({ min: 0, max: 24 }),
    fc.integer({ min: 0, max: 60 }),
    fc.integer({ min: 0, max: 60 }),
    fc.integer({ min: 0, max: 999999 }),
  )
  .map(
    ([y, mo, d, h, mi, s, us]) =>
      `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(us, 6)}Z`,
  );

/** A well-formed timestamp with a few characters replaced, to break the form in every position. */
const damaged = fc
  .tuple(
    formed,
    fc.array(fc.tuple(fc.nat(), fc.constantFrom('0', '9', '-', ':', '.', 'T', 'Z', ' ', 'x', '٣', '/')), {
      maxLength: 3,
    }),
  )
  .map(([text, edits]) => {
    const chars = [...text];
    for (const [at, c] of edits) chars[at % chars.length] = c;
    return chars.join('');
  });

describe('parseTimestamp', () => {
  test('answers as the regex and Date round trip did', () => {
    fc.assert(
      fc.property(fc.oneof(formed, damaged, fc.string({ maxLength: 30 })), (text) => {
        expect(parseTimestamp(text)).toBe(referenceParseTimestamp(text));
      }),
      { numRuns: 20000 },
    );
  });

  test('every day of every month of leap, century and early years', () => {
    for (const year of [0, 99, 100, 1600, 1700, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 9999]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T23:59:59.999999Z`;
          expect(parseTimestamp(text)).toBe(referenceParseTimestamp(text));
        }
      }
    }
  });

  test('examples', () => {
    expect(parseTimestamp('2024-02-29T00:00:00.000001Z')).toBe(Date.UTC(2024, 1, 29) * 1000 + 1);
    expect(parseTimestamp('2023-02-29T00:00:00.000000Z')).toBeNull();
    expect(parseTimestamp('0099-01-01T00:00:00.000000Z')).toBeNull();
    expect(parseTimestamp('1700-01-01T00:00:00.000000Z')).toBe(Date.UTC(1700, 0, 1) * 1000);
    expect(parseTimestamp('2026-02-06T17:00:00.000Z')).toBeNull();
    expect(parseTimestamp(20260206)).toBeNull();
  });

  test('the supported range ends where microseconds stop being exact numbers', () => {
    expect(parseTimestamp(MAX_TIMESTAMP)).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseTimestamp(MIN_TIMESTAMP)).toBe(Number.MIN_SAFE_INTEGER);
    expect(formatTimestamp(Number.MAX_SAFE_INTEGER)).toBe(MAX_TIMESTAMP);
    expect(formatTimestamp(Number.MIN_SAFE_INTEGER)).toBe(MIN_TIMESTAMP);
    expect(parseTimestamp('2255-06-05T23:47:34.740992Z')).toBeNull();
    expect(parseTimestamp('1684-07-28T00:12:25.259008Z')).toBeNull();
    expect(parseTimestamp('9999-12-31T23:59:59.999999Z')).toBeNull();
    expect(parseTimestamp('0100-01-01T00:00:00.000000Z')).toBeNull();
  });
});
