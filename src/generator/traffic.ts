/**
 * The traffic model: a deterministic sequence of bus records (flow anchors, their event-stream events, and the
 * injected copies and invalid records), one per `next()` call.
 *
 * Flows start at exponentially distributed gaps of event time; each gets 1-4 event-stream events a little later,
 * held in a priority queue so that both streams come out in event-time order (apart from the deliberate
 * out-of-order shifts). Entities are drawn with Zipf-like skew; fraud campaigns are bursts of flows on a few
 * devices, merchants and ips with higher amounts and fraud_flag true.
 */
import type { RecordClass } from '../core/record';
import { MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_SECOND, type Micros } from '../core/time';
import type { LineBuffer } from '../bus/line-buffer';
import { partitionFor } from '../bus/partitioner';
import {
  type EventSpec,
  type Flow,
  STREAMS,
  TRAFFIC_STREAM,
  flowTail,
  renderDecision,
  renderEvent,
  writeEvent,
} from './events';
import { INJECTED_KINDS, type InjectedKind, type ResolvedOptions } from './options';
import { Prng, hex8, mix32 } from './prng';
import { type GeneratedRun, deriveRuns } from './runs';
import { badEnvelope, badPayload, badPins, truncated } from './faults';
import { MinHeap, ZipfSampler, entityId } from './sampling';

/** One record to write: a valid event to render (`spec`), or a line already made (`raw`). */
export interface Emission {
  stream: string;
  partition: number;
  /** Partition key text (payload.flow_id), '' when the line has none readable. */
  key: string;
  /** The event whose fault-free line this record is (valid events and their copies); null when `raw` is set. */
  spec: EventSpec | null;
  /** The line itself, for records made with faults; null when `spec` is set. */
  raw: string | null;
  /** How the projector is expected to classify it (SPEC 4.2). */
  cls: RecordClass;
  /** A valid event whose ts_utc was deliberately shifted earlier. */
  outOfOrder: boolean;
}

const MERCHANT_BASE = 100_000;
const PARTY_BASE = 1_000_000;
const ACCOUNT_BASE = 10_000_000;
const INSTRUMENT_BASE = 100_000_000;
const DEVICE_BASE = 200_000_000;
const IP_BASE = 3_000_000_000;
/** Mean number of event-stream events per flow for the count weights below (0.35, 0.35, 0.2, 0.1). */
const MEAN_EVENTS_PER_FLOW = 1 + 2.05;
const RING_SIZE = 4096;
const CAMPAIGN_SHARE_WHILE_ACTIVE = 0.5;
const CAMPAIGN_MEAN_FLOWS = 110;

interface Campaign {
  id: string;
  devices: number[];
  merchants: number[];
  ips: number[];
  remaining: number;
}

export interface TrafficStats {
  flows: number;
  fraudFlows: number;
  campaigns: number;
  minTs: Micros | null;
  maxTs: Micros | null;
}

export class TrafficModel {
  readonly runs: GeneratedRun[];
  readonly stats: TrafficStats = { flows: 0, fraudFlows: 0, campaigns: 0, minTs: null, maxTs: null };
  private readonly prng: Prng;
  private readonly merchants: ZipfSampler;
  private readonly parties: ZipfSampler;
  private readonly devices: ZipfSampler;
  private readonly ips: ZipfSampler;
  private readonly flowGap: number;
  private readonly campaignStart: number;
  private readonly thresholds: [InjectedKind, number][] = [];
  private readonly pending = new MinHeap<EventSpec>();
  private readonly flowSeq: number[];
  /** Per run, per id space (anchor, traffic, decision): next sequence number and the id salts. */
  private readonly idSeq: number[][];
  private readonly idSalt: number[][][];
  private readonly ring: EventSpec[] = [];
  private ringPos = 0;
  /** Greatest ts of valid events per stream/partition/run (see maxTsSlot); too_late records fall behind it. */
  private readonly maxTs: Float64Array;
  private nextFlowTs: Micros;
  private order = 0;
  private campaign: Campaign | null = null;

