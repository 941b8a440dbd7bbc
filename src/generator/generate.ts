/**
 * Deterministic 6B traffic for the file bus (`ofp generate`): flow anchors on `fp.bus.context.flow_anchor.fraud.v1`
 * and their event-stream events on `fp.bus.traffic.fraud.v1`, for one or more runs, with optional out-of-order,
 * duplicate, anomalous and invalid records. The same options always give byte-identical partition files.
 */
import { type ContextPins } from '../core/pins';
import { RECORD_CLASSES, type RecordClass } from '../core/record';
import { formatTimestamp } from '../core/time';
import { FilePublisher } from '../bus/file-publisher';
import { LineBuffer } from '../bus/line-buffer';
import { type GenerateOptions, resolveOptions, type ResolvedOptions } from './options';
import { ProgressBar } from './progress';
import { type Emission, TrafficModel, lineOf, writeEmission } from './traffic';

export type { GenerateOptions } from './options';
export { ANCHOR_STREAM, TRAFFIC_STREAM, ANCHOR_EVENT_TYPE, TRAFFIC_EVENT_TYPE } from './events';

export interface GenerateSummary {
  /** Records written over both streams. */
  events: number;
  partitions: number;
  /** Records per stream and per partition. */
  streams: Record<string, { events: number; partitions: Record<number, number> }>;
  /** How many records the projector should classify as each class (SPEC 4.2); valid events count as `applied`. */
  classes: Record<RecordClass, number>;
  /** Valid events whose ts_utc was shifted earlier (included in `applied`). */
  outOfOrder: number;
  flows: number;
  fraudFlows: number;
  campaigns: number;
  /** The runs' pins (seed as decimal text). */
  runs: ContextPins[];
  /** Event-time range of the valid events; null when there are none. */
  eventTime: { from: string; to: string } | null;
  elapsedMs: number;
  eventsPerSecond: number;
}

/** One generated record with its line. */
export type GeneratedRecord = Omit<Emission, 'spec' | 'raw'> & { line: string };

/** In-memory output of `generateToLines`: the lines of every partition file, in file order. */
export interface GeneratedLines {
  files: Record<string, Record<number, string[]>>;
  /** Every record in generation order. */
  emissions: GeneratedRecord[];
  summary: GenerateSummary;
}

/** Generates traffic and appends it to the file bus under `busRoot` (through FilePublisher, in large batches). */
export async function generate(options: GenerateOptions, busRoot: string): Promise<GenerateSummary> {
  const o = resolveOptions(options);
  const model = new TrafficModel(o);
  const summary = emptySummary(o, model);
  const publisher = new FilePublisher(busRoot);
  const bar = new ProgressBar(o.count, { enabled: o.progress ?? Boolean(process.stderr.isTTY) });
  const started = Date.now();
  // Lines are encoded per partition as they are generated (short-lived strings, large off-heap buffers); each
  // batch goes out as one O_APPEND write per partition. One batch is written on the libuv pool while the next is
  // generated; awaiting the previous write before starting the next keeps every file in generation order.
  const buffers = new Map<string, LineBuffer[]>();
  let inBatch = 0;
  let inflight: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    await inflight;
    const writes: [string, number, Buffer[]][] = [];
    for (const [stream, parts] of buffers) {
      parts.forEach((b, p) => {
        b.recycle(); // the previous batch is on disk: its buffer can be filled again
        if (b.lines > 0) writes.push([stream, p, b.take()]);
      });
    }
    inBatch = 0;
    inflight = Promise.all(
      writes.map(([stream, p, chunks]) => publisher.appendEncoded(stream, p, chunks)),
    ).then(() => undefined);
    inflight.catch(() => undefined); // surfaced by the next await; avoids an unhandled-rejection warning meanwhile
  };
  // Room for about one batch per partition buffer; buffers grow on their own when the traffic is skewed.
  const initialBytes = Math.max(64 << 10, Math.min(8 << 20, Math.ceil((o.batchSize * 1100) / o.partitions)));
  for (let i = 0; i < o.count; i++) {
    const e = model.next();
    count(summary, e);
    let parts = buffers.get(e.stream);
    if (!parts) {
      parts = Array.from({ length: o.partitions }, () => new LineBuffer(initialBytes));
      buffers.set(e.stream, parts);
    }
    writeEmission(e, parts[e.partition]);
    if (++inBatch >= o.batchSize) {
      await flush();
      bar.update(i + 1);
    }
  }
  await flush();
  await inflight;
  bar.finish(o.count);
  return finishSummary(summary, model, started);
}

/** Generates traffic in memory (for tests and tools): the same records `generate` writes, per partition file. */
export function generateToLines(options: GenerateOptions): GeneratedLines {
  const o = resolveOptions(options);
  const model = new TrafficModel(o);
  const summary = emptySummary(o, model);
  const started = Date.now();
  const files: Record<string, Record<number, string[]>> = {};
  const emissions: GeneratedRecord[] = [];
  for (let i = 0; i < o.count; i++) {
    const e = model.next();
    count(summary, e);
    const line = lineOf(e);
    emissions.push({
      stream: e.stream,
      partition: e.partition,
      key: e.key,
      cls: e.cls,
      outOfOrder: e.outOfOrder,
      line,
    });
    const byPartition = (files[e.stream] ??= {});
    (byPartition[e.partition] ??= []).push(line);
  }
  return { files, emissions, summary: finishSummary(summary, model, started) };
}

function emptySummary(o: ResolvedOptions, model: TrafficModel): GenerateSummary {
  return {
    events: 0,
    partitions: o.partitions,
    streams: {},
    classes: Object.fromEntries(RECORD_CLASSES.map((c) => [c, 0])) as Record<RecordClass, number>,
    outOfOrder: 0,
    flows: 0,
    fraudFlows: 0,
    campaigns: 0,
    runs: model.runs.map((r) => ({ ...r.pins })),
    eventTime: null,
    elapsedMs: 0,
    eventsPerSecond: 0,
  };
}

function count(summary: GenerateSummary, e: Emission): void {
  summary.events++;
  summary.classes[e.cls]++;
  if (e.outOfOrder) summary.outOfOrder++;
  const s = (summary.streams[e.stream] ??= { events: 0, partitions: {} });
  s.events++;
  s.partitions[e.partition] = (s.partitions[e.partition] ?? 0) + 1;
}

function finishSummary(summary: GenerateSummary, model: TrafficModel, started: number): GenerateSummary {
  const { flows, fraudFlows, campaigns, minTs, maxTs } = model.stats;
  summary.flows = flows;
  summary.fraudFlows = fraudFlows;
  summary.campaigns = campaigns;
  summary.eventTime =
    minTs === null || maxTs === null ? null : { from: formatTimestamp(minTs), to: formatTimestamp(maxTs) };
  summary.elapsedMs = Date.now() - started;
  summary.eventsPerSecond =
    summary.elapsedMs > 0 ? Math.round((summary.events * 1000) / summary.elapsedMs) : 0;
  return summary;
}
