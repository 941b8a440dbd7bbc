/**
 * Stable partition routing (SPEC 1.3), shared by every publisher of the file bus.
 *
 * Algorithm, so that a publisher in any language can reproduce it:
 *   1. Take the partition key's exact text: for a JSON number its source text (`18446744073709551615`, never a
 *      rounded double), for a JSON string its value without quotes.
 *   2. Hash the UTF-8 bytes of that text with 32-bit FNV-1a: h = 0x811c9dc5; for each byte b:
 *      h = (h XOR b) * 0x01000193 mod 2^32.
 *   3. partition = h mod partitions (h read as an unsigned 32-bit integer).
 *
 * Test vectors: fnv1a32('') = 0x811c9dc5, fnv1a32('a') = 0xe40c292c, fnv1a32('foobar') = 0xbf9cf968.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a over the UTF-8 encoding of `text`, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      // ASCII fast path: ids are decimal digits, so this is the only branch taken in practice.
      h = Math.imul(h ^ c, FNV_PRIME);
    } else {
      // Anything else is hashed over its exact UTF-8 bytes (surrogate pairs included) so that other languages agree.
      return fnv1a32Bytes(Buffer.from(text, 'utf8'));
    }
  }
  return h >>> 0;
}

/** 32-bit FNV-1a over raw bytes, as an unsigned integer. */
export function fnv1a32Bytes(bytes: Uint8Array): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return h >>> 0;
}

/**
 * The partition (0..partitions-1) of a record whose partition key text is `keyText`.
 * @param keyText exact key text (see the module comment).
 * @param partitions number of partitions of the stream, a positive integer.
 */
export function partitionFor(keyText: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  return fnv1a32(keyText) % partitions;
}
