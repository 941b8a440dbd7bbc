/**
 * The breakages of injected invalid records, one variant drawn per record so that every kind shows all its shapes.
 * Each stays within its class (SPEC 4.2): pins faults leave the envelope otherwise valid, envelope faults keep
 * the pins valid, payload faults keep the envelope valid and its event_type relevant.
 */
import type { ContextPins } from '../core/pins';
import { formatTimestamp, type Micros } from '../core/time';
import type { EnvelopeFaults, PayloadFaults } from './events';
import type { Prng } from './prng';
import { envelopePinsJson } from './runs';

/** Envelope pins with one pin missing or malformed (pins_invalid). */
export function badPins(pins: ContextPins, prng: Prng): string {
  const variants: Record<string, string | undefined>[] = [
    { platform_run_id: undefined },
    { scenario_run_id: JSON.stringify(pins.scenarioRunId.toUpperCase().replace(/^[0-9]/, 'A')) },
    { seed: '18446744073709551616' }, // 2^64: one above the uint64 range
    { seed: '-1' },
    { manifest_fingerprint: JSON.stringify(pins.manifestFingerprint.slice(1)) }, // 63 hex digits
    { scenario_id: '""' },
  ];
  return envelopePinsJson(pins, prng.pick(variants));
}

/** An envelope violation other than the pins (envelope_invalid). */
export function badEnvelope(ts: Micros, prng: Prng): EnvelopeFaults {
  const text = formatTimestamp(ts);
  switch (prng.int(4)) {
    case 0:
      return { tsText: `${text.slice(0, 4)}-02-30${text.slice(10)}` }; // well-formed, but no such day
    case 1:
      return { extra: ',"unexpected_field":true' };
    case 2:
      return { tsText: `${text.slice(0, 23)}Z` }; // 3 fractional digits
    default:
      return { eventId: '' };
  }
}

/** A 6B schema violation (payload_invalid): nothing is coerced, so each of these must be refused. */
export function badPayload(prng: Prng): PayloadFaults {
  switch (prng.int(5)) {
    case 0:
      return { amountJson: '"12.50"' };
    case 1:
      return { fractionalId: true };
    case 2:
      return { amountJson: 'null' };
    case 3:
      return { omitCampaignId: true };
    default:
      return { extraProperty: true };
  }
}

/** A valid line cut short, never keeping its closing brace, so it cannot parse (unparseable). */
export function truncated(line: string, prng: Prng): string {
  return line.slice(0, 1 + prng.int(line.length - 2));
}
