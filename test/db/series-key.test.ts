/**
 * Series cache keys: one key per (run, group, version, key, field), never shared by two series, and short (run keys
 * and group names stand in as tokens, so 200,000 cached keys do not hold 200,000 copies of a 64-character run key).
 */
import fc from 'fast-check';
import { SeriesResolver } from '../../src/db/projection-store';

// Small pools, so that series differing in one part only are drawn often.
const series = fc.tuple(
  fc.constantFrom('a'.repeat(64), 'b'.repeat(64), `${'a'.repeat(63)}b`),
  fc.constantFrom('merchant_velocity', 'merchant', 'velocity'),
  fc.constantFrom('v1', 'v2'),
  fc.constantFrom('1', '12', '2', '-1'),
  fc.constantFrom('amount', '', 'amount_'),
);

test('two series share a key only when they are the same series', () => {
  fc.assert(
    fc.property(fc.array(series, { minLength: 2, maxLength: 40 }), (all) => {
      const byKey = new Map<string, string>();
      for (const s of all) {
        const identity = JSON.stringify(s);
        const key = SeriesResolver.keyOf(...s);
        expect(SeriesResolver.keyOf(...s)).toBe(key);
        const seen = byKey.get(key);
        if (seen !== undefined) expect(seen).toBe(identity);
        byKey.set(key, identity);
      }
    }),
    { numRuns: 300 },
  );
});

test('a key holds neither the run key nor the group name in full', () => {
  const run = 'f'.repeat(64);
  const key = SeriesResolver.keyOf(run, 'merchant_velocity', 'v1', '42', 'amount');
  expect(key).not.toContain(run);
  expect(key).not.toContain('merchant_velocity');
  expect(key.length).toBeLessThan(30);
});