  constructor(private readonly o: ResolvedOptions) {
    this.runs = deriveRuns(o.seed, o.runs, o.startMicros);
    this.prng = new Prng(o.seed, 'traffic');
    this.merchants = new ZipfSampler(o.merchants, 1.1);
    this.parties = new ZipfSampler(o.parties, 0.8);
    this.devices = new ZipfSampler(o.devices, 1.05);
    this.ips = new ZipfSampler(o.ips, 0.9);
    let cumulative = 0;
    for (const kind of INJECTED_KINDS) {
      cumulative += o.fractions[kind];
      if (o.fractions[kind] > 0) this.thresholds.push([kind, cumulative]);
    }
    const expectedFlows = Math.max(1, (o.count * Math.max(0.01, 1 - cumulative)) / MEAN_EVENTS_PER_FLOW);
    this.flowGap = o.spanMicros / expectedFlows;
    const f = Math.min(o.campaignFraction / CAMPAIGN_SHARE_WHILE_ACTIVE, 0.99);
    // A campaign is active for about CAMPAIGN_MEAN_FLOWS / share flows; starting one with this probability per flow
    // (while none is active) makes about `campaignFraction` of all flows campaign flows.
    this.campaignStart =
      f <= 0 ? 0 : Math.min(1, (f * CAMPAIGN_SHARE_WHILE_ACTIVE) / (CAMPAIGN_MEAN_FLOWS * (1 - f)));
    this.nextFlowTs = o.startMicros;
    this.maxTs = new Float64Array(2 * o.partitions * o.runs).fill(-Infinity);
    this.flowSeq = this.runs.map(() => 0);
    this.idSeq = this.runs.map(() => [0, 0, 0]);
    const salts = new Prng(o.seed, 'event-ids');
    this.idSalt = this.runs.map(() =>
      [0, 1, 2].map(() => [salts.u32(), salts.u32(), salts.u32(), salts.u32()]),
    );
  }

  /** The next record. */
  next(): Emission {
    if (this.thresholds.length > 0) {
      const u = this.prng.float();
      for (const [kind, upTo] of this.thresholds) {
        if (u < upTo) {
          const injected = this.inject(kind);
          if (injected) return injected;
          break; // nothing to copy yet: a normal event instead
        }
      }
    }
    return this.emitValid();
  }

  // ---- valid events -------------------------------------------------------------------------------------------

  private emitValid(): Emission {
    const nextTs = this.pending.peekTs();
    let spec: EventSpec;
    if (nextTs !== undefined && nextTs <= this.nextFlowTs) {
      spec = this.pending.pop() as EventSpec;
    } else {
      spec = this.startFlow();
    }
    spec.eventId = this.nextEventId(spec.flow.run, spec.streamIndex);
    let outOfOrder = false;
    if (this.o.outOfOrderFraction > 0 && this.prng.chance(this.o.outOfOrderFraction)) {
      spec.ts -= 1 + this.prng.int(this.o.outOfOrderMaxMicros);
      outOfOrder = true;
    }
    const slot = this.maxTsSlot(spec);
    if (spec.ts > this.maxTs[slot]) this.maxTs[slot] = spec.ts;
    if (this.stats.minTs === null || spec.ts < this.stats.minTs) this.stats.minTs = spec.ts;
    if (this.stats.maxTs === null || spec.ts > this.stats.maxTs) this.stats.maxTs = spec.ts;
    // Recent events are the templates of injected records; without injections, keeping them would only make
    // every scavenge copy thousands of live objects.
    if (this.thresholds.length > 0) {
      if (this.ring.length < RING_SIZE) this.ring.push(spec);
      else this.ring[this.ringPos++ % RING_SIZE] = spec;
    }
    return this.emission(spec, null, 'applied', outOfOrder);
  }

