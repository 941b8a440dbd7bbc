/**
 * The file bus layout (SPEC 1.3), shared with the platform's publishers: `<root>/<stream>/partition=<n>.jsonl`.
 */
import path from 'node:path';

const PARTITION_FILE = /^partition=(0|[1-9][0-9]*)\.jsonl$/;

/**
 * Throws unless `stream` is a single, safe path segment. Stream names are topic names such as
 * `fp.bus.traffic.fraud.v1`; refusing separators and `.`/`..` keeps every read and write inside the bus root.
 */
export function assertStreamName(stream: string): void {
  if (
    typeof stream !== 'string' ||
    stream.length === 0 ||
    stream === '.' ||
    stream === '..' ||
    /[/\\\0]/.test(stream)
  ) {
    throw new RangeError(`invalid stream name ${JSON.stringify(stream)}`);
  }
}

/** Throws unless `partition` is a non-negative safe integer. */
export function assertPartition(partition: number): void {
  if (!Number.isSafeInteger(partition) || partition < 0) {
    throw new RangeError(`invalid partition ${partition}`);
  }
}

/** `<root>/<stream>` */
export function streamDir(root: string, stream: string): string {
  assertStreamName(stream);
  return path.join(root, stream);
}

/** File name of a partition inside its stream directory: `partition=<n>.jsonl`. */
export function partitionFileName(partition: number): string {
  assertPartition(partition);
  return `partition=${partition}.jsonl`;
}

/** `<root>/<stream>/partition=<n>.jsonl` */
export function partitionFilePath(root: string, stream: string, partition: number): string {
  return path.join(streamDir(root, stream), partitionFileName(partition));
}

/** The partition number named by a file name, or null when the name is not a partition file. */
export function parsePartitionFileName(name: string): number | null {
  const m = PARTITION_FILE.exec(name);
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : null;
}
