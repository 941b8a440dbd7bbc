/**
 * A bounded map that forgets what went unused longest, half at a time. Entries go into a young generation; when it
 * is full it becomes the old one and the previous old generation is dropped. A hit in the old generation copies the
 * entry back into the young one, so entries read often (a busy merchant's series) survive every rotation, while a
 * cache that is simply cleared when full loses them all at once and has to fetch them again.
 */
export class GenerationalCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly perGeneration: number;

  /** @param capacity most entries held in all (each generation holds at most half); at least 2. */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 2)
      throw new RangeError(`cache capacity must be an integer of at least 2, got ${capacity}`);
    this.perGeneration = Math.floor(capacity / 2);
  }

  get(key: K): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: K, value: V): void {
    if (!this.young.has(key) && this.young.size >= this.perGeneration) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Entries held, counting one that sits in both generations twice; never more than the capacity. */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