  private startFlow(): EventSpec {
    const p = this.prng;
    const ts = this.nextFlowTs;
    this.nextFlowTs += Math.max(1, Math.round(p.exponential(this.flowGap)));
    const run = this.runs.length === 1 ? this.runs[0] : this.runs[p.int(this.runs.length)];
    const arrivalSeq = this.flowSeq[run.index]++;
    const flowId = (run.flowIdBase + BigInt(arrivalSeq)).toString();

    if (this.campaign === null && this.campaignStart > 0 && p.chance(this.campaignStart))
      this.startCampaign();
    const campaign = this.campaign !== null && p.chance(CAMPAIGN_SHARE_WHILE_ACTIVE) ? this.campaign : null;

    const partyLocal = entityId(0, this.parties.draw(p), this.o.parties);
    const accountLocal = partyLocal * 2 + p.int(2); // one or two accounts per party
    const instrumentLocal = accountLocal * 3 + p.int(3); // up to three cards per account
    let cents = Math.min(5_000_000, Math.max(50, Math.round(Math.exp(3.2 + 1.1 * p.normal()) * 100)));
    if (campaign) cents = Math.min(20_000_000, cents * p.range(3, 8));
    const fraud = campaign !== null || p.chance(0.001);
    const flow: Flow = {
      run,
      flowId,
      partition: partitionFor(flowId, this.o.partitions),
      arrivalSeq,
      merchantId: campaign
        ? p.pick(campaign.merchants)
        : entityId(MERCHANT_BASE, this.merchants.draw(p), this.o.merchants),
      partyId: PARTY_BASE + partyLocal,
      accountId: ACCOUNT_BASE + accountLocal,
      instrumentId: INSTRUMENT_BASE + instrumentLocal,
      deviceId: campaign
        ? p.pick(campaign.devices)
        : entityId(DEVICE_BASE, this.devices.draw(p), this.o.devices),
      ipId: campaign ? p.pick(campaign.ips) : entityId(IP_BASE, this.ips.draw(p), this.o.ips),
      amountCents: cents,
      fraud,
      campaignId: campaign ? campaign.id : null,
      tailJson: '',
    };
    flow.tailJson = flowTail(run, fraud, flow.campaignId);
    if (campaign && --campaign.remaining <= 0) this.campaign = null;
    this.stats.flows++;
    if (fraud) this.stats.fraudFlows++;
    this.scheduleFlowEvents(flow, ts);
    return { streamIndex: 0, flow, eventId: '', ts, eventSeq: 0, trafficType: '', amountCents: cents };
  }

  private startCampaign(): void {
    const p = this.prng;
    const draw = (n: number, base: number, size: number): number[] =>
      Array.from({ length: n }, () => entityId(base, p.int(size), size));
    this.campaign = {
      id: `campaign_${hex8(p.u32())}`,
      devices: draw(p.range(1, 3), DEVICE_BASE, this.o.devices),
      merchants: draw(p.range(1, 2), MERCHANT_BASE, this.o.merchants),
      ips: draw(p.range(1, 2), IP_BASE, this.o.ips),
      remaining: p.range(20, 200),
    };
    this.stats.campaigns++;
  }

  /** 1-4 event-stream events: auth request, response, then clearing (or step-up), then refund (or chargeback). */
  private scheduleFlowEvents(flow: Flow, anchorTs: Micros): void {
    const p = this.prng;
    const u = p.float();
    const n = u < 0.35 ? 1 : u < 0.7 ? 2 : u < 0.9 ? 3 : 4;
    let ts = anchorTs + p.range(50_000, 2 * MICROS_PER_SECOND);
    for (let k = 0; k < n; k++) {
      if (k > 0) ts += 1 + Math.round(p.exponential(20 * MICROS_PER_SECOND));
      const type =
        k === 0
          ? 'auth_request'
          : k === 1
            ? 'auth_response'
            : k === 2
              ? flow.fraud
                ? 'step_up_challenge'
                : 'clearing'
              : flow.fraud
                ? 'chargeback'
                : 'refund';
      const amountCents = k === 3 && !flow.fraud ? 1 + p.int(flow.amountCents) : flow.amountCents;
      const spec: EventSpec = {
        streamIndex: 1,
        flow,
        eventId: '',
        ts,
        eventSeq: k,
        trafficType: type,
        amountCents,
      };
      this.pending.push(ts, this.order++, spec);
    }
  }

  private maxTsSlot(e: EventSpec): number {
    return (e.streamIndex * this.o.partitions + e.flow.partition) * this.o.runs + e.flow.run.index;
  }

