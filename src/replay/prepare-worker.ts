/**
 * Worker thread of a parallel replay: reads a range of one partition from the file bus and runs the stateless first
 * stage of classification (`prepareRecord`: parse, pins, envelope, relevance, payload, payload hash, contributions)
 * on it, sending back a compact encoding (see ./parallel). The stateful second stage stays on the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FileEventBus } from '../bus/file-bus';
import { envelopeSchema, payloadSchemas } from '../contracts';
import { RecordParser } from '../core/envelope';
import type { FeaturePolicy } from '../core/policy';
import {
  encodePrepared,
  type PrepareReply,
  type PrepareRequest,
  type PrepareWorkerData,
} from './parallel-codec';

const data = workerData as PrepareWorkerData;
const policy: FeaturePolicy = data.policy;
const parser = new RecordParser({ envelopeSchema, payloadSchemas });
const bus = new FileEventBus(data.busRoot);

async function handle(req: PrepareRequest): Promise<PrepareReply> {
  try {
    const read = await bus.read(req.stream, req.partition, req.from, req.count);
    return {
      id: req.id,
      ok: true,
      nextOffset: read.nextOffset,
      ...encodePrepared(read.records, policy, parser),
    };
  } catch (err) {
    const e = err as Error & { stream?: string; partition?: number; offset?: number };
    return {
      id: req.id,
      ok: false,
      error: { name: e.name, message: e.message, stream: e.stream, partition: e.partition, offset: e.offset },
    };
  }
}

parentPort?.on('message', (req: PrepareRequest | 'close') => {
  if (req === 'close') {
    void bus.close().then(() => parentPort?.close());
    return;
  }
  void handle(req).then((reply) => parentPort?.postMessage(reply));
});
