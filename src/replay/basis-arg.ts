/**
 * The `--basis` argument of `ofp replay`: either JSON — the `inputBasis` of a GraphQL answer (or the whole answer
 * holding it), a platform `eb_offset_basis`, or the section-6 `input_basis` — or `stream:partition=offset` pairs,
 * where a bare `partition=offset` continues the stream before it:
 *
 *   fp.bus.traffic.fraud.v1:0=120,1=98 fp.bus.context.flow_anchor.fraud.v1:0=40,1=33
 *
 * Errors are one line naming the part at fault. Whether the basis fits the requested groups and the bus is checked
 * separately (`checkBasisForGroups`, `checkBasisOnBus` of ./replay).
 */
import { streamsOf, type FeatureGroup } from '../core/policy';
import type { InputBasis } from '../core/snapshot';

export class BasisArgError extends Error {
  override name = 'BasisArgError';
}

const OFFSET = /^(0|[1-9][0-9]*)$/;
const PARTITION = /^(0|[1-9][0-9]*)$/;
const STREAM = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const OFFSET_KINDS = ['file_line', 'kafka_offset', 'kinesis_sequence'];

function offsetText(value: unknown, where: string): string {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !OFFSET.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new BasisArgError(`${where}: offset ${JSON.stringify(value)} is not a non-negative integer`);
  }
  return text;
}

function partitionNumber(value: unknown, where: string): number {
  const n = typeof value === 'string' && PARTITION.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new BasisArgError(`${where}: partition ${JSON.stringify(value)} is not a non-negative integer`);
  }
  return n;
}

function streamName(value: unknown, where: string): string {
  if (typeof value !== 'string' || !STREAM.test(value))
    throw new BasisArgError(`${where}: stream ${JSON.stringify(value)} is not a stream name`);
  return value;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Finds the basis inside pasted JSON: the basis itself, or an answer / document / response holding it. */
function locateBasis(value: unknown): unknown {
  if (Array.isArray(value)) return value;
  if (!isObject(value)) return value;
  if ('stream' in value && 'offsets' in value) return [value];
  for (const key of ['inputBasis', 'input_basis', 'eb_offset_basis'])
    if (key in value) return locateBasis(value[key]);
  for (const key of ['data', 'features', 'snapshot']) if (key in value) return locateBasis(value[key]);
  throw new BasisArgError('basis JSON holds no inputBasis, input_basis or eb_offset_basis');
}

function fromJson(text: string): InputBasis[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BasisArgError(`basis is not valid JSON: ${(err as Error).message}`);
  }
  const list = locateBasis(value);
  if (!Array.isArray(list))
    throw new BasisArgError('basis JSON must be a list of {stream, offsetKind, offsets}');
  return list.map((item, i) => {
    const where = `basis[${i}]`;
    if (!isObject(item)) throw new BasisArgError(`${where}: must be an object {stream, offsetKind, offsets}`);
    const stream = streamName(item.stream, where);
    const kind = item.offsetKind ?? item.offset_kind ?? 'file_line';
    if (typeof kind !== 'string' || !OFFSET_KINDS.includes(kind)) {
      throw new BasisArgError(
        `${where}: offset kind ${JSON.stringify(kind)} is not one of ${OFFSET_KINDS.join(', ')}`,
      );
    }
    if (!Array.isArray(item.offsets))
      throw new BasisArgError(`${where}: offsets must be a list of {partition, offset}`);
    const offsets = item.offsets.map((o, j) => {
      const at = `${where}.offsets[${j}]`;
      if (!isObject(o)) throw new BasisArgError(`${at}: must be an object {partition, offset}`);
      return {
        partition: partitionNumber(o.partition, `${at} (${stream})`),
        offset: offsetText(o.offset, `${at} (${stream})`),
      };
    });
    return { stream, offsetKind: kind, offsets };
  });
}

function fromPairs(text: string, offsetKind: string): InputBasis[] {
  const byStream = new Map<string, InputBasis>();
  let current: InputBasis | undefined;
  const tokens = text.split(/[\s,;]+/).filter((t) => t.length > 0);
  if (tokens.length === 0)
    throw new BasisArgError('basis is empty: give stream:partition=offset pairs or the inputBasis JSON');
  for (const token of tokens) {
    const m = /^(?:([^:=]+):)?([^:=]*)=([^:=]*)$/.exec(token);
    if (!m)
      throw new BasisArgError(
        `basis: "${token}" is not stream:partition=offset (or partition=offset after a stream)`,
      );
    if (m[1] !== undefined) {
      const stream = streamName(m[1], `basis "${token}"`);
      current = byStream.get(stream);
      if (!current) byStream.set(stream, (current = { stream, offsetKind, offsets: [] }));
    }
    if (!current)
      throw new BasisArgError(`basis: "${token}" names no stream (write stream:partition=offset first)`);
    const partition = partitionNumber(m[2], `basis "${token}"`);
    const offset = offsetText(m[3], `basis "${token}"`);
    current.offsets.push({ partition, offset });
  }
  return [...byStream.values()];
}

/**
 * Parses a `--basis` argument; streams and partitions come out sorted; a repeated stream or partition is an error.
 * @param offsetKind the offset kind of pairs (JSON carries its own). Default `file_line`.
 */
export function parseBasisArg(text: string, offsetKind = 'file_line'): InputBasis[] {
  const trimmed = text.trim();
  const basis =
    trimmed.startsWith('[') || trimmed.startsWith('{') ? fromJson(trimmed) : fromPairs(trimmed, offsetKind);
  const streams = new Set<string>();
  for (const b of basis) {
    if (streams.has(b.stream)) throw new BasisArgError(`basis: stream ${b.stream} is named twice`);
    streams.add(b.stream);
    const partitions = new Set<number>();
    for (const o of b.offsets) {
      if (partitions.has(o.partition))
        throw new BasisArgError(`basis: ${b.stream} partition ${o.partition} is named twice`);
      partitions.add(o.partition);
    }
    b.offsets.sort((x, y) => x.partition - y.partition);
  }
  return basis.sort((x, y) => (x.stream < y.stream ? -1 : x.stream > y.stream ? 1 : 0));
}

/** Formats a basis as `stream:partition=offset,...` pairs (the inverse of the pairs form of parseBasisArg). */
export function formatBasisPairs(basis: InputBasis[]): string {
  return basis
    .map((b) => `${b.stream}:${b.offsets.map((o) => `${o.partition}=${o.offset}`).join(',')}`)
    .join(' ');
}

/**
 * Checks that the basis names exactly the streams the groups read (SPEC 5.5: the basis of an answer covers every
 * stream its groups read, and only those).
 * @throws BasisArgError for a stream the groups do not read, or one they read that the basis leaves out
 */
export function checkBasisForGroups(basis: InputBasis[], groups: readonly FeatureGroup[]): void {
  const read = streamsOf(groups);
  for (const b of basis) {
    if (!read.includes(b.stream)) {
      throw new BasisArgError(
        `basis names stream ${b.stream}, which none of the requested groups reads (they read ${read.join(', ')})`,
      );
    }
  }
  for (const stream of read) {
    if (!basis.some((b) => b.stream === stream)) {
      const g = groups.find((x) => x.streams.includes(stream)) as FeatureGroup;
      throw new BasisArgError(
        `basis names no offsets for stream ${stream}, which group ${g.name}/${g.version} reads`,
      );
    }
  }
}
