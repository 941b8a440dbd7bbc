/**
 * The file bus publisher (SPEC 1.3): routes records by `partitionFor(key, partitions)` and appends them to
 * `<root>/<stream>/partition=<n>.jsonl`.
 *
 * Atomicity: each publish call writes the lines of one partition as ONE write() on a file opened with O_APPEND.
 * On a local filesystem the kernel places an O_APPEND write at the end of the file as a unit, so concurrent
 * publishers (threads or processes on one machine) never interleave inside a line; and since every line is written
 * together with its '\n', a reader that sees part of a write in progress sees at most an incomplete last line,
 * which the reader does not return. Batches above `maxWriteBytes` are split into several writes at line boundaries.
 * Calls must be awaited one after the other for their records to keep their order within a partition.
 */
import { StringDecoder } from 'node:string_decoder';
import fsp from 'node:fs/promises';
import type { BusPublisher, PublishOptions, PublishRecord } from './event-bus';
import { partitionFilePath, streamDir } from './file-layout';
import { LineBuffer, DEFAULT_MAX_CHUNK_BYTES } from './line-buffer';
import { partitionFor } from './partitioner';
import { DEFAULT_PARTITION_KEY, readPartitionKey } from './partition-key';
import { logger as defaultLogger, type Logger } from '../logger';

export interface FilePublisherOptions {
  /** Largest single write in bytes; a larger batch for one partition is split at line boundaries. Default 64 MiB. */
  maxWriteBytes?: number;
}

export class FilePublisher implements BusPublisher {
  private readonly madeDirs = new Set<string>();
  private readonly maxWriteBytes: number;

  /** @param root the bus root; directories are created as needed. */
  constructor(
    readonly root: string,
    options: FilePublisherOptions = {},
  ) {
    this.maxWriteBytes = options.maxWriteBytes ?? DEFAULT_MAX_CHUNK_BYTES;
  }

  /**
   * Appends `records` to `stream`, each to `record.partition` when given, else to `partitionFor(record.key,
   * options.partitions)`. A line must not contain '\n' nor end in '\r' (it would not read back as itself).
   * Returns the number of records written per partition.
   */
  async publish(
    stream: string,
    records: PublishRecord[],
    options: PublishOptions,
  ): Promise<Map<number, number>> {
    const { partitions } = options;
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
    }
    const groups = new Map<number, LineBuffer>();
    // Encode everything before writing: a bad line then fails the call before any partition was written.
    for (const r of records) {
      let p = r.partition;
      if (p === undefined) p = partitionFor(r.key, partitions);
      else if (!Number.isInteger(p) || p < 0 || p >= partitions) {
        throw new RangeError(`partition ${p} out of range 0..${partitions - 1}`);
      }
      let g = groups.get(p);
      if (!g) groups.set(p, (g = new LineBuffer(64 << 10, this.maxWriteBytes)));
      g.add(r.line);
    }
    const counts = new Map<number, number>();
    const ordered = [...groups].sort((a, b) => a[0] - b[0]);
    for (const [p, g] of ordered) counts.set(p, g.lines);
    await Promise.all(ordered.map(([p, g]) => this.appendEncoded(stream, p, g.take())));
    return counts;
  }

  /**
   * Appends already-encoded lines to one partition: each chunk must be whole UTF-8 lines ending in '\n' (as
   * LineBuffer.take() returns them) and goes out as one O_APPEND write. For producers that encode as they go.
   */
  async appendEncoded(stream: string, partition: number, chunks: Buffer[]): Promise<void> {
    const nonEmpty = chunks.filter((c) => c.length > 0);
    if (nonEmpty.length === 0) return;
    for (const c of nonEmpty) {
      if (c[c.length - 1] !== 10) throw new RangeError('an encoded chunk must end with a line break');
    }
    await this.ensureDir(stream);
    await this.append(partitionFilePath(this.root, stream, partition), nonEmpty);
  }

  private async ensureDir(stream: string): Promise<void> {
    const dir = streamDir(this.root, stream);
    if (this.madeDirs.has(dir)) return;
    await fsp.mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  private async append(file: string, chunks: Buffer[]): Promise<void> {
    const fh = await fsp.open(file, 'a'); // O_WRONLY | O_CREAT | O_APPEND
    try {
      for (const chunk of chunks) {
        let off = 0;
        // A short write only happens when the disk is full or a limit is hit; finishing it keeps the line intact
        // for this publisher, but atomicity against concurrent publishers is then lost, so it is logged.
        while (off < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, null);
          if (off === 0 && bytesWritten < chunk.length) {
            defaultLogger.warn({ file, bytesWritten, size: chunk.length }, 'short append to file bus');
          }
          if (bytesWritten <= 0) throw new Error(`append to ${file} wrote nothing`);
          off += bytesWritten;
        }
      }
    } finally {
      await fh.close();
    }
  }
}

