/**
 * Mergeable partial aggregates. One event, one tile and one whole window are all a `Partial`; merging is
 * associative and commutative, so the projector (tiles), the gateway (tiles + edges) and the offline replay
 * (raw events) share one arithmetic and agree bit for bit.
 */
import { Decimal, canonicalDecimal, decimalAverage } from './decimal';
import type { Micros } from './time';

/** Total order of events used by `last`: greatest (ts, stream, partition, offset) wins. */
export interface EventPosition {
  ts: Micros;
  stream: string;
  partition: number;
  offset: number;
}

export interface Partial {
  count: number;
  sum: Decimal;
  min: Decimal | null;
  max: Decimal | null;
  /** Position and value of the latest event. */
  last: { pos: EventPosition; value: Decimal } | null;
}

export function emptyPartial(): Partial {
  return { count: 0, sum: new Decimal(0), min: null, max: null, last: null };
}

/** Compares event positions; strings compare by UTF-16 code units, like JCS. */
export function comparePositions(a: EventPosition, b: EventPosition): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.stream !== b.stream) return a.stream < b.stream ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  return a.offset - b.offset;
}

export function singlePartial(pos: EventPosition, value: Decimal): Partial {
  return { count: 1, sum: value, min: value, max: value, last: { pos, value } };
}

/** Merges `b` into a new partial with `a`. */
export function mergePartials(a: Partial, b: Partial): Partial {
  if (b.count === 0) return a;
  if (a.count === 0) return b;
  return {
    count: a.count + b.count,
    sum: a.sum.plus(b.sum),
    min: a.min === null ? b.min : b.min === null ? a.min : Decimal.min(a.min, b.min),
    max: a.max === null ? b.max : b.max === null ? a.max : Decimal.max(a.max, b.max),
    last:
      a.last === null
        ? b.last
        : b.last === null
          ? a.last
          : comparePositions(a.last.pos, b.last.pos) >= 0
            ? a.last
            : b.last,
  };
}

export type Aggregation = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'last';

/** A finished value: counts are integers, everything else canonical decimal text or null (SPEC 3 / 6). */
export type AggregateValue = { kind: 'count'; value: number } | { kind: 'decimal'; value: string | null };

export function finishAggregate(agg: Aggregation, p: Partial): AggregateValue {
  switch (agg) {
    case 'count':
      return { kind: 'count', value: p.count };
    case 'sum':
      return { kind: 'decimal', value: canonicalDecimal(p.sum) };
    case 'min':
      return { kind: 'decimal', value: p.min === null ? null : canonicalDecimal(p.min) };
    case 'max':
      return { kind: 'decimal', value: p.max === null ? null : canonicalDecimal(p.max) };
    case 'avg':
      return { kind: 'decimal', value: p.count === 0 ? null : decimalAverage(p.sum, p.count) };
    case 'last':
      return { kind: 'decimal', value: p.last === null ? null : canonicalDecimal(p.last.value) };
  }
}
