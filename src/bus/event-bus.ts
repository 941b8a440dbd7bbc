/**
 * The bus boundary. The file bus (SPEC 1.3) is the first adapter; a Kafka or Kinesis adapter implements the same
 * interface. Offsets are exclusive-next everywhere: `nextOffset` 100 means offsets 0..99 are consumed.
 */
import type { BusRecord } from '../core/record';

export type OffsetKind = 'file_line' | 'kafka_offset' | 'kinesis_sequence';

export interface ReadOptions {
  /** Wait up to this many milliseconds for a record when none is available at `fromOffset`. Default 0 (no wait). */
  waitMs?: number;
  /** Aborts a wait early. */
  signal?: AbortSignal;
}

export interface ReadResult {
  records: BusRecord[];
  /** Exclusive-next offset after the returned records (`fromOffset` when none were returned). */
  nextOffset: number;
  /** Exclusive end of the complete records currently in the partition. */
  endOffset: number;
}

export interface EventBus {
  readonly offsetKind: OffsetKind;
  /** Where the bus reads from (a directory, brokers), for error messages. */
  readonly location: string;
  /** Streams present on the bus. */
  listStreams(): Promise<string[]>;
  /** Partitions present for a stream, ascending. */
  listPartitions(stream: string): Promise<number[]>;
  /** Reads up to `maxRecords` complete records starting at `fromOffset`. */
  read(
    stream: string,
    partition: number,
    fromOffset: number,
    maxRecords: number,
    options?: ReadOptions,
  ): Promise<ReadResult>;
  /** Exclusive end offset of complete records in a partition (0 when the partition does not exist). */
  endOffset(stream: string, partition: number): Promise<number>;
  /** Releases watchers and file handles. */
  close(): Promise<void>;
}

export interface PublishOptions {
  /** Number of partitions to route over. */
  partitions: number;
  /** Dotted path of the partition key inside the event; default `payload.flow_id`. */
  partitionKey?: string;
}

/** One record to publish: a serialised line without line ending and its partition key text. */
export interface PublishRecord {
  line: string;
  /** Exact partition key text (see `partitionFor` in ./partitioner). */
  key: string;
  /**
   * Explicit partition, overriding the key's hash: used for records whose key cannot be read (routed to 0) and by
   * callers that already computed `partitionFor(key, partitions)`. Must be below `partitions`.
   */
  partition?: number;
}

export interface BusPublisher {
  /**
   * Appends events (already-serialised JSON lines without line ending, with their partition key text) to a stream.
   * Returns how many records went to each partition.
   */
  publish(stream: string, records: PublishRecord[], options: PublishOptions): Promise<Map<number, number>>;
}
