/** Options of the 6B traffic generator, their defaults and validation. */
import { type Micros, MICROS_PER_SECOND, parseDuration, parseTimestamp } from '../core/time';
import { parseSeed } from './prng';

export interface GenerateOptions {
  /** uint64 seed (number, bigint or decimal text). Same options → byte-identical output. Default 1. */
  seed?: string | number | bigint;
  /**
   * Total records to write over both streams, injected ones included. Default `rate × duration` when a duration is
   * given, else 10,000.
   */
  count?: number;
  /** Records per second of event time. Default 100. */
  rate?: number;
  /** Event-time span (`30s`, `5m`, `1h`, `7d`). Default `count / rate` seconds. */
  duration?: string;
  /** Event time of the first flow (`YYYY-MM-DDTHH:MM:SS.ffffffZ`). Default `2026-02-06T17:00:00.000000Z`. */
  start?: string;
  /** Number of runs (distinct ContextPins) whose traffic is interleaved. Default 1. */
  runs?: number;
  /** Partitions per stream; records are routed by `partitionFor(payload.flow_id, partitions)`. Default 4. */
  partitions?: number;
  /** Fraction of valid events whose ts_utc is shifted earlier by up to `outOfOrderMax` (published in place). Default 0. */
  outOfOrderFraction?: number;
  /** Largest out-of-order shift (duration). Default `30m`. */
  outOfOrderMax?: string;
  /** Fraction of records that re-send a recent event exactly (same event_id, same payload). Default 0. */
  duplicateFraction?: number;
  /** Fraction of records that re-send a recent event_id with a different payload (amount changed). Default 0. */
  anomalyFraction?: number;
  /** Fraction of records that are not JSON: a truncated line, a blank line or `NaN`. Default 0. */
  unparseableFraction?: number;
  /** Fraction of records with a required pin missing or malformed. Default 0. */
  pinsInvalidFraction?: number;
  /** Fraction of records with an envelope violation (ts_utc Feb 30 or 3 digits, extra property, empty event_id). Default 0. */
  envelopeInvalidFraction?: number;
  /** Fraction of records whose payload breaks its 6B schema (amount as string or null, id as `7.0`, missing or extra field). Default 0. */
  payloadInvalidFraction?: number;
  /** Fraction of records with ts_utc more than `lateHorizon` before their partition's greatest ts_utc. Default 0. */
  tooLateFraction?: number;
  /** Fraction of `decision_response` records on the traffic stream. Default 0. */
  irrelevantFraction?: number;
  /** The projector's horizon (longest window + lateness) that too_late records must fall behind. Default `169h` (7d + 1h). */
  lateHorizon?: string;
  /** Fraction of flows that belong to fraud campaigns (bursts on a few devices and merchants). Default 0.02. */
  campaignFraction?: number;
  /** Entity population sizes. Defaults: 2,000 merchants, 100,000 parties, 50,000 devices, 80,000 ips. */
  merchants?: number;
  parties?: number;
  devices?: number;
  ips?: number;
  /** Records per write batch (one append per partition file per batch). Default 20,000. */
  batchSize?: number;
  /** Draw a progress bar on stderr. Default: only when stderr is a TTY. */
  progress?: boolean;
}

/** The invalid and copy kinds a generator can inject, named as the projector classifies them (SPEC 4.2). */
export const INJECTED_KINDS = [
  'unparseable',
  'pins_invalid',
  'envelope_invalid',
  'irrelevant',
  'payload_invalid',
  'too_late',
  'duplicate',
  'anomaly',
] as const;
export type InjectedKind = (typeof INJECTED_KINDS)[number];

export interface ResolvedOptions {
  seed: bigint;
  count: number;
  spanMicros: Micros;
  startMicros: Micros;
  runs: number;
  partitions: number;
  outOfOrderFraction: number;
  outOfOrderMaxMicros: Micros;
  fractions: Record<InjectedKind, number>;
  lateHorizonMicros: Micros;
  campaignFraction: number;
  merchants: number;
  parties: number;
  devices: number;
  ips: number;
  batchSize: number;
  progress: boolean | undefined;
}

export const DEFAULT_START = '2026-02-06T17:00:00.000000Z';

export function resolveOptions(o: GenerateOptions): ResolvedOptions {
  const rate = o.rate ?? 100;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be > 0, got ${o.rate}`);
  const durationMicros = o.duration === undefined ? undefined : parseDuration(o.duration);
  if (durationMicros === null)
    throw new RangeError(`duration ${JSON.stringify(o.duration)} is not like 30s, 5m, 1h, 7d`);
  const count =
    o.count ??
    (durationMicros !== undefined ? Math.round((rate * durationMicros) / MICROS_PER_SECOND) : 10_000);
  if (!Number.isSafeInteger(count) || count < 0)
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  const spanMicros = durationMicros ?? Math.round((count / rate) * MICROS_PER_SECOND);
  const startMicros = parseTimestamp(o.start ?? DEFAULT_START);
  if (startMicros === null)
    throw new RangeError(`start ${JSON.stringify(o.start)} is not YYYY-MM-DDTHH:MM:SS.ffffffZ`);

  const fractions: Record<InjectedKind, number> = {
    unparseable: fraction('unparseableFraction', o.unparseableFraction),
    pins_invalid: fraction('pinsInvalidFraction', o.pinsInvalidFraction),
    envelope_invalid: fraction('envelopeInvalidFraction', o.envelopeInvalidFraction),
    irrelevant: fraction('irrelevantFraction', o.irrelevantFraction),
    payload_invalid: fraction('payloadInvalidFraction', o.payloadInvalidFraction),
    too_late: fraction('tooLateFraction', o.tooLateFraction),
    duplicate: fraction('duplicateFraction', o.duplicateFraction),
    anomaly: fraction('anomalyFraction', o.anomalyFraction),
  };
  const injected = Object.values(fractions).reduce((a, b) => a + b, 0);
  if (injected > 1 + 1e-9) throw new RangeError(`injected fractions add up to ${injected} > 1`);

  return {
    seed: parseSeed(o.seed ?? 1),
    count,
    spanMicros,
    startMicros,
    runs: positiveInt('runs', o.runs ?? 1),
    partitions: positiveInt('partitions', o.partitions ?? 4),
    outOfOrderFraction: fraction('outOfOrderFraction', o.outOfOrderFraction),
    outOfOrderMaxMicros: duration('outOfOrderMax', o.outOfOrderMax ?? '30m'),
    fractions,
    lateHorizonMicros: duration('lateHorizon', o.lateHorizon ?? '169h'),
    campaignFraction: fraction('campaignFraction', o.campaignFraction ?? 0.02),
    merchants: population('merchants', o.merchants ?? 2_000),
    parties: population('parties', o.parties ?? 100_000),
    devices: population('devices', o.devices ?? 50_000),
    ips: population('ips', o.ips ?? 80_000),
    batchSize: positiveInt('batchSize', o.batchSize ?? 20_000),
    progress: o.progress,
  };
}

function fraction(name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${value}`);
  return v;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

// Entity ids are computed as base + rank * 2654435761 mod size in doubles; 3 million keeps that product exact.
function population(name: string, value: number): number {
  const v = positiveInt(name, value);
  if (v > 3_000_000) throw new RangeError(`${name} must be at most 3,000,000, got ${value}`);
  return v;
}

function duration(name: string, text: string): Micros {
  const d = parseDuration(text);
  if (d === null) throw new RangeError(`${name} ${JSON.stringify(text)} is not like 30s, 5m, 1h, 7d`);
  return d;
}
