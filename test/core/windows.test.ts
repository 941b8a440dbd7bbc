/**
 * The window decomposition and the tile model it reads: hour tiles for every hour with events, minute tiles only for
 * dense hours (more than DENSE_HOUR_EVENTS events), partial hours read from their events when they hold few.
 */
import fc from 'fast-check';
import {
  DENSE_HOUR_EVENTS,
  HOUR_TILE,
  MINUTE_TILE,
  decomposeWindow,
  windowRange,
  type PartialHour,
} from '../../src/core/windows';
import { floorTo, MICROS_PER_DAY } from '../../src/core/time';

const BASE = floorTo(1_770_000_000_000_000, HOUR_TILE); // an hour in 2026
const instant = fc.integer({ min: 0, max: 10 * MICROS_PER_DAY }).map((d) => BASE + d);

describe('decomposeWindow', () => {
  it('cuts [lo, hi) into whole hours and partial hours that cover it exactly, in order', () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: 1, max: 8 * MICROS_PER_DAY }), (lo, len) => {
        const hi = lo + len;
        const { hours, partials } = decomposeWindow(lo, hi);
        const pieces = [...partials, ...(hours ? [hours] : [])].sort((a, b) => a.lo - b.lo);
        expect(pieces[0].lo).toBe(lo);
        expect(pieces[pieces.length - 1].hi).toBe(hi);
        for (let i = 1; i < pieces.length; i++) expect(pieces[i].lo).toBe(pieces[i - 1].hi);
        if (hours) {
          expect(hours.lo % HOUR_TILE).toBe(0);
          expect(hours.hi % HOUR_TILE).toBe(0);
          expect(hours.hi).toBeGreaterThan(hours.lo);
        }
        expect(partials.length).toBeLessThanOrEqual(2);
        for (const p of partials) {
          expect(p.hi).toBeGreaterThan(p.lo);
          // Inside one hour.
          expect(floorTo(p.hi - 1, HOUR_TILE)).toBe(floorTo(p.lo, HOUR_TILE));
          // Whole minutes between two sub-minute edges.
          expect(p.lo).toBeLessThanOrEqual(p.minuteLo);
          expect(p.minuteLo).toBeLessThanOrEqual(p.minuteHi);
          expect(p.minuteHi).toBeLessThanOrEqual(p.hi);
          expect(p.minuteLo - p.lo).toBeLessThan(MINUTE_TILE);
          expect(p.hi - p.minuteHi).toBeLessThan(MINUTE_TILE);
          if (p.minuteLo < p.minuteHi) {
            expect(p.minuteLo % MINUTE_TILE).toBe(0);
            expect(p.minuteHi % MINUTE_TILE).toBe(0);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('reads a 7d window ending mid-hour as 167 whole hours and its two partial hours', () => {
    const asOf = BASE + 7 * MICROS_PER_DAY + 25 * MINUTE_TILE + 1_500_000;
    const { lo, hi } = windowRange(asOf, 7 * MICROS_PER_DAY);
    const { hours, partials } = decomposeWindow(lo, hi);
    expect((hours!.hi - hours!.lo) / HOUR_TILE).toBe(167);
    expect(partials.map((p) => (p.minuteHi - p.minuteLo) / MINUTE_TILE)).toEqual([34, 25]);
  });

  it('returns nothing to read for an empty range', () => {
    expect(decomposeWindow(BASE, BASE)).toEqual({ hours: null, partials: [] });
  });
});

/**
 * The tile model in memory, as the projector maintains it in SQL: events arrive in batches; every hour gets a tile; an
 * hour whose count passes DENSE_HOUR_EVENTS gets minute tiles from all its events at that moment, and from then on
 * each batch adds its own events to them.
 */
class TileModel {
  readonly events: number[] = [];
  readonly hours = new Map<number, number>();
  readonly minutes = new Map<number, number>();

  applyBatch(batch: number[]): void {
    this.events.push(...batch);
    const added = new Map<number, number[]>();
    for (const ts of batch) {
      const h = floorTo(ts, HOUR_TILE);
      added.set(h, [...(added.get(h) ?? []), ts]);
    }
    for (const [h, tss] of added) {
      const before = this.hours.get(h) ?? 0;
      const after = before + tss.length;
      this.hours.set(h, after);
      if (after <= DENSE_HOUR_EVENTS) continue;
      const source =
        before > DENSE_HOUR_EVENTS ? tss : this.events.filter((t) => floorTo(t, HOUR_TILE) === h);
      if (before <= DENSE_HOUR_EVENTS)
        for (const k of [...this.minutes.keys()]) if (floorTo(k, HOUR_TILE) === h) this.minutes.delete(k);
      for (const ts of source) {
        const m = floorTo(ts, MINUTE_TILE);
        this.minutes.set(m, (this.minutes.get(m) ?? 0) + 1);
      }
    }
  }

  /** Count of events in [lo, hi) as the read statement computes it. */
  read(lo: number, hi: number): number {
    const { hours, partials } = decomposeWindow(lo, hi);
    let n = 0;
    if (hours) for (const [h, c] of this.hours) if (h >= hours.lo && h < hours.hi) n += c;
    for (const p of partials) n += this.readPartial(p);
    return n;
  }

  private readPartial(p: PartialHour): number {
    const inRange = (a: number, b: number) => this.events.filter((t) => t >= a && t < b).length;
    // The statement probes at most DENSE_HOUR_EVENTS + 1 events of the partial hour.
    const probed = Math.min(inRange(p.lo, p.hi), DENSE_HOUR_EVENTS + 1);
    if (probed <= DENSE_HOUR_EVENTS) return probed;
    let n = inRange(p.lo, p.minuteLo) + inRange(p.minuteHi, p.hi);
    for (const [m, c] of this.minutes) if (m >= p.minuteLo && m < p.minuteHi) n += c;
    return n;
  }
}

describe('the tile model', () => {
  // Events bunched into a few hours so that some hours are dense and some are not.
  const events = fc.array(
    fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: HOUR_TILE - 1 })),
    { minLength: 0, maxLength: 120, size: 'max' },
  );

  it('answers every window exactly, whatever the batches the events arrived in', () => {
    fc.assert(
      fc.property(
        events,
        fc.integer({ min: 1, max: 40 }),
        instant,
        fc.integer({ min: 1, max: 7 * HOUR_TILE }),
        (evs, batchSize, asOfOffset, length) => {
          const tss = evs.map(([h, o]) => BASE + h * HOUR_TILE + o);
          const model = new TileModel();
          for (let i = 0; i < tss.length; i += batchSize) model.applyBatch(tss.slice(i, i + batchSize));
          const asOf = BASE + (asOfOffset % (7 * HOUR_TILE));
          const { lo, hi } = windowRange(asOf, length);
          expect(model.read(lo, hi)).toBe(tss.filter((t) => t >= lo && t < hi).length);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('keeps minute tiles exactly for the hours with more than DENSE_HOUR_EVENTS events', () => {
    fc.assert(
      fc.property(events, fc.integer({ min: 1, max: 40 }), (evs, batchSize) => {
        const tss = evs.map(([h, o]) => BASE + h * HOUR_TILE + o);
        const model = new TileModel();
        for (let i = 0; i < tss.length; i += batchSize) model.applyBatch(tss.slice(i, i + batchSize));
        for (const [h, count] of model.hours) {
          const minutes = [...model.minutes].filter(([m]) => floorTo(m, HOUR_TILE) === h);
          const sum = minutes.reduce((n, [, c]) => n + c, 0);
          expect(sum).toBe(count > DENSE_HOUR_EVENTS ? count : 0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
