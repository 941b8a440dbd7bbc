/**
 * JSON text of generated 6B events, built with template strings: faster than JSON.stringify of objects, and it
 * writes uint64 seeds and ids and 2-digit decimal amounts exactly as intended (never through a binary double).
 * Only strings the generator made itself (hex, fixed names) are interpolated unescaped.
 */
import { formatTimestamp, type Micros } from '../core/time';
import type { LineBuffer } from '../bus/line-buffer';
import type { GeneratedRun } from './runs';

export const ANCHOR_STREAM = 'fp.bus.context.flow_anchor.fraud.v1';
export const TRAFFIC_STREAM = 'fp.bus.traffic.fraud.v1';
export const ANCHOR_EVENT_TYPE = 's3_flow_anchor_with_fraud_6B';
export const TRAFFIC_EVENT_TYPE = 's3_event_stream_with_fraud_6B';
export const IRRELEVANT_EVENT_TYPE = 'decision_response';
export const STREAMS = [ANCHOR_STREAM, TRAFFIC_STREAM] as const;

/** One flow (a payment attempt) and the entities it touches. */
export interface Flow {
  run: GeneratedRun;
  /** Decimal text of payload.flow_id (may exceed 2^53). */
  flowId: string;
  /** partitionFor(flowId, partitions): the same on both streams. */
  partition: number;
  arrivalSeq: number;
  merchantId: number;
  partyId: number;
  accountId: number;
  instrumentId: number;
  deviceId: number;
  ipId: number;
  amountCents: number;
  fraud: boolean;
  campaignId: string | null;
  /** flowTail(run, fraud, campaignId), computed once per flow. */
  tailJson: string;
}

/** A flow anchor (stream 0) or one event of the flow's event stream (stream 1). */
export interface EventSpec {
  streamIndex: 0 | 1;
  flow: Flow;
  eventId: string;
  ts: Micros;
  /** Event stream only: position of the event within its flow. */
  eventSeq: number;
  /** Event stream only: payload.event_type. */
  trafficType: string;
  amountCents: number;
}

/** Deliberate breakages of a payload (payload_invalid records). */
export interface PayloadFaults {
  /** Replaces the amount's JSON text (e.g. `"12.50"` or `null`). */
  amountJson?: string;
  /** Writes one integer id with a fraction (`7.0`). */
  fractionalId?: boolean;
  /** Leaves out the required `campaign_id`. */
  omitCampaignId?: boolean;
  /** Adds a property the schema does not allow. */
  extraProperty?: boolean;
}

/** Deliberate breakages of an envelope (pins_invalid and envelope_invalid records). */
export interface EnvelopeFaults {
  eventId?: string;
  tsText?: string;
  pinsJson?: string;
  /** Extra top-level properties as JSON text starting with a comma. */
  extra?: string;
}

/**
 * formatTimestamp with the `YYYY-MM-DDTHH:MM:SS.` prefix cached per second: generated events are mostly in time
 * order, so this skips a Date allocation and toISOString for nearly every event.
 */
export class TimestampFormatter {
  private second = NaN;
  private prefix = '';

  format(micros: Micros): string {
    const second = Math.floor(micros / 1_000_000);
    if (second !== this.second) {
      this.second = second;
      this.prefix = formatTimestamp(second * 1_000_000).slice(0, 20);
    }
    return `${this.prefix}${(1_000_000 + (micros - second * 1_000_000)).toString().slice(1)}Z`;
  }
}

const timestamps = new TimestampFormatter();

/** Cents as a JSON number with exactly two fraction digits: 1250 → `12.50`. */
export function amountText(cents: number): string {
  const whole = Math.floor(cents / 100);
  const frac = cents - whole * 100;
  return `${whole}.${frac < 10 ? '0' : ''}${frac}`;
}

const NO_ENVELOPE_FAULTS: EnvelopeFaults = Object.freeze({});
const NO_PAYLOAD_FAULTS: PayloadFaults = Object.freeze({});
const ANCHOR_HEAD = `","event_type":"${ANCHOR_EVENT_TYPE}","schema_version":"v1","ts_utc":"`;
const TRAFFIC_HEAD = `","event_type":"${TRAFFIC_EVENT_TYPE}","schema_version":"v1","ts_utc":"`;

/**
 * The envelope text between ts_utc's value and the payload, for a run: `",<pins>,"producer":...,"payload":`.
 * Computed once per run; events add only what varies.
 */
export function envelopeMiddle(pinsJson: string, extra = ''): string {
  return `",${pinsJson},"producer":"ofp-generator"${extra},"payload":`;
}

/** The payload text after `amount`, shared by a flow's anchor and its events: `,<pins>,"fraud_flag":..,"campaign_id":..}`. */
export function flowTail(
  run: GeneratedRun,
  fraud: boolean,
  campaignId: string | null,
  omitCampaignId = false,
): string {
  const campaign = omitCampaignId ? '' : `,"campaign_id":${campaignId === null ? 'null' : `"${campaignId}"`}`;
  return `,${run.payloadPinsJson},"fraud_flag":${fraud}${campaign}}`;
}

function tail(f: Flow, faults: PayloadFaults): string {
  return faults.omitCampaignId ? flowTail(f.run, f.fraud, f.campaignId, true) : f.tailJson;
}

