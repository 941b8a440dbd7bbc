/** Skewed sampling and a small priority queue for the traffic generator. */
import type { Prng } from './prng';

/**
 * Zipf-like draws over a population of `size` entities: rank r (0-based) has weight 1 / (r + 1)^exponent, so a few
 * ranks are hot (a handful of busy merchants and devices) and the tail is long. The cumulative weights are
 * precomputed once; a draw is a binary search.
 */
export class ZipfSampler {
  private readonly cdf: Float64Array;

  constructor(
    readonly size: number,
    exponent: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`population size must be >= 1, got ${size}`);
    this.cdf = new Float64Array(size);
    let total = 0;
    for (let r = 0; r < size; r++) {
      total += 1 / Math.pow(r + 1, exponent);
      this.cdf[r] = total;
    }
    for (let r = 0; r < size; r++) this.cdf[r] /= total;
  }

  /** A rank in [0, size). */
  draw(prng: Prng): number {
    const u = prng.float();
    let lo = 0;
    let hi = this.size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/**
 * Maps rank r of a population to an entity id: base + ((r + 1) * 2654435761) mod size. 2654435761 is prime, so this
 * is a permutation of 0..size-1 (for any size it does not divide) and hot entities get unremarkable ids.
 */
export function entityId(base: number, rank: number, size: number): number {
  return base + (((rank + 1) * 2654435761) % size);
}

/** Binary min-heap ordered by (ts, order): equal timestamps pop in insertion order, keeping output deterministic. */
export class MinHeap<T extends { ts: number; order: number }> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    // Sift the hole up instead of swapping pairs: fewer writes and no temporary arrays.
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(item, a[parent])) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as T;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(a[r], a[l]) ? r : l;
        if (!less(a[c], last)) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

function less(x: { ts: number; order: number }, y: { ts: number; order: number }): boolean {
  return x.ts < y.ts || (x.ts === y.ts && x.order < y.order);
}
