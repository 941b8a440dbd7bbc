/**
 * Coalesces concurrent reads into shared batches. At most `maxConcurrent` batches run at once; a read that arrives
 * while they all run waits, and the next batch to start takes every waiting read (up to `maxBatchWeight`). A read
 * that finds a free slot starts at once, so coalescing costs an idle gateway nothing, and under load a fixed cost
 * per statement (round trip, executor start-up, protocol) is paid once per batch instead of once per read.
 * Pure logic: what a batch does is the `runBatch` callback.
 */

/** What one read of a batch came to: its value, or the error that read alone must get. */
export type ReadOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface ReadCoalescerOptions<T, R> {
  /** Runs one batch; returns one outcome per item, in order. A throw fails every item of the batch. */
  runBatch: (items: T[]) => Promise<ReadOutcome<R>[]>;
  /** Batches running at once. */
  maxConcurrent: number;
  /** Upper bound on the summed weight of one batch; a single item heavier than it still runs, alone. */
  maxBatchWeight: number;
  /** Weight of one item (for example the series it reads). */
  weight: (item: T) => number;
  /** Told the size of every batch that starts (metrics). */
  onBatch?: (size: number) => void;
}

interface Waiting<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

export class ReadCoalescer<T, R> {
  private readonly waiting: Waiting<T, R>[] = [];
  private running = 0;

  constructor(private readonly options: ReadCoalescerOptions<T, R>) {
    if (!(options.maxConcurrent >= 1)) throw new RangeError('maxConcurrent must be at least 1');
  }

  /** Reads waiting for a batch slot. */
  get queued(): number {
    return this.waiting.length;
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.startBatches();
    });
  }

  private startBatches(): void {
    while (this.running < this.options.maxConcurrent && this.waiting.length > 0) {
      const batch = this.takeBatch();
      this.running++;
      void this.run(batch);
    }
  }

  private takeBatch(): Waiting<T, R>[] {
    let weight = this.options.weight(this.waiting[0].item);
    let n = 1;
    while (n < this.waiting.length) {
      const next = this.options.weight(this.waiting[n].item);
      if (weight + next > this.options.maxBatchWeight) break;
      weight += next;
      n++;
    }
    return this.waiting.splice(0, n);
  }

  private async run(batch: Waiting<T, R>[]): Promise<void> {
    try {
      this.options.onBatch?.(batch.length);
      const outcomes = await this.options.runBatch(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        const o = outcomes[i];
        if (o === undefined)
          w.reject(new Error(`read batch returned ${outcomes.length} outcomes for ${batch.length} reads`));
        else if (o.ok) w.resolve(o.value);
        else w.reject(o.error);
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.running--;
      this.startBatches();
    }
  }
}
