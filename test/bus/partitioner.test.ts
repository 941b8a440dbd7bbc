import fc from 'fast-check';
import { fnv1a32, fnv1a32Bytes, partitionFor } from '../../src/bus/partitioner';

describe('partitionFor: stable routing by 32-bit FNV-1a of the key text', () => {
  it('matches the published FNV-1a test vectors, so other publishers can reproduce it', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('is pinned: these routes must never change (files on disk depend on them)', () => {
    expect(fnv1a32('9007199254740993')).toBe(0xaeb18cd1);
    expect(partitionFor('1', 4)).toBe(0);
    expect(partitionFor('9007199254740993', 8)).toBe(1);
    expect(partitionFor('18446744073709551615', 16)).toBe(4);
  });

  it('hashes the exact text: ids that round to the same double still route independently', () => {
    // 2^53 + 1 and 2^53 are the same JS number; as text they are different keys.
    expect(fnv1a32('9007199254740993')).not.toBe(fnv1a32('9007199254740992'));
  });

  it('hashes non-ASCII keys over their UTF-8 bytes', () => {
    for (const key of ['é', 'Zürich', '日本', '😀x']) {
      expect(fnv1a32(key)).toBe(fnv1a32Bytes(Buffer.from(key, 'utf8')));
    }
  });

  it('always returns a partition in range, equal to the hash modulo the partition count', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
        const p = partitionFor(key, n);
        return p >= 0 && p < n && p === fnv1a32Bytes(Buffer.from(key, 'utf8')) % n;
      }),
    );
  });

  it('spreads sequential ids evenly', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 80_000; i++) counts[partitionFor(String(1_000_000 + i), 8)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => partitionFor('1', 0)).toThrow(RangeError);
    expect(() => partitionFor('1', 1.5)).toThrow(RangeError);
  });
});