/** payload of `s3_flow_anchor_with_fraud_6B` (schema flow_anchor_with_fraud_6B). */
export function anchorPayload(
  e: EventSpec,
  tsText: string,
  faults: PayloadFaults = NO_PAYLOAD_FAULTS,
): string {
  const f = e.flow;
  const amount = faults.amountJson ?? amountText(e.amountCents);
  const merchant = faults.fractionalId ? `${f.merchantId}.0` : f.merchantId;
  const extra = faults.extraProperty ? '"risk_note":"generated",' : '';
  return (
    `{${extra}"flow_id":${f.flowId},"arrival_seq":${f.arrivalSeq},"merchant_id":${merchant},"party_id":${f.partyId},` +
    `"account_id":${f.accountId},"instrument_id":${f.instrumentId},"device_id":${f.deviceId},"ip_id":${f.ipId},` +
    `"ts_utc":"${tsText}","amount":${amount}${tail(f, faults)}`
  );
}

/** payload of `s3_event_stream_with_fraud_6B` (schema event_stream_with_fraud_6B). */
export function trafficPayload(
  e: EventSpec,
  tsText: string,
  faults: PayloadFaults = NO_PAYLOAD_FAULTS,
): string {
  const f = e.flow;
  const amount = faults.amountJson ?? amountText(e.amountCents);
  const seq = faults.fractionalId ? `${e.eventSeq}.0` : e.eventSeq;
  const extra = faults.extraProperty ? '"risk_note":"generated",' : '';
  return (
    `{${extra}"flow_id":${f.flowId},"event_seq":${seq},"event_type":"${e.trafficType}","ts_utc":"${tsText}",` +
    `"amount":${amount}${tail(f, faults)}`
  );
}

/** The envelope line of an event; payload.ts_utc equals the envelope's ts_utc. */
export function renderEvent(
  e: EventSpec,
  envelope: EnvelopeFaults = NO_ENVELOPE_FAULTS,
  payload: PayloadFaults = NO_PAYLOAD_FAULTS,
): string {
  const run = e.flow.run;
  const tsText = envelope.tsText ?? timestamps.format(e.ts);
  const middle =
    envelope.pinsJson === undefined && envelope.extra === undefined
      ? run.envelopeMiddleJson
      : envelopeMiddle(envelope.pinsJson ?? run.envelopePinsJson, envelope.extra);
  const body = e.streamIndex === 0 ? anchorPayload(e, tsText, payload) : trafficPayload(e, tsText, payload);
  const head = e.streamIndex === 0 ? ANCHOR_HEAD : TRAFFIC_HEAD;
  return `{"event_id":"${envelope.eventId ?? e.eventId}${head}${tsText}${middle}${body}}`;
}

/**
 * Writes the line of a valid event (no faults) into `out` in pieces, copying the run's constant text as
 * pre-encoded bytes: the same bytes as `renderEvent(e)` without building a ~1 KB string per event.
 */
export function writeEvent(e: EventSpec, out: LineBuffer): void {
  const f = e.flow;
  const run = f.run;
  const tsText = timestamps.format(e.ts);
  const amount = amountText(e.amountCents);
  out.beginLine();
  out.text(`{"event_id":"${e.eventId}${e.streamIndex === 0 ? ANCHOR_HEAD : TRAFFIC_HEAD}${tsText}`);
  out.bytes(run.envelopeMiddleBytes);
  out.text(
    e.streamIndex === 0
      ? `{"flow_id":${f.flowId},"arrival_seq":${f.arrivalSeq},"merchant_id":${f.merchantId},"party_id":${f.partyId},` +
          `"account_id":${f.accountId},"instrument_id":${f.instrumentId},"device_id":${f.deviceId},"ip_id":${f.ipId},` +
          `"ts_utc":"${tsText}","amount":${amount}`
      : `{"flow_id":${f.flowId},"event_seq":${e.eventSeq},"event_type":"${e.trafficType}","ts_utc":"${tsText}",` +
          `"amount":${amount}`,
  );
  out.bytes(run.fraudFlagPrefixBytes);
  out.text(`${f.fraud},"campaign_id":${f.campaignId === null ? 'null' : `"${f.campaignId}"`}}}`);
  out.endLine();
}

/** A `decision_response` record for a flow (irrelevant to the default policy). */
export function renderDecision(
  flow: Flow,
  eventId: string,
  ts: Micros,
  decision: string,
  scoreMillis: number,
): string {
  const tsText = timestamps.format(ts);
  const score = `0.${String(scoreMillis).padStart(3, '0')}`;
  const body = `{"flow_id":${flow.flowId},"decision":"${decision}","score":${score},"ts_utc":"${tsText}"}`;
  return envelopeLine(flow.run, eventId, IRRELEVANT_EVENT_TYPE, tsText, body);
}

function envelopeLine(
  run: GeneratedRun,
  eventId: string,
  eventType: string,
  tsText: string,
  payload: string,
): string {
  return `{"event_id":"${eventId}","event_type":"${eventType}","schema_version":"v1","ts_utc":"${tsText}${run.envelopeMiddleJson}${payload}}`;
}
