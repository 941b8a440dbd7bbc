/**
 * Reading complete lines out of one partition file with large buffered reads.
 *
 * A line is complete once its `\n` is on disk; a trailing `\r` is stripped; a blank line is a record (raw '').
 * Bytes after the last `\n` are an incomplete line and are never returned: a publisher's single append may still be
 * in flight. Positions learned while scanning go into the file's LineIndex so later reads start close to their
 * offset.
 */
import type { FileHandle } from 'node:fs/promises';
import { BusHistoryRewrittenError } from './errors';
import type { LineIndex } from './line-index';

const LF = 0x0a;
const CR = 13;

export interface ScanContext {
  stream: string;
  partition: number;
  index: LineIndex;
  /** Supplies a read buffer; `grow` replaces it with a larger one (a line longer than the buffer). */
  buffers: BufferSource;
}

export interface BufferSource {
  take(): Buffer;
  give(buf: Buffer): void;
}

export interface ScanResult {
  lines: string[];
  nextOffset: number;
  endOffset: number;
}

/**
 * Returns up to `max` complete lines starting at line `from`, plus the exclusive end of complete lines in the file.
 * Throws BusHistoryRewrittenError when the file contradicts what the index already knows.
 */
export async function scanPartition(
  fh: FileHandle,
  size: number,
  ctx: ScanContext,
  from: number,
  max: number,
): Promise<ScanResult> {
  const { index } = ctx;
  const known = index.known;
  if (size < known.pos) {
    throw new BusHistoryRewrittenError(
      ctx.stream,
      ctx.partition,
      known.line,
      `file has ${size} bytes but ${known.line} complete lines were known to end at byte ${known.pos}`,
    );
  }
  const walker = new Walker(fh, size, ctx);
  try {
    const lines: string[] = [];
    // Phase 1: collect the requested lines.
    const start = index.locate(from);
    let at = max > 0 ? await walker.walk(start, from, max, lines) : start;
    if (lines.length > 0) index.setCursor(at.line, at.pos);
    // Phase 2: count complete lines to the end of the file, starting from whatever is furthest known.
    const frontier = index.known;
    if (frontier.line > at.line) at = frontier;
    const end = await walker.walk(at, Number.MAX_SAFE_INTEGER, 0, lines);
    return { lines, nextOffset: from + lines.length, endOffset: end.line };
  } finally {
    walker.release();
  }
}

/** One pass over the file from a known line start; owns a read buffer for the duration of a scan. */
class Walker {
  private buf: Buffer;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly ctx: ScanContext,
  ) {
    this.buf = ctx.buffers.take();
  }

  release(): void {
    this.ctx.buffers.give(this.buf);
  }

  /**
   * Walks complete lines from `start`; lines with index >= `collectFrom` are appended to `out` until `out` holds
   * `collectMax` more lines (then the walk stops right after the last collected line), otherwise walks to the end of
   * the complete lines. Returns the position reached.
   */
  async walk(start: { line: number; pos: number }, collectFrom: number, collectMax: number, out: string[]) {
    const { index } = this.ctx;
    const size = this.size;
    const target = out.length + collectMax;
    let line = start.line;
    let pos = start.pos;
    let nextCheckpoint = index.nextCheckpointLine;
    // A known line start must follow a '\n': reading one byte early verifies it for free.
    let verifyBoundary = pos > 0;
    while (pos < size) {
      const readAt = verifyBoundary ? pos - 1 : pos;
      const want = Math.min(this.buf.length, size - readAt);
      const { bytesRead } = await this.fh.read(this.buf, 0, want, readAt);
      if (bytesRead === 0) break; // shrank after fstat: the next read reports it
      const chunk = this.buf.subarray(0, bytesRead);
      let i = 0;
      if (verifyBoundary) {
        if (chunk[0] !== LF) {
          throw new BusHistoryRewrittenError(
            this.ctx.stream,
            this.ctx.partition,
            line,
            `byte ${pos - 1} is no longer the end of line ${line - 1}`,
          );
        }
        i = 1;
        verifyBoundary = false;
      }
      const base = readAt;
      let regionStart = -1;
      let regionEnd = -1;
      let regionCount = 0;
      let completed = 0;
      let stop = false;
      for (;;) {
        const nl = chunk.indexOf(LF, i);
        if (nl === -1) break;
        if (line >= collectFrom) {
          if (regionStart < 0) regionStart = i;
          regionEnd = nl;
          regionCount++;
        }
        line++;
        completed++;
        i = nl + 1;
        pos = base + i;
        if (line === nextCheckpoint) {
          index.addCheckpoint(line, pos);
          nextCheckpoint = index.nextCheckpointLine;
        }
        if (regionCount > 0 && out.length + regionCount >= target) {
          stop = true;
          break;
        }
      }
      if (regionCount > 0) pushLines(out, chunk, regionStart, regionEnd);
      index.advanceFrontier(line, pos);
      if (stop) break;
      // The rest of the chunk is a partial line: at the end of the file it is the incomplete last line; a short read
      // means the file shrank after fstat (the next read reports it); otherwise re-read it from its start, with a
      // bigger buffer when not even one line fitted.
      if (readAt + bytesRead >= size || bytesRead < want) break;
      if (completed === 0) this.grow();
    }
    return { line, pos };
  }

  private grow(): void {
    const bigger = Buffer.allocUnsafe(this.buf.length * 2);
    this.ctx.buffers.give(this.buf);
    this.buf = bigger;
  }
}

/** Decodes a run of complete lines [start, end) (end = the last line's '\n') at once and splits it. */
function pushLines(out: string[], chunk: Buffer, start: number, end: number): void {
  // One decode per chunk instead of one per line; a multi-byte UTF-8 sequence never contains the byte 0x0a, so
  // splitting the decoded text on '\n' gives exactly the byte-level lines.
  const parts = chunk.toString('utf8', start, end).split('\n');
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k];
    out.push(p.length > 0 && p.charCodeAt(p.length - 1) === CR ? p.slice(0, -1) : p);
  }
}