  /** 32 hex digits, unique per (run, id space, sequence): the first word is a bijection of the sequence number. */
  private nextEventId(run: GeneratedRun, space: number): string {
    const seq = this.idSeq[run.index][space]++;
    const [s0, s1, s2, s3] = this.idSalt[run.index][space];
    const h0 = mix32((seq ^ s0) >>> 0);
    const h1 = mix32((h0 ^ s1) >>> 0);
    const h2 = mix32((h1 ^ s2) >>> 0);
    const h3 = mix32((h2 ^ s3) >>> 0);
    return hex8(h0) + hex8(h1) + hex8(h2) + hex8(h3);
  }

  // ---- injected records ---------------------------------------------------------------------------------------

  /** A record of the given kind, or null when there is no recent valid event to derive it from yet. */
  private inject(kind: InjectedKind): Emission | null {
    const p = this.prng;
    const template = this.ring.length > 0 ? this.ring[p.int(this.ring.length)] : null;
    if (kind === 'unparseable') return this.unparseable(template);
    if (template === null) return null;
    switch (kind) {
      case 'duplicate':
        return this.emission(template, null, 'duplicate');
      case 'anomaly': {
        const changed: EventSpec = { ...template, amountCents: template.amountCents + 1 + p.int(500) };
        return this.emission(changed, null, 'anomaly');
      }
      case 'too_late': {
        const max = this.maxTs[this.maxTsSlot(template)];
        if (max === -Infinity) return null;
        const ts = max - this.o.lateHorizonMicros - MICROS_PER_HOUR - p.int(MICROS_PER_DAY);
        const late: EventSpec = {
          ...template,
          ts,
          eventId: this.nextEventId(template.flow.run, template.streamIndex),
        };
        return this.emission(late, null, 'too_late');
      }
      case 'pins_invalid':
        return this.emission(
          template,
          renderEvent(this.fresh(template), { pinsJson: badPins(template.flow.run.pins, p) }),
          kind,
        );
      case 'envelope_invalid':
        return this.emission(template, renderEvent(this.fresh(template), badEnvelope(template.ts, p)), kind);
      case 'payload_invalid':
        return this.emission(template, renderEvent(this.fresh(template), {}, badPayload(p)), kind);
      case 'irrelevant': {
        const flow = template.flow;
        const line = renderDecision(
          flow,
          this.nextEventId(flow.run, 2),
          template.ts + p.range(1, MICROS_PER_SECOND),
          p.pick(['APPROVE', 'DECLINE', 'REVIEW']),
          p.int(1000),
        );
        return {
          stream: TRAFFIC_STREAM,
          partition: flow.partition,
          key: flow.flowId,
          spec: null,
          raw: line,
          cls: kind,
          outOfOrder: false,
        };
      }
    }
    return null;
  }

  /** A copy of the template under a new event_id (an invalid record must not collide with a valid one). */
  private fresh(template: EventSpec): EventSpec {
    return { ...template, eventId: this.nextEventId(template.flow.run, template.streamIndex) };
  }

  // Lines that are not JSON carry no readable key, so (like `ofp publish` does) they go to partition 0.
  private unparseable(template: EventSpec | null): Emission {
    const p = this.prng;
    const variant = template === null ? 1 + p.int(2) : p.int(3);
    const stream = template ? STREAMS[template.streamIndex] : STREAMS[p.int(2)];
    const line =
      variant === 0 && template
        ? truncated(renderEvent(this.fresh(template)), p)
        : variant === 1
          ? ''
          : 'NaN';
    return { stream, partition: 0, key: '', spec: null, raw: line, cls: 'unparseable', outOfOrder: false };
  }

  /** A record of `spec`'s stream, partition and key: rendered from `spec` when `raw` is null. */
  private emission(spec: EventSpec, raw: string | null, cls: RecordClass, outOfOrder = false): Emission {
    return {
      stream: STREAMS[spec.streamIndex],
      partition: spec.flow.partition,
      key: spec.flow.flowId,
      spec: raw === null ? spec : null,
      raw,
      cls,
      outOfOrder,
    };
  }
}

/** The line of an emission as a string. */
export function lineOf(e: Emission): string {
  return e.raw ?? renderEvent(e.spec as EventSpec);
}

/** Appends the line of an emission to a partition's buffer. */
export function writeEmission(e: Emission, out: LineBuffer): void {
  if (e.raw !== null) out.add(e.raw);
  else writeEvent(e.spec as EventSpec, out);
}
