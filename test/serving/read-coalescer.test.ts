import fc from 'fast-check';
import { ReadCoalescer, type ReadOutcome } from '../../src/serving/read-coalescer';

/** A batch runner whose batches finish when the test says so; it records every batch it was given. */
function controlledRunner<T>() {
  const batches: T[][] = [];
  const pending: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const runBatch = (items: T[]): Promise<ReadOutcome<string>[]> => {
    batches.push(items);
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise((resolve) =>
      pending.push(() => {
        running--;
        resolve(items.map((i) => ({ ok: true, value: `answer ${String(i)}` })));
      }),
    );
  };
  return {
    runBatch,
    batches,
    /** Finishes the oldest running batch and lets the coalescer start the next. */
    async finishOne() {
      pending.shift()!();
      await new Promise((r) => setImmediate(r));
    },
    get running() {
      return running;
    },
    get maxRunning() {
      return maxRunning;
    },
  };
}

describe('ReadCoalescer', () => {
  it('starts a read at once while a slot is free: an idle gateway never waits to batch', async () => {
    const r = controlledRunner<number>();
    const c = new ReadCoalescer({
      runBatch: r.runBatch,
      maxConcurrent: 2,
      maxBatchWeight: 100,
      weight: () => 1,
    });
    const a = c.submit(1);
    const b = c.submit(2);
    expect(r.batches).toEqual([[1], [2]]);
    expect(c.queued).toBe(0);
    await r.finishOne();
    await r.finishOne();
    await expect(Promise.all([a, b])).resolves.toEqual(['answer 1', 'answer 2']);
  });

  it('gathers the reads that arrive while every slot is busy into the next batch, in arrival order', async () => {
    const r = controlledRunner<number>();
    const sizes: number[] = [];
    const c = new ReadCoalescer({
      runBatch: r.runBatch,
      maxConcurrent: 1,
      maxBatchWeight: 100,
      weight: () => 1,
      onBatch: (n) => sizes.push(n),
    });
    const answers = [1, 2, 3, 4].map((i) => c.submit(i));
    expect(r.batches).toEqual([[1]]);
    expect(c.queued).toBe(3);
    await r.finishOne();
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
    await r.finishOne();
    await expect(Promise.all(answers)).resolves.toEqual(['answer 1', 'answer 2', 'answer 3', 'answer 4']);
    expect(sizes).toEqual([1, 3]);
  });

  it('bounds the weight of a batch, yet runs a single read heavier than the bound alone', async () => {
    const r = controlledRunner<number>();
    const c = new ReadCoalescer({
      runBatch: r.runBatch,
      maxConcurrent: 1,
      maxBatchWeight: 10,
      weight: (n: number) => n,
    });
    const answers = [1, 4, 5, 3, 50, 2].map((i) => c.submit(i));
    while (r.running > 0) await r.finishOne();
    await Promise.all(answers);
    expect(r.batches).toEqual([[1], [4, 5], [3], [50], [2]]);
  });

  it('gives each read its own outcome: one read failing leaves the others of its batch answered', async () => {
    const c = new ReadCoalescer<number, string>({
      runBatch: (items) =>
        Promise.resolve(
          items.map((i): ReadOutcome<string> =>
            i === 2 ? { ok: false, error: new Error('no such run') } : { ok: true, value: `answer ${i}` },
          ),
        ),
      maxConcurrent: 1,
      maxBatchWeight: 100,
      weight: () => 1,
    });
    const results = await Promise.allSettled([1, 2, 3].map((i) => c.submit(i)));
    expect(results.map((x) => (x.status === 'fulfilled' ? x.value : (x.reason as Error).message))).toEqual([
      'answer 1',
      'no such run',
      'answer 3',
    ]);
  });

  it('fails every read of a batch whose statement failed, and goes on with the next batch', async () => {
    let calls = 0;
    const c = new ReadCoalescer<number, string>({
      runBatch: async (items) => {
        calls++;
        await new Promise((r) => setImmediate(r));
        if (calls === 2) throw new Error('database unreachable');
        return items.map((i) => ({ ok: true, value: `answer ${i}` }));
      },
      maxConcurrent: 1,
      maxBatchWeight: 100,
      weight: () => 1,
    });
    const first = [1, 2, 3].map((i) => c.submit(i)); // batches [1] and [2, 3]
    const results = await Promise.allSettled(first);
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    await expect(c.submit(4)).resolves.toBe('answer 4');
  });

  it('rejects reads rather than hanging when the runner answers fewer outcomes than reads', async () => {
    const c = new ReadCoalescer<number, string>({
      runBatch: () => Promise.resolve([]),
      maxConcurrent: 1,
      maxBatchWeight: 100,
      weight: () => 1,
    });
    await expect(c.submit(1)).rejects.toThrow(/0 outcomes for 1 reads/);
  });

  it('whatever the arrivals and completions: every read answered exactly once with its own answer, never more batches running than allowed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(
          fc.oneof(fc.record({ submit: fc.integer({ min: 1, max: 6 }) }), fc.constant('finish' as const)),
          {
            maxLength: 60,
          },
        ),
        async (maxConcurrent, maxBatchWeight, steps) => {
          const r = controlledRunner<number>();
          const c = new ReadCoalescer({
            runBatch: r.runBatch,
            maxConcurrent,
            maxBatchWeight,
            weight: (id: number) => id % 10,
          });
          const answers: Promise<string>[] = [];
          const submitted: number[] = [];
          let next = 0;
          for (const step of steps) {
            if (step === 'finish') {
              if (r.running > 0) await r.finishOne();
            } else {
              // Weights 1..6; the item's identity is its arrival number, its weight step.submit.
              const id = next++ * 10 + step.submit;
              submitted.push(id);
              answers.push(c.submit(id));
            }
          }
          while (r.running > 0) await r.finishOne();
          expect(c.queued).toBe(0);
          await expect(Promise.all(answers)).resolves.toEqual(submitted.map((id) => `answer ${id}`));
          expect(r.batches.flat()).toEqual(submitted); // each read in exactly one batch, in arrival order
          expect(r.maxRunning).toBeLessThanOrEqual(maxConcurrent);
          for (const b of r.batches) {
            const weight = b.reduce((sum, id) => sum + (id % 10), 0);
            if (b.length > 1) expect(weight).toBeLessThanOrEqual(maxBatchWeight);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
