/**
 * A small progress bar for long-running CLI work: percentage, rate and ETA on one line of stderr, redrawn at most
 * every `minIntervalMs` (redrawing per event would cost more than the work).
 */

export interface ProgressBarOptions {
  /** Where to draw. Default process.stderr. */
  out?: NodeJS.WriteStream;
  /** Draw at all. Default: only when `out` is a TTY. */
  enabled?: boolean;
  /** Text before the bar. Default 'generate'. */
  label?: string;
  /** Unit shown with the rate. Default 'events'. */
  unit?: string;
  /** Minimum time between redraws. Default 100 ms. */
  minIntervalMs?: number;
}

const WIDTH = 24;

export class ProgressBar {
  private readonly out: NodeJS.WriteStream;
  private readonly enabled: boolean;
  private readonly label: string;
  private readonly unit: string;
  private readonly minIntervalMs: number;
  private readonly startedAt = Date.now();
  private lastDraw = 0;
  private lastLength = 0;

  constructor(
    private readonly total: number,
    options: ProgressBarOptions = {},
  ) {
    this.out = options.out ?? process.stderr;
    this.enabled = options.enabled ?? Boolean(this.out.isTTY);
    this.label = options.label ?? 'generate';
    this.unit = options.unit ?? 'events';
    this.minIntervalMs = options.minIntervalMs ?? 100;
  }

  /** Reports `done` units finished; redraws when enough time has passed. */
  update(done: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < this.minIntervalMs) return;
    this.lastDraw = now;
    this.draw(done, now);
  }

  /** Draws the final state and ends the line. */
  finish(done: number): void {
    if (!this.enabled) return;
    this.draw(done, Date.now());
    this.out.write('\n');
  }

  /** The bar text for a state (exported for tests through the class). */
  render(done: number, elapsedMs: number): string {
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const filled = Math.round(fraction * WIDTH);
    const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
    const eta = rate > 0 ? (this.total - done) / rate : NaN;
    return (
      `${this.label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}% ` +
      `${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} ` +
      `${Math.round(rate).toLocaleString('en-US')} ${this.unit}/s ETA ${formatEta(eta)}`
    );
  }

  private draw(done: number, now: number): void {
    const text = this.render(done, now - this.startedAt);
    // Pad over the previous line's leftovers instead of relying on terminal escape codes.
    this.out.write(`\r${text}${' '.repeat(Math.max(0, this.lastLength - text.length))}`);
    this.lastLength = text.length;
  }
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
