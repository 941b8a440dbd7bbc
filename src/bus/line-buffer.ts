/**
 * Accumulates bus lines as UTF-8 bytes, each followed by '\n', ready for O_APPEND writes.
 *
 * Encoding a line as soon as it is added (instead of keeping strings until a batch is written) lets a producer
 * build large writes without holding thousands of strings across garbage collections; and the bytes go out as
 * chunks of at most `maxChunkBytes`, each ending with a whole line, so that every write() appends whole lines.
 *
 * A line is added whole (`add`) or in pieces (`beginLine`, `text`/`bytes`..., `endLine`): a producer whose lines
 * are mostly constant text (the generator's pins) copies pre-encoded bytes instead of building a long string.
 */

/** Default largest chunk (one write()). */
export const DEFAULT_MAX_CHUNK_BYTES = 64 << 20;

const LF = 10;
const CR = 13;

export class LineBuffer {
  private readonly sealed: Buffer[] = [];
  private buf: Buffer;
  private off = 0;
  private sealedBytes = 0;
  private count = 0;
  /** Start of the line being built in pieces, or -1. */
  private lineStart = -1;
  /** The buffer behind the last take(), until recycle(); then the next take() reuses it. */
  private lent: Buffer | null = null;
  private spare: Buffer | null = null;

  /**
   * @param initialBytes starting capacity (grows as needed). Default 64 KiB.
   * @param maxChunkBytes largest chunk; a single longer line gets a chunk of its own. Default 64 MiB.
   */
  constructor(
    initialBytes = 64 << 10,
    private readonly maxChunkBytes = DEFAULT_MAX_CHUNK_BYTES,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(16, Math.min(initialBytes, maxChunkBytes)));
  }

  /** Complete lines added since the last `take()`. */
  get lines(): number {
    return this.count;
  }

  /** Bytes of complete lines added since the last `take()`. */
  get byteLength(): number {
    return this.sealedBytes + (this.lineStart >= 0 ? this.lineStart : this.off);
  }

  /** Adds one line. Throws RangeError when it contains '\n' or ends in '\r' (it would not read back as itself). */
  add(line: string): void {
    this.beginLine();
    this.text(line);
    this.endLine();
  }

  /** Starts a line to be given in pieces. */
  beginLine(): void {
    if (this.lineStart >= 0) throw new Error('LineBuffer: previous line not ended');
    this.lineStart = this.off;
  }

  /** Appends text to the current line. */
  text(s: string): void {
    this.reserve(s.length * 3); // a UTF-16 code unit is at most 3 UTF-8 bytes
    const start = this.off;
    this.off += this.buf.write(s, start, 'utf8');
    // write() flattened the string, so this search is a plain scan.
    if (s.includes('\n')) this.rejectLine();
  }

  /** Appends already-encoded UTF-8 bytes to the current line. */
  bytes(b: Uint8Array): void {
    if (b.indexOf(LF) !== -1) this.rejectLine();
    this.reserve(b.length);
    this.buf.set(b, this.off);
    this.off += b.length;
  }

  /** Ends the current line. Throws RangeError (dropping the line) when it ends in '\r'. */
  endLine(): void {
    const start = this.lineStart;
    if (start < 0) throw new Error('LineBuffer: no line started');
    if (this.off > start && this.buf[this.off - 1] === CR) this.rejectLine();
    this.reserve(1);
    this.buf[this.off++] = LF;
    this.lineStart = -1;
    this.count++;
    if (this.off > this.maxChunkBytes && start > 0) {
      // The chunk would exceed one write: seal what came before this line and carry the line over.
      this.sealed.push(this.buf.subarray(0, start));
      this.sealedBytes += start;
      const length = this.off - start;
      const next = Buffer.allocUnsafe(Math.max(Math.min(this.buf.length, this.maxChunkBytes), length));
      this.buf.copy(next, 0, start, this.off);
      this.buf = next;
      this.off = length;
    }
  }

  /**
   * The chunks of complete lines added so far (each ends with '\n'); the buffer starts over empty. The chunks stay
   * valid until `recycle()` is called.
   */
  take(): Buffer[] {
    if (this.lineStart >= 0) throw new Error('LineBuffer: take() inside a line');
    const out = this.sealed.splice(0);
    if (this.off > 0) out.push(this.buf.subarray(0, this.off));
    this.lent = this.buf;
    this.buf =
      this.spare !== null && this.spare.length >= this.buf.length
        ? this.spare
        : Buffer.allocUnsafe(this.buf.length);
    this.spare = null;
    this.off = 0;
    this.sealedBytes = 0;
    this.count = 0;
    return out;
  }

  /**
   * Declares the chunks of the last take() written and no longer needed, so that the next take() reuses their
   * memory: alternating two buffers avoids touching fresh pages (page faults) for every batch of a long run.
   */
  recycle(): void {
    if (this.lent !== null) this.spare = this.lent;
    this.lent = null;
  }

  private reserve(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(bigger, 0, 0, this.off);
    this.buf = bigger;
  }

  private rejectLine(): never {
    const text = this.buf.toString('utf8', this.lineStart, Math.min(this.off, this.lineStart + 80));
    this.off = this.lineStart;
    this.lineStart = -1;
    throw new RangeError(`a bus line must not contain a line break: ${JSON.stringify(text)}`);
  }
}
