/** Skewed sampling and a small priority queue for the traffic generator. */
import type { Prng } from './prng';

/**
 * Zipf-like draws over a population of `size` entities: rank r (0-based) has weight 1 / (r + 1)^exponent, so a few
 * ranks are hot (a handful of busy merchants and devices) and the tail is long. Uses Walker's alias method: O(1)
 * per draw with two array reads, where a binary search over cumulative weights would cost ~17 cache misses.
 */
export class ZipfSampler {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(
    readonly size: number,
    exponent: number,
  ) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`population size must be >= 1, got ${size}`);
    const weights = new Float64Array(size);
    let total = 0;
    for (let r = 0; r < size; r++) total += weights[r] = 1 / Math.pow(r + 1, exponent);
    // Vose's construction: scaled weights below 1 borrow the rest of their slot from one above 1.
    this.prob = new Float64Array(size);
    this.alias = new Int32Array(size);
    const scaled = weights.map((w) => (w * size) / total);
    const small: number[] = [];
    const large: number[] = [];
    for (let r = size - 1; r >= 0; r--) (scaled[r] < 1 ? small : large).push(r);
    while (small.length > 0 && large.length > 0) {
      const s = small.pop() as number;
      const l = large.pop() as number;
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const r of large) this.prob[r] = 1;
    for (const r of small) this.prob[r] = 1; // only rounding leftovers
  }

  /** A rank in [0, size). */
  draw(prng: Prng): number {
    const x = prng.float() * this.size;
    const slot = Math.floor(x);
    return x - slot < this.prob[slot] ? slot : this.alias[slot];
  }
}

/**
 * Maps rank r of a population to an entity id: base + ((r + 1) * 2654435761) mod size. 2654435761 is prime, so this
 * is a permutation of 0..size-1 (for any size it does not divide) and hot entities get unremarkable ids.
 */
export function entityId(base: number, rank: number, size: number): number {
  return base + (((rank + 1) * 2654435761) % size);
}

/**
 * Binary min-heap ordered by (ts, order): equal timestamps pop in insertion order, keeping output deterministic.
 * Keys live in typed arrays so that sifting compares numbers in contiguous memory rather than chasing objects.
 */
export class MinHeap<T> {
  private ts = new Float64Array(1024);
  private order = new Float64Array(1024);
  private values: (T | undefined)[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** The smallest key's timestamp, or undefined when empty. */
  peekTs(): number | undefined {
    return this.n > 0 ? this.ts[0] : undefined;
  }

  push(ts: number, order: number, value: T): void {
    if (this.n === this.ts.length) this.grow();
    const k = this.ts;
    const o = this.order;
    const v = this.values;
    // Sift the hole up instead of swapping pairs.
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (k[parent] < ts || (k[parent] === ts && o[parent] < order)) break;
      k[i] = k[parent];
      o[i] = o[parent];
      v[i] = v[parent];
      i = parent;
    }
    k[i] = ts;
    o[i] = order;
    v[i] = value;
  }

  pop(): T | undefined {
    if (this.n === 0) return undefined;
    const k = this.ts;
    const o = this.order;
    const v = this.values;
    const top = v[0];
    const n = --this.n;
    const lastTs = k[n];
    const lastOrder = o[n];
    const lastValue = v[n];
    v[n] = undefined;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (k[r] < k[l] || (k[r] === k[l] && o[r] < o[l])) ? r : l;
        if (k[c] > lastTs || (k[c] === lastTs && o[c] > lastOrder)) break;
        k[i] = k[c];
        o[i] = o[c];
        v[i] = v[c];
        i = c;
      }
      k[i] = lastTs;
      o[i] = lastOrder;
      v[i] = lastValue;
    }
    return top;
  }

  private grow(): void {
    const ts = new Float64Array(this.ts.length * 2);
    ts.set(this.ts);
    const order = new Float64Array(this.order.length * 2);
    order.set(this.order);
    this.ts = ts;
    this.order = order;
  }
}
