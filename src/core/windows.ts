/**
 * Window arithmetic. A value for window length d at asOf covers events with ts in (asOf − d, asOf], i.e. the
 * half-open microsecond range [asOf − d + 1, asOf + 1). A window read combines whole time tiles inside that range
 * with per-event contributions in its two partial edges, so its cost does not grow with the events inside it.
 */
import { MICROS_PER_HOUR, MICROS_PER_MINUTE, type Micros } from './time';

/**
 * Tile granularities, coarsest first. A tile of granularity g starting at t covers [t, t + g). Two levels, measured:
 * a day level saved little on reads (168 hour tiles are one short index range) but cost a third more writes.
 */
export const TILE_GRANULARITIES: readonly Micros[] = [MICROS_PER_HOUR, MICROS_PER_MINUTE];

/** The coarsest tile level: kept for `key_retention`, it answers per-key recency (SPEC 5.2). */
export const RECENCY_GRANULARITY: Micros = MICROS_PER_HOUR;

/** Granularity 0 means "individual contributions", not a tile. */
export interface TimeRange {
  granularity: Micros;
  /** Inclusive start; for tiles a multiple of the granularity. */
  lo: Micros;
  /** Exclusive end; for tiles a multiple of the granularity. */
  hi: Micros;
}

/** The half-open range [lo, hi) of a window of length `length` ending at `asOf` (inclusive). */
export function windowRange(asOf: Micros, length: Micros): { lo: Micros; hi: Micros } {
  return { lo: asOf - length + 1, hi: asOf + 1 };
}

/**
 * Splits [lo, hi) into the fewest whole tiles (coarsest first) plus at most two contribution edges.
 * Reading a 7d window costs at most 168 hour tiles, 2×59 minute tiles and two sub-minute edges.
 */
export function decomposeRange(
  lo: Micros,
  hi: Micros,
  granularities: readonly Micros[] = TILE_GRANULARITIES,
): TimeRange[] {
  const out: TimeRange[] = [];
  const split = (a: Micros, b: Micros, level: number): void => {
    if (a >= b) return;
    if (level >= granularities.length) {
      out.push({ granularity: 0, lo: a, hi: b });
      return;
    }
    const g = granularities[level];
    const first = Math.ceil(a / g) * g;
    const last = Math.floor(b / g) * g;
    if (first < last) {
      split(a, first, level + 1);
      out.push({ granularity: g, lo: first, hi: last });
      split(last, b, level + 1);
    } else {
      split(a, b, level + 1);
    }
  };
  split(lo, hi, 0);
  return out;
}
