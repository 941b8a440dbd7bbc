/**
 * Deterministic run identities (ContextPins, SPEC 2) for generated traffic: run i of a generator seed always gets
 * the same pins. Run 0's seed is always above 2^53 (so every generated data set exercises exact uint64 handling)
 * and its flow ids start at 2^53 + 1 (not representable as a double); run 1 has a small seed.
 */
import type { ContextPins } from '../core/pins';
import { type Micros, formatTimestamp, MICROS_PER_MINUTE, MICROS_PER_HOUR } from '../core/time';
import { Prng } from './prng';

export interface GeneratedRun {
  index: number;
  pins: ContextPins;
  /** Flow ids of this run are flowIdBase + 0, + 1, ... */
  flowIdBase: bigint;
  /** The envelope's pin properties as JSON text (no surrounding braces), seed written with every digit. */
  envelopePinsJson: string;
  /** The envelope text between the ts_utc value and the payload (see events.ts envelopeMiddle). */
  envelopeMiddleJson: string;
  /** envelopeMiddleJson as UTF-8 bytes. */
  envelopeMiddleBytes: Buffer;
  /** The payload text between `amount` and the fraud_flag value, `,<payload pins>,"fraud_flag":`, as UTF-8 bytes. */
  fraudFlagPrefixBytes: Buffer;
  /** The pin-like payload properties (seed, manifest_fingerprint, parameter_hash, scenario_id) as JSON text. */
  payloadPinsJson: string;
}

const SCENARIOS = ['baseline_v1', 'fraud_campaign_v1', 'holiday_peak_v1', 'card_testing_v1'];
const TWO_POW_53 = 1n << 53n;
const TWO_POW_63 = 1n << 63n;

/** `platform_YYYYMMDDTHHMMSSZ` of an instant. */
export function platformRunIdAt(micros: Micros): string {
  const t = formatTimestamp(micros); // YYYY-MM-DDTHH:MM:SS.ffffffZ
  return `platform_${t.slice(0, 4)}${t.slice(5, 7)}${t.slice(8, 10)}T${t.slice(11, 13)}${t.slice(14, 16)}${t.slice(17, 19)}Z`;
}

/**
 * Pins of runs 0..count-1 for a generator seed. The platform run started an hour before the traffic, one minute
 * apart per run; everything else is drawn from a PRNG stream of its own, so traffic options never change the pins.
 */
export function deriveRuns(seed: bigint, count: number, startMicros: Micros): GeneratedRun[] {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`runs must be a positive integer, got ${count}`);
  const prng = new Prng(seed, 'runs');
  const runs: GeneratedRun[] = [];
  for (let i = 0; i < count; i++) {
    const scenarioRunId = prng.hex(32);
    const manifestFingerprint = prng.hex(64);
    const parameterHash = prng.hex(64);
    const runId = prng.hex(32);
    const raw = prng.u64();
    // Run 0 above 2^63 (hence above 2^53), run 1 small, the others anywhere in the uint64 range.
    const runSeed = i === 0 ? raw | TWO_POW_63 : i === 1 ? raw % 1_000_000n : raw;
    const scenario =
      SCENARIOS[i % SCENARIOS.length] + (i >= SCENARIOS.length ? `_${Math.floor(i / SCENARIOS.length)}` : '');
    const pins: ContextPins = {
      platformRunId: platformRunIdAt(startMicros - MICROS_PER_HOUR + i * MICROS_PER_MINUTE),
      scenarioRunId,
      scenarioId: scenario,
      manifestFingerprint,
      parameterHash,
      seed: runSeed.toString(),
      runId,
    };
    runs.push(generatedRun(i, pins, i === 0 ? TWO_POW_53 + 1n : BigInt(i) * 1_000_000_000_000n + 1n));
  }
  return runs;
}

/** A run's pre-rendered JSON text, for events of the run with these pins. */
export function generatedRun(index: number, pins: ContextPins, flowIdBase: bigint): GeneratedRun {
  const envelopeMiddleJson = `",${envelopePinsJson(pins)},"producer":"ofp-generator","payload":`;
  const payloadPinsJson =
    `"seed":${pins.seed},"manifest_fingerprint":"${pins.manifestFingerprint}",` +
    `"parameter_hash":"${pins.parameterHash}","scenario_id":${JSON.stringify(pins.scenarioId)}`;
  return {
    index,
    pins,
    flowIdBase,
    envelopePinsJson: envelopePinsJson(pins),
    envelopeMiddleJson,
    envelopeMiddleBytes: Buffer.from(envelopeMiddleJson, 'utf8'),
    payloadPinsJson,
    fraudFlagPrefixBytes: Buffer.from(`,${payloadPinsJson},"fraud_flag":`, 'utf8'),
  };
}

/**
 * Envelope pin properties as JSON text. The seed is written from its decimal string, never through a JS number,
 * so values above 2^53 keep every digit. `overrides` replaces a property's JSON text; `undefined`-valued
 * overrides drop it (used to inject pins_invalid records).
 */
export function envelopePinsJson(
  pins: ContextPins,
  overrides: Record<string, string | undefined> = {},
): string {
  const props: [string, string][] = [
    ['platform_run_id', JSON.stringify(pins.platformRunId)],
    ['scenario_run_id', JSON.stringify(pins.scenarioRunId)],
    ['scenario_id', JSON.stringify(pins.scenarioId)],
    ['manifest_fingerprint', JSON.stringify(pins.manifestFingerprint)],
    ['parameter_hash', JSON.stringify(pins.parameterHash)],
    ['seed', pins.seed],
  ];
  if (pins.runId !== undefined) props.push(['run_id', JSON.stringify(pins.runId)]);
  const out: string[] = [];
  for (const [name, json] of props) {
    const value = name in overrides ? overrides[name] : json;
    if (value !== undefined) out.push(`"${name}":${value}`);
  }
  return out.join(',');
}
