/**
 * Flow anchors of one merchant at a fixed spacing, rendered like the generator's own valid events: a hot key for the
 * serving bench (a million events in a week) or dense hours for tests of the tile model.
 */
import type { ContextPins } from '../core/pins';
import type { Micros } from '../core/time';
import { flowTail, renderEvent, type Flow } from './events';
import { generatedRun } from './runs';

export interface MerchantBurstOptions {
  pins: ContextPins;
  merchantId: number;
  /** ts_utc of the first anchor. */
  from: Micros;
  /** Spacing of the anchors in event time. */
  stepMicros: number;
  count: number;
  /** Flow ids are flowIdBase + i: choose a range the run's generated flows do not use. */
  flowIdBase: bigint;
  /** event_id of anchor i is `${eventIdPrefix}${i}`. */
  eventIdPrefix: string;
}

/** Bus records of the burst, in time order; the key is the flow id (the generator partitions by it too). */
export function* merchantAnchorBurst(
  o: MerchantBurstOptions,
): Generator<{ line: string; key: string; ts: Micros }> {
  const run = generatedRun(0, o.pins, o.flowIdBase);
  const tailJson = flowTail(run, false, null);
  for (let i = 0; i < o.count; i++) {
    const flowId = (o.flowIdBase + BigInt(i)).toString();
    // Amounts cycle through 10.00 .. 999.99 so sums, minima and maxima are all exercised.
    const amountCents = 1000 + ((i * 7919) % 99_000);
    const flow: Flow = {
      run,
      flowId,
      partition: 0,
      arrivalSeq: i,
      merchantId: o.merchantId,
      partyId: i % 5000,
      accountId: i % 7000,
      instrumentId: i % 9000,
      deviceId: i % 3000,
      ipId: i % 4000,
      amountCents,
      fraud: false,
      campaignId: null,
      tailJson,
    };
    const ts = o.from + i * o.stepMicros;
    const line = renderEvent({
      streamIndex: 0,
      flow,
      eventId: `${o.eventIdPrefix}${i}`,
      ts,
      eventSeq: 0,
      trafficType: '',
      amountCents,
    });
    yield { line, key: flowId, ts };
  }
}