export interface PublishJsonLinesOptions {
  /** Bus root to publish to through a FilePublisher; ignored when `publisher` is given. */
  busRoot?: string;
  /** Publisher to use instead of a FilePublisher over `busRoot`. */
  publisher?: BusPublisher;
  /** Number of partitions of the stream. */
  partitions: number;
  /** Dotted path of the partition key inside the event. Default `payload.flow_id`. */
  partitionKey?: string;
  /** Lines per publish call. Default 10,000. */
  batchLines?: number;
  /** Where to report lines whose key could not be read. Default the process logger. */
  logger?: Logger;
}

export interface PublishJsonLinesSummary {
  stream: string;
  /** Lines published (every input line; none is dropped). */
  records: number;
  /** Records per partition. */
  partitions: Record<number, number>;
  /** Lines whose partition key could not be read; they went to partition 0. */
  unkeyed: number;
  /** 1-based input line numbers of the first (up to 100) unkeyed lines. */
  unkeyedLines: number[];
}

/**
 * Publishes JSONL from `input` (one event per line, bare or framed per SPEC 1.3) to `stream`, in input order.
 * Each line is published exactly as read (without its line ending); a blank line is published too (it is a record
 * on the bus). A line whose key cannot be read goes to partition 0 and is counted and reported, never dropped.
 * A final line without line ending counts as a line. Throws on a line that cannot be stored as itself (one ending in
 * a second '\r'); batches published before it stay published.
 */
export async function publishJsonLines(
  input: NodeJS.ReadableStream,
  stream: string,
  options: PublishJsonLinesOptions,
): Promise<PublishJsonLinesSummary> {
  if (!options.publisher && options.busRoot === undefined) {
    throw new RangeError('publishJsonLines needs busRoot or publisher');
  }
  const publisher = options.publisher ?? new FilePublisher(options.busRoot as string);
  const log = options.logger ?? defaultLogger;
  const keyPath = options.partitionKey ?? DEFAULT_PARTITION_KEY;
  const batchLines = options.batchLines ?? 10_000;
  const publishOptions: PublishOptions = { partitions: options.partitions, partitionKey: keyPath };
  const summary: PublishJsonLinesSummary = {
    stream,
    records: 0,
    partitions: {},
    unkeyed: 0,
    unkeyedLines: [],
  };

  let batch: PublishRecord[] = [];
  let lineNo = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const counts = await publisher.publish(stream, batch, publishOptions);
    for (const [p, n] of counts) summary.partitions[p] = (summary.partitions[p] ?? 0) + n;
    summary.records += batch.length;
    batch = [];
  };
  const add = (raw: string): void => {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.endsWith('\r')) {
      // A reader strips one '\r' per line, so this line could not be read back as itself; refuse rather than alter.
      throw new RangeError(`input line ${lineNo} ends with more than one carriage return`);
    }
    const key = readPartitionKey(line, keyPath);
    if (key === null) {
      summary.unkeyed++;
      if (summary.unkeyedLines.length < 100) summary.unkeyedLines.push(lineNo);
      batch.push({ line, key: '', partition: 0 });
    } else {
      batch.push({ line, key });
    }
  };

  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer));
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) add(p);
    if (batch.length >= batchLines) await flush();
  }
  rest += decoder.end();
  if (rest.length > 0) add(rest);
  await flush();

  if (summary.unkeyed > 0) {
    log.warn(
      { stream, unkeyed: summary.unkeyed, firstLines: summary.unkeyedLines.slice(0, 10), keyPath },
      'lines without a readable partition key were published to partition 0',
    );
  }
  return summary;
}
