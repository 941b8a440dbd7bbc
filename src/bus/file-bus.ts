/**
 * The file bus reader (SPEC 1.3): `<root>/<stream>/partition=<n>.jsonl`, offset = 0-based line index, exclusive-next
 * offsets. Lines may end in `\n` or `\r\n`; a blank line is a record (raw ''); a final line without its line ending
 * is incomplete and is not returned until the ending arrives.
 *
 * Reads are O(batch): each file keeps a LineIndex (sparse checkpoints every `indexInterval` lines, the last read
 * position, the known end), and lines are read with large buffered reads. A file that got shorter than a known
 * position, or whose known line boundaries moved, raises BusHistoryRewrittenError rather than returning different
 * data under offsets that were already handed out.
 */
import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import type { BusRecord } from '../core/record';
import type { EventBus, OffsetKind, ReadOptions, ReadResult } from './event-bus';
import { BusClosedError, BusHistoryRewrittenError } from './errors';
import {
  assertPartition,
  parsePartitionFileName,
  partitionFileName,
  partitionFilePath,
  streamDir,
} from './file-layout';
import { DEFAULT_INDEX_INTERVAL, LineIndex } from './line-index';
import { type BufferSource, scanPartition } from './partition-scan';
import { ChangeWaiter, DirWatchHub } from './watch-hub';

export { BusHistoryRewrittenError } from './errors';

export interface FileEventBusOptions {
  /** Lines between two sparse index checkpoints. Default 1024. */
  indexInterval?: number;
  /** Size of each buffered read in bytes; grows on its own for longer lines. Default 1 MiB. */
  readBufferBytes?: number;
  /** While waiting, re-check the file at least this often in case a watch event was missed. Default 250 ms. */
  pollIntervalMs?: number;
}

/** Keeps a few read buffers so that back-to-back reads do not allocate megabytes each time. */
class BufferPool implements BufferSource {
  private readonly free: Buffer[] = [];
  constructor(private readonly size: number) {}
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }
  give(buf: Buffer): void {
    if (buf.length === this.size && this.free.length < 8) this.free.push(buf);
  }
}

export class FileEventBus implements EventBus {
  readonly offsetKind: OffsetKind = 'file_line';
  private readonly indexes = new Map<string, LineIndex>();
  private readonly hub = new DirWatchHub();
  private readonly waiters = new Set<ChangeWaiter>();
  private readonly buffers: BufferPool;
  private readonly indexInterval: number;
  private readonly pollIntervalMs: number;
  private closed = false;

  /**
   * @param root the bus root directory (it need not exist yet).
   */
  constructor(
    readonly root: string,
    options: FileEventBusOptions = {},
  ) {
    this.indexInterval = options.indexInterval ?? DEFAULT_INDEX_INTERVAL;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    const bufferBytes = options.readBufferBytes ?? 1 << 20;
    if (!Number.isInteger(bufferBytes) || bufferBytes < 16)
      throw new RangeError('readBufferBytes must be >= 16');
    this.buffers = new BufferPool(bufferBytes);
  }

  get location(): string {
    return this.root;
  }

  /** Stream directories under the root, sorted. Empty when the root does not exist. */
  async listStreams(): Promise<string[]> {
    this.assertOpen();
    const entries = await readdirOrEmpty(this.root);
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  }

