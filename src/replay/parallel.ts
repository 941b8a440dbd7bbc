/**
 * Parallel replay over the file bus: worker threads read and prepare (the stateless, expensive first stage of
 * classification) batches of every partition ahead, while the main thread classifies them strictly in replay order
 * (the stateful stage) and absorbs the decisions. The result is the same as the sequential replay's.
 */
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FeaturePolicy } from '../core/policy';
import type { ContextPins } from '../core/pins';
import {
  decodePrepared,
  type PrepareReply,
  type PrepareRequest,
  type PrepareWorkerData,
} from './parallel-codec';

/** One partition to replay up to `until`. */
export interface ReplayPart {
  stream: string;
  partition: number;
  until: number;
}

/** What a parallel replay drives: prepared batches in replay order. */
export interface PreparedSink {
  absorbPrepared(prepared: ReturnType<typeof decodePrepared>): void;
}

/** A sensible default worker count: one per core beyond the main thread, at least one, at most four. */
export function defaultReplayWorkers(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cores));
}

function workerScript(): { file: string; execArgv: string[] } {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `prepare-worker${ext}`);
  // Run from TypeScript sources (tsx, jest): the worker needs the TypeScript loader too.
  return ext === '.ts'
    ? { file, execArgv: ['--require', require.resolve('tsx/cjs')] }
    : { file, execArgv: [] };
}

export class ReplayWorkerError extends Error {
  override name = 'ReplayWorkerError';
}

/**
 * Reads and prepares every part in worker threads and feeds the sink in order.
 * @param toError turns a worker's error report into the error to throw (bus errors keep their meaning)
 */
export async function replayPartsInParallel(
  busRoot: string,
  policy: FeaturePolicy,
  parts: ReplayPart[],
  sink: PreparedSink,
  options: {
    workers: number;
    batchSize: number;
    onProgress?: (records: number) => void;
    toError: (e: Extract<PrepareReply, { ok: false }>['error']) => Error;
  },
): Promise<void> {
  const tasks: PrepareRequest[] = [];
  for (const p of parts) {
    for (let from = 0; from < p.until; from += options.batchSize) {
      tasks.push({
        id: tasks.length,
        stream: p.stream,
        partition: p.partition,
        from,
        count: Math.min(options.batchSize, p.until - from),
      });
    }
  }
  if (tasks.length === 0) return;
  const { file, execArgv } = workerScript();
  const data: PrepareWorkerData = { busRoot, policy };
  const n = Math.max(1, Math.min(options.workers, tasks.length));
  const workers = Array.from({ length: n }, () => new Worker(file, { workerData: data, execArgv }));
  const pins = new Map<string, ContextPins>();
  const replies = new Map<number, PrepareReply>();
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  for (const w of workers) {
    w.on('message', (reply: PrepareReply) => {
      replies.set(reply.id, reply);
      wake?.();
    });
    w.on('error', (err) => {
      failure ??= new ReplayWorkerError(`replay worker failed: ${err.message}`);
      wake?.();
    });
    w.on('exit', (code) => {
      if (code !== 0) failure ??= new ReplayWorkerError(`replay worker exited with code ${code}`);
      wake?.();
    });
  }
  const ahead = n * 3;
  let sent = 0;
  let next = 0;
  let total = 0;
  const send = () => {
    while (sent < tasks.length && sent < next + ahead) {
      workers[sent % n].postMessage(tasks[sent]);
      sent++;
    }
  };
  try {
    send();
    while (next < tasks.length) {
      let reply = replies.get(next);
      while (reply === undefined) {
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        reply = replies.get(next);
      }
      replies.delete(next);
      if (!reply.ok) throw options.toError(reply.error);
      const task = tasks[next];
      if (reply.kinds.length !== task.count) {
        throw options.toError({
          name: 'BusHistoryRewrittenError',
          message: `${task.stream}/${task.partition}: ${reply.kinds.length} records at offset ${task.from}, expected ${task.count}`,
          stream: task.stream,
          partition: task.partition,
          offset: task.from,
        });
      }
      next++;
      send();
      sink.absorbPrepared(decodePrepared(reply, task.stream, task.partition, task.from, policy, pins));
      total += task.count;
      options.onProgress?.(total);
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
