/** An in-memory EventBus for tests of the pure core and the replay: partitions are arrays of raw lines. */
import type { EventBus, OffsetKind, ReadResult } from '../../../src/bus/event-bus';

export class MemoryBus implements EventBus {
  readonly offsetKind: OffsetKind = 'file_line';
  readonly location = 'memory';
  /** stream → partition → lines (offset = index). */
  readonly files = new Map<string, Map<number, string[]>>();

  constructor(files?: Record<string, Record<number, string[]>>) {
    for (const [stream, parts] of Object.entries(files ?? {})) {
      for (const [p, lines] of Object.entries(parts)) {
        this.partition(stream, Number(p));
        for (const line of lines) this.append(stream, Number(p), line);
      }
    }
  }

  /** The lines of a partition, created empty when missing. */
  partition(stream: string, partition: number): string[] {
    let parts = this.files.get(stream);
    if (!parts) this.files.set(stream, (parts = new Map()));
    let lines = parts.get(partition);
    if (!lines) parts.set(partition, (lines = []));
    return lines;
  }

  append(stream: string, partition: number, line: string): number {
    const lines = this.partition(stream, partition);
    lines.push(line);
    return lines.length - 1;
  }

  async listStreams(): Promise<string[]> {
    return [...this.files.keys()].sort();
  }

  async listPartitions(stream: string): Promise<number[]> {
    return [...(this.files.get(stream)?.keys() ?? [])].sort((a, b) => a - b);
  }

  async read(stream: string, partition: number, fromOffset: number, maxRecords: number): Promise<ReadResult> {
    const lines = this.files.get(stream)?.get(partition) ?? [];
    const slice = lines.slice(fromOffset, fromOffset + maxRecords);
    return {
      records: slice.map((raw, i) => ({ stream, partition, offset: fromOffset + i, raw })),
      nextOffset: fromOffset + slice.length,
      endOffset: lines.length,
    };
  }

  async endOffset(stream: string, partition: number): Promise<number> {
    return this.files.get(stream)?.get(partition)?.length ?? 0;
  }

  async close(): Promise<void> {}

  /** The basis at the end of every partition of `streams`. */
  basis(streams: string[]) {
    return streams.map((stream) => ({
      stream,
      offsetKind: this.offsetKind,
      offsets: [...(this.files.get(stream)?.entries() ?? [])]
        .sort(([a], [b]) => a - b)
        .map(([partition, lines]) => ({ partition, offset: String(lines.length) })),
    }));
  }
}
