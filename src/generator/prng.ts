/**
 * Deterministic pseudo-random numbers for the traffic generator: xoshiro128** (128-bit state, 32-bit outputs),
 * seeded through splitmix32 from a uint64 seed and a label, so independent streams of numbers (run pins,
 * traffic, ...) can be derived from one seed without one's consumption shifting another's.
 * Not cryptographic; chosen for speed and exact reproducibility across platforms (pure 32-bit integer math).
 */

const UINT64_MAX = (1n << 64n) - 1n;

/** Parses a uint64 seed given as a number, bigint or decimal text. */
export function parseSeed(seed: string | number | bigint): bigint {
  let value: bigint;
  if (typeof seed === 'bigint') value = seed;
  else if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed))
      throw new RangeError(`seed ${seed} is not a safe integer; pass it as a string`);
    value = BigInt(seed);
  } else {
    if (!/^(0|[1-9][0-9]*)$/.test(seed))
      throw new RangeError(`seed ${JSON.stringify(seed)} is not a decimal integer`);
    value = BigInt(seed);
  }
  if (value < 0n || value > UINT64_MAX) throw new RangeError(`seed ${value} is outside 0..2^64-1`);
  return value;
}

/** splitmix32 step: a good 32-bit mixer, used for seeding and for hashing ids. */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** 32-bit FNV-1a of a label, to turn names into seed material. */
function labelHash(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase 8-digit hex of a uint32. */
export function hex8(x: number): string {
  return HEX[(x >>> 24) & 255] + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for (seed, label): the same pair always gives the same sequence. */
  constructor(seed: bigint, label = '') {
    const lo = Number(seed & 0xffffffffn);
    const hi = Number((seed >> 32n) & 0xffffffffn);
    const l = labelHash(label);
    this.a = mix32(lo ^ l);
    this.b = mix32(hi ^ this.a);
    this.c = mix32(l ^ this.b ^ 0x6a09e667);
    this.d = mix32(this.c ^ lo ^ 0xbb67ae85);
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1; // the all-zero state is a fixed point
  }

  /** Next uniform uint32. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n) for n <= 2^32 (the tiny modulo bias is irrelevant for traffic shapes). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.float(); // (0, 1]: log(0) is avoided
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `digits` lowercase hex characters (a multiple of 8). */
  hex(digits: number): string {
    let s = '';
    for (let i = 0; i < digits; i += 8) s += hex8(this.u32());
    return s.slice(0, digits);
  }

  /** A uniform uint64. */
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
