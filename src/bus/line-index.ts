/**
 * Per-file index of known line-start byte positions, so that finding offset N in a partition file costs
 * O(interval) lines instead of O(N):
 * - sparse checkpoints: the byte position of every `interval`-th line start (line 0, interval, 2*interval, ...);
 * - the frontier: how many complete lines are known and the byte position right after them;
 * - the cursor: where the last read stopped, so a consumer reading sequentially resumes in O(1).
 *
 * Every update is monotonic (positions only ever get added, the frontier only grows), so concurrent scans of one
 * file in the same process may interleave freely.
 */

export interface LinePosition {
  /** 0-based line index. */
  line: number;
  /** Byte position of that line's first byte. */
  pos: number;
}

/** Default number of lines between two checkpoints. */
export const DEFAULT_INDEX_INTERVAL = 1024;

export class LineIndex {
  /** checkpoints[k] = byte position of line k * interval. */
  private readonly checkpoints: number[] = [0];
  private frontier: LinePosition = { line: 0, pos: 0 };
  private cursor: LinePosition = { line: 0, pos: 0 };

  constructor(readonly interval: number = DEFAULT_INDEX_INTERVAL) {
    if (!Number.isInteger(interval) || interval < 1)
      throw new RangeError(`index interval must be >= 1, got ${interval}`);
  }

  /** Complete lines known so far and the byte position right after them. */
  get known(): LinePosition {
    return this.frontier;
  }

  /** The line after the last checkpoint; a scan passing it should call `addCheckpoint`. */
  get nextCheckpointLine(): number {
    return this.checkpoints.length * this.interval;
  }

  /** Records the start position of line `line` when it is the next checkpoint (ignored otherwise). */
  addCheckpoint(line: number, pos: number): void {
    if (line === this.nextCheckpointLine) this.checkpoints.push(pos);
  }

  /** Notes that lines 0..line-1 are complete and line `line` starts at `pos`. */
  advanceFrontier(line: number, pos: number): void {
    if (line > this.frontier.line) this.frontier = { line, pos };
  }

  /** Notes where a read stopped. */
  setCursor(line: number, pos: number): void {
    this.cursor = { line, pos };
  }

  /** The closest known line start at or before `line` (never beyond the frontier). */
  locate(line: number): LinePosition {
    const k = Math.min(Math.floor(line / this.interval), this.checkpoints.length - 1);
    let best: LinePosition = { line: k * this.interval, pos: this.checkpoints[k] };
    if (this.cursor.line <= line && this.cursor.line > best.line) best = this.cursor;
    if (this.frontier.line <= line && this.frontier.line > best.line) best = this.frontier;
    return best;
  }
}
