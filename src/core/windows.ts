/**
 * Window arithmetic and the tile model. A value for window length d at asOf covers events with ts in (asOf − d, asOf],
 * i.e. the half-open microsecond range [asOf − d + 1, asOf + 1). A window read combines the whole hour tiles inside
 * that range with at most two partial hours, so its cost does not grow with the events inside it.
 *
 * Every series has an hour tile (count, sum, min, max, latest ts) for each hour it has events in. Minute tiles exist
 * only for the hours that hold more than DENSE_HOUR_EVENTS of its events ("dense" hours): a partial hour is read from
 * its events when it holds at most that many, and otherwise from its whole minute tiles plus the events of its two
 * sub-minute edges. Most series (a device, an account, a flow) have a few events an hour, so most events cost one
 * tile row instead of two, while a hot merchant's partial hours still read at most 59 minute tiles.
 */
import { MICROS_PER_HOUR, MICROS_PER_MINUTE, floorTo, type Micros } from './time';

/** Tiles every series has. Also the level kept for `key_retention`: it answers per-key recency (SPEC 5.2). */
export const HOUR_TILE: Micros = MICROS_PER_HOUR;

/** Tiles only the dense hours of a series have. */
export const MINUTE_TILE: Micros = MICROS_PER_MINUTE;

/**
 * An hour of a series with more events than this keeps minute tiles; a partial hour with at most this many events is
 * read from the events themselves. Small, so that probing a dense hour's events first wastes little.
 */
export const DENSE_HOUR_EVENTS = 8;

export const RECENCY_GRANULARITY: Micros = HOUR_TILE;

/**
 * Where a key's recency read starts for `asOf`: the start of its hour, never earlier than MIN_TIMESTAMP (no event is
 * earlier), so that it stays exact near it.
 */
export function recencyStart(asOf: Micros): Micros {
  return Math.max(floorTo(asOf, RECENCY_GRANULARITY), Number.MIN_SAFE_INTEGER);
}

/** A half-open range [lo, hi) of microseconds. */
export interface TimeRange {
  lo: Micros;
  hi: Micros;
}

/**
 * A part of a window inside one hour. Read from its events when it has at most DENSE_HOUR_EVENTS of them; otherwise
 * its hour is dense and the part is the minute tiles of [minuteLo, minuteHi) plus the events of [lo, minuteLo) and
 * [minuteHi, hi), the two sub-minute edges (either may be empty).
 */
export interface PartialHour extends TimeRange {
  minuteLo: Micros;
  minuteHi: Micros;
}

/** How to read one window: whole hour tiles (null when none) and up to two partial hours. */
export interface WindowReads {
  hours: TimeRange | null;
  partials: PartialHour[];
}

/**
 * The half-open range [lo, hi) of a window of length `length` ending at `asOf` (inclusive). `lo` is never earlier
 * than the earliest instant with exact microseconds (MIN_TIMESTAMP), before which no event can be, so that a window
 * ending near it stays exact.
 */
export function windowRange(asOf: Micros, length: Micros): TimeRange {
  return { lo: Math.max(asOf - length + 1, Number.MIN_SAFE_INTEGER), hi: asOf + 1 };
}

function ceilTo(micros: Micros, granularity: Micros): Micros {
  const f = floorTo(micros, granularity);
  return f === micros ? f : f + granularity;
}

function partialHour(lo: Micros, hi: Micros): PartialHour {
  const minuteLo = Math.min(ceilTo(lo, MINUTE_TILE), hi);
  const minuteHi = Math.max(floorTo(hi, MINUTE_TILE), minuteLo);
  return { lo, hi, minuteLo, minuteHi };
}

/**
 * Splits [lo, hi) into whole hours and the partial hours at its ends. A 7d window reads at most 168 hour tiles and,
 * in its two partial hours, at most 2 × 8 events or 59 minute tiles and two sub-minute edges.
 */
export function decomposeWindow(lo: Micros, hi: Micros): WindowReads {
  if (lo >= hi) return { hours: null, partials: [] };
  const first = ceilTo(lo, HOUR_TILE);
  const last = floorTo(hi, HOUR_TILE);
  if (first >= last) {
    // No whole hour inside: one partial hour, or two when [lo, hi) straddles an hour boundary.
    if (first < hi && lo < first)
      return { hours: null, partials: [partialHour(lo, first), partialHour(first, hi)] };
    return { hours: null, partials: [partialHour(lo, hi)] };
  }
  const partials: PartialHour[] = [];
  if (lo < first) partials.push(partialHour(lo, first));
  if (last < hi) partials.push(partialHour(last, hi));
  return { hours: { lo: first, hi: last }, partials };
}
