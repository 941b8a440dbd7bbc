import { envelopeSchema, payloadSchemas } from '../../src/contracts';
import { RecordParser } from '../../src/core/envelope';
import { parseTimestamp } from '../../src/core/time';
import { merchantAnchorBurst } from '../../src/generator/burst';
import { ANCHOR_EVENT_TYPE } from '../../src/generator/events';
import { deriveRuns } from '../../src/generator/runs';

const parser = new RecordParser({ envelopeSchema, payloadSchemas });
const from = parseTimestamp('2026-02-06T17:00:00.000000Z')!;
const pins = deriveRuns(5n, 1, from)[0].pins;

test('a burst is valid flow anchors of one merchant and run, evenly spaced, with distinct ids', () => {
  const records = [
    ...merchantAnchorBurst({
      pins,
      merchantId: 999_999_999,
      from,
      stepMicros: 250_000,
      count: 50,
      flowIdBase: 7_000_000_000n,
      eventIdPrefix: 'hot-',
    }),
  ];
  expect(records).toHaveLength(50);
  const eventIds = new Set<string>();
  records.forEach((r, i) => {
    const parsed = parser.parse(r.line);
    if (!parsed.ok) throw new Error(`record ${i}: ${parsed.class}: ${parsed.reason}`);
    const { envelope } = parsed;
    expect(parser.validatePayload(envelope.eventType, envelope.payload)).toBeNull();
    expect(envelope.eventType).toBe(ANCHOR_EVENT_TYPE);
    expect(envelope.pins).toEqual(pins);
    expect(envelope.tsMicros).toBe(from + i * 250_000);
    expect(r.ts).toBe(envelope.tsMicros);
    expect(String((envelope.payload as Record<string, { value?: string }>).merchant_id.value)).toBe(
      '999999999',
    );
    expect(r.key).toBe(String(7_000_000_000 + i));
    eventIds.add(envelope.eventId);
  });
  expect(eventIds.size).toBe(50);
});
