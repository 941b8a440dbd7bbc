/**
 * The series-id cache: bounded, never wrong, and an entry in steady use is never forgotten however many others pass
 * through (a busy merchant's series stays cached while millions of one-off flows come and go).
 */
import fc from 'fast-check';
import { GenerationalCache } from '../../src/db/generational-cache';

test('answers what was set, or nothing; never holds more than its capacity', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), key: fc.nat(40), value: fc.nat() }),
    fc.record({ kind: fc.constant('get' as const), key: fc.nat(40) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 12 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
      const cache = new GenerationalCache<number, number>(capacity);
      const truth = new Map<number, number>();
      for (const o of ops) {
        if (o.kind === 'set') {
          cache.set(o.key, o.value);
          truth.set(o.key, o.value);
        } else {
          const got = cache.get(o.key);
          if (got !== undefined) expect(got).toBe(truth.get(o.key));
        }
        expect(cache.size).toBeLessThanOrEqual(capacity);
      }
    }),
    { numRuns: 500 },
  );
});

test('the last capacity/2 keys set are always there', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 20 }), fc.integer({ min: 1, max: 200 }), (capacity, n) => {
      const cache = new GenerationalCache<string, number>(capacity);
      for (let i = 0; i < n; i++) cache.set(`k${i}`, i);
      for (let j = Math.max(0, n - Math.floor(capacity / 2)); j < n; j++) expect(cache.get(`k${j}`)).toBe(j);
    }),
    { numRuns: 500 },
  );
});

test('a key read between every few new keys survives any number of them', () => {
  const cache = new GenerationalCache<string, number>(8);
  cache.set('merchant', 7);
  for (let i = 0; i < 10_000; i++) {
    cache.set(`flow${i}`, i);
    if (i % 3 === 0) expect(cache.get('merchant')).toBe(7);
  }
});

test('a key left unread is forgotten once the generation after its own has filled', () => {
  const cache = new GenerationalCache<string, number>(4);
  cache.set('once', 1);
  for (let i = 0; i < 4; i++) cache.set(`other${i}`, i);
  expect(cache.get('once')).toBeUndefined();
});

test('refuses a capacity that cannot hold a generation', () => {
  expect(() => new GenerationalCache(1)).toThrow(RangeError);
  expect(() => new GenerationalCache(2.5)).toThrow(RangeError);
});