  /** Partition numbers that have a file, ascending. Empty when the stream does not exist. */
  async listPartitions(stream: string): Promise<number[]> {
    this.assertOpen();
    const entries = await readdirOrEmpty(streamDir(this.root, stream));
    const out: number[] = [];
    for (const e of entries) {
      if (!e.isFile()) continue;
      const n = parsePartitionFileName(e.name);
      if (n !== null) out.push(n);
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * Reads up to `maxRecords` complete records from `fromOffset`. With `waitMs` > 0 and nothing to return, waits for
   * records to arrive (returning as soon as they do) until `waitMs` passes or `signal` aborts; then returns the empty
   * result (an abort is not an error). Throws BusHistoryRewrittenError when the file contradicts earlier reads.
   */
  async read(
    stream: string,
    partition: number,
    fromOffset: number,
    maxRecords: number,
    options: ReadOptions = {},
  ): Promise<ReadResult> {
    this.assertOpen();
    assertPartition(partition);
    if (!Number.isSafeInteger(fromOffset) || fromOffset < 0)
      throw new RangeError(`invalid offset ${fromOffset}`);
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 0)
      throw new RangeError(`invalid maxRecords ${maxRecords}`);
    const waitMs = options.waitMs ?? 0;
    const { signal } = options;

    let result = await this.readOnce(stream, partition, fromOffset, maxRecords);
    if (result.records.length > 0 || maxRecords === 0 || !(waitMs > 0) || signal?.aborted) return result;

    const deadline = Date.now() + waitMs;
    const waiter = new ChangeWaiter(this.hub, this.root, stream, partitionFileName(partition));
    this.waiters.add(waiter);
    try {
      for (;;) {
        // Subscribe before re-checking, so that an append between the check and the wait is not lost.
        waiter.refresh();
        result = await this.readOnce(stream, partition, fromOffset, maxRecords);
        const remaining = deadline - Date.now();
        if (result.records.length > 0 || this.closed || remaining <= 0 || signal?.aborted) return result;
        await waiter.next(Math.min(remaining, this.pollIntervalMs), signal);
      }
    } finally {
      waiter.dispose();
      this.waiters.delete(waiter);
    }
  }

  /** Exclusive end offset of complete records (0 when the partition file does not exist). */
  async endOffset(stream: string, partition: number): Promise<number> {
    this.assertOpen();
    assertPartition(partition);
    return (await this.readOnce(stream, partition, 0, 0)).endOffset;
  }

  /**
   * Forgets what is known about a partition file (for an operator who has deliberately replaced it); the next read
   * indexes it afresh instead of raising BusHistoryRewrittenError.
   */
  forgetPartition(stream: string, partition: number): void {
    this.indexes.delete(`${stream}\0${partition}`);
  }

  /** Ends pending waits (they return their empty result) and releases watchers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.waiters]) w.dispose();
    this.waiters.clear();
    this.hub.closeAll();
  }

  private assertOpen(): void {
    if (this.closed) throw new BusClosedError('file bus is closed');
  }

  private indexFor(stream: string, partition: number): LineIndex {
    const key = `${stream}\0${partition}`;
    let index = this.indexes.get(key);
    if (!index) {
      index = new LineIndex(this.indexInterval);
      this.indexes.set(key, index);
    }
    return index;
  }

  private async readOnce(stream: string, partition: number, from: number, max: number): Promise<ReadResult> {
    const file = partitionFilePath(this.root, stream, partition);
    const index = this.indexFor(stream, partition);
    let fh: FileHandle;
    try {
      // Opened per read rather than kept: a replaced file is then seen (and checked) instead of a stale inode.
      fh = await fsp.open(file, fs.constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (index.known.line > 0) {
        throw new BusHistoryRewrittenError(stream, partition, 0, `file ${file} disappeared`);
      }
      return { records: [], nextOffset: from, endOffset: 0 };
    }
    try {
      const { size } = await fh.stat();
      const scan = await scanPartition(
        fh,
        size,
        { stream, partition, index, buffers: this.buffers },
        from,
        max,
      );
      const records: BusRecord[] = new Array(scan.lines.length);
      for (let k = 0; k < scan.lines.length; k++) {
        records[k] = { stream, partition, offset: from + k, raw: scan.lines[k] };
      }
      return { records, nextOffset: scan.nextOffset, endOffset: scan.endOffset };
    } finally {
      await fh.close();
    }
  }
}

async function readdirOrEmpty(dir: string): Promise<fs.Dirent[]> {
  try {
    return await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
