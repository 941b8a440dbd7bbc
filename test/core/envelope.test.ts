/**
 * Specification of reading a bus record (SPEC 1.2, 1.3, 2, 4.2, 4.3): every record is `unparseable`, `pins_invalid`
 * or `envelope_invalid` (checked in that order) or a valid envelope, whose payload is then valid or `payload_invalid`;
 * plus the payload hash used for duplicate detection.
 */
import { MAX_TIMESTAMP, MIN_TIMESTAMP } from '../../src/core/time';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { envelopeSchema, payloadSchemas } from '../../src/contracts';
import {
  DuplicateKeyError,
  PAYLOAD_SCHEMA_BY_EVENT_TYPE,
  RecordParser,
  parseJsonStrict,
  payloadHash,
} from '../../src/core/envelope';
import { LosslessNumber, parseLossless, type JsonObject } from '../../src/core/json';
import type { Envelope, EnvelopeResult } from '../../src/core/record';

const parser = new RecordParser({ envelopeSchema, payloadSchemas });

// ---- fixtures ----

const MANIFEST = 'a1'.repeat(32);
const PARAMS = 'b2'.repeat(32);
const SCENARIO_RUN = 'c3'.repeat(16);
const RUN_ID = 'd4'.repeat(16);

/** Number text written verbatim into the JSON (`7.0`, `1e0`, 2^64 ...), which JS numbers cannot express. */
class Raw {
  constructor(readonly text: string) {}
}
const raw = (text: string) => new Raw(text);

/** Serialises test data; `Raw` values are written as-is and `undefined` fields are left out. */
function toJson(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

type Fields = Record<string, unknown>;

/** A valid flow-anchor payload (6B `flow_anchor_with_fraud_6B`). */
function flowAnchor(overrides: Fields = {}): Fields {
  return {
    flow_id: 1001,
    arrival_seq: 1,
    merchant_id: 42,
    party_id: 7,
    account_id: 8,
    instrument_id: 9,
    device_id: 10,
    ip_id: 11,
    ts_utc: '2026-02-06T17:00:00.000000Z',
    amount: raw('10.50'),
    seed: 42,
    manifest_fingerprint: MANIFEST,
    parameter_hash: PARAMS,
    scenario_id: 'baseline',
    fraud_flag: false,
    campaign_id: null,
    ...overrides,
  };
}

/** A valid traffic payload (6B `event_stream_with_fraud_6B`). */
function trafficEvent(overrides: Fields = {}): Fields {
  return {
    flow_id: 1001,
    event_seq: 3,
    event_type: 'AUTH_REQUEST',
    ts_utc: '2026-02-06T17:00:01.000000Z',
    amount: raw('99.99'),
    seed: 42,
    manifest_fingerprint: MANIFEST,
    parameter_hash: PARAMS,
    scenario_id: 'baseline',
    fraud_flag: true,
    campaign_id: 'camp_1',
    ...overrides,
  };
}

/** A minimal valid canonical envelope carrying a flow anchor. */
function envelope(overrides: Fields = {}): Fields {
  return {
    event_id: 'evt-0001',
    event_type: 's3_flow_anchor_with_fraud_6B',
    ts_utc: '2026-02-06T17:00:00.123456Z',
    manifest_fingerprint: MANIFEST,
    parameter_hash: PARAMS,
    seed: 42,
    scenario_id: 'baseline',
    platform_run_id: 'platform_20260206T170000Z',
    scenario_run_id: SCENARIO_RUN,
    payload: flowAnchor(),
    ...overrides,
  };
}

const line = (overrides: Fields = {}) => toJson(envelope(overrides));
const parse = (text: string) => parser.parse(text);

function expectValid(result: EnvelopeResult): Envelope {
  if (!result.ok) throw new Error(`expected a valid envelope, got ${result.class}: ${result.reason}`);
  return result.envelope;
}

function expectClass(result: EnvelopeResult, cls: string, reason?: RegExp | string) {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.class).toBe(cls);
  if (reason instanceof RegExp) expect(result.reason).toMatch(reason);
  else if (reason !== undefined) expect(result.reason).toBe(reason);
}

/** Parses a valid envelope line and validates its payload. */
function payloadProblem(overrides: Fields, payloadOf: (o: Fields) => Fields = flowAnchor): string | null {
  const eventType =
    payloadOf === flowAnchor ? 's3_flow_anchor_with_fraud_6B' : 's3_event_stream_with_fraud_6B';
  const env = expectValid(parse(line({ event_type: eventType, payload: payloadOf(overrides) })));
  return parser.validatePayload(env.eventType, env.payload);
}

// ---- valid records ----

describe('a valid envelope', () => {
  test('is read with its pins (camelCase), event time, schema version and payload', () => {
    const env = expectValid(parse(line()));
    expect(env.eventId).toBe('evt-0001');
    expect(env.eventType).toBe('s3_flow_anchor_with_fraud_6B');
    expect(env.tsUtc).toBe('2026-02-06T17:00:00.123456Z');
    expect(env.tsMicros).toBe(Date.UTC(2026, 1, 6, 17, 0, 0) * 1000 + 123456);
    expect(env.schemaVersion).toBeNull();
    expect(env.pins).toEqual({
      platformRunId: 'platform_20260206T170000Z',
      scenarioRunId: SCENARIO_RUN,
      scenarioId: 'baseline',
      manifestFingerprint: MANIFEST,
      parameterHash: PARAMS,
      seed: '42',
    });
    expect(env.payload?.merchant_id).toEqual(new LosslessNumber('42'));
    expect(parser.validatePayload(env.eventType, env.payload)).toBeNull();
  });

  test('schema_version is returned when sent', () => {
    expect(expectValid(parse(line({ schema_version: 'v1' }))).schemaVersion).toBe('v1');
  });

  test('run_id is carried in the pins only when sent', () => {
    expect(expectValid(parse(line({ run_id: RUN_ID }))).pins.runId).toBe(RUN_ID);
    expect('runId' in expectValid(parse(line())).pins).toBe(false);
  });

  test('the optional envelope fields of the schema are accepted', () => {
    const extras = {
      emitted_at_utc: '2026-02-06T17:00:01.000000Z',
      trace_id: 't',
      span_id: 's',
      parent_event_id: 'evt-0000',
      producer: 'data-engine',
    };
    expectValid(parse(line(extras)));
  });

  test('an envelope without payload is a valid envelope (its payload is then invalid)', () => {
    const env = expectValid(parse(line({ payload: undefined })));
    expect(env.payload).toBeUndefined();
    expect(parser.validatePayload(env.eventType, env.payload)).toBe('payload: is required');
  });

  test('integers above 2^53 (seed, ids) keep every digit', () => {
    const env = expectValid(
      parse(
        line({
          seed: raw('18446744073709551615'),
          payload: flowAnchor({ flow_id: raw('9007199254740993') }),
        }),
      ),
    );
    expect(env.pins.seed).toBe('18446744073709551615');
    expect((env.payload?.flow_id as LosslessNumber).value).toBe('9007199254740993');
  });

  test('decimal amounts keep their exact source text', () => {
    const env = expectValid(parse(line({ payload: flowAnchor({ amount: raw('0.10000000000000000001') }) })));
    expect((env.payload?.amount as LosslessNumber).value).toBe('0.10000000000000000001');
  });

  test('a line ending in \\r (CRLF file) or surrounded by whitespace still parses', () => {
    expectValid(parse(`${line()}\r`));
    expectValid(parse(`  ${line()}  `));
  });
});

// ---- framing (SPEC 1.3) ----

describe('framing', () => {
  test('a bare object is itself the event', () => {
    expectValid(parse(line()));
  });

  test('an object with key `envelope` carries the event in `envelope`', () => {
    const env = expectValid(parse(toJson({ envelope: envelope(), offset: 3, anything: 'else' })));
    expect(env.eventId).toBe('evt-0001');
  });

  test('an object with `payload` and `partition_key` is publisher framing: `payload` is the event', () => {
    expectValid(parse(toJson({ partition_key: '1001', payload: envelope() })));
  });

  test('an object with `payload` and `published_at_utc` is publisher framing too', () => {
    expectValid(parse(toJson({ published_at_utc: '2026-02-06T17:00:02.000000Z', payload: envelope() })));
  });

  test('`envelope` wins over publisher framing', () => {
    const env = expectValid(parse(toJson({ envelope: envelope(), payload: { x: 1 }, partition_key: 'k' })));
    expect(env.eventId).toBe('evt-0001');
  });

  test('`payload` alone is not framing: the outer object is the event (and has no pins)', () => {
    expectClass(
      parse(toJson({ payload: envelope() })),
      'pins_invalid',
      /^platform_run_id: required pin is missing/,
    );
  });

  test('a framed event that is not an object has no pins', () => {
    expectClass(parse(toJson({ envelope: 5 })), 'pins_invalid', /platform_run_id: .*not an object/);
    expectClass(parse(toJson({ envelope: null })), 'pins_invalid', /not an object/);
    expectClass(
      parse(toJson({ partition_key: 'k', payload: [envelope()] })),
      'pins_invalid',
      /not an object/,
    );
  });
});

// ---- unparseable ----

describe('unparseable', () => {
  test.each([
    ['an empty line', ''],
    ['spaces', '   '],
    ['a tab', '\t'],
    ['a lone CR', '\r'],
  ])('a blank line (%s)', (_name, text) => {
    expectClass(parse(text), 'unparseable', 'blank line');
  });

  test.each([['NaN'], ['{"amount":NaN}'], ['{"amount":Infinity}'], ['{"amount":-Infinity}']])(
    'non-JSON numbers: %s',
    (text) => {
      expectClass(parse(text), 'unparseable', /^invalid JSON/);
    },
  );

  test('truncated JSON', () => {
    const text = line();
    for (const cut of [1, 10, Math.floor(text.length / 2), text.length - 1]) {
      expectClass(parse(text.slice(0, cut)), 'unparseable', /^invalid JSON/);
    }
  });

  test.each([
    ['trailing garbage', '{"a":1} x'],
    ['single quotes', "{'a':1}"],
    ['a trailing comma', '{"a":1,}'],
    ['a leading zero', '{"a":01}'],
    ['a number as key', '{1:2}'],
    ['a bare word', 'hello'],
    ['a byte order mark', `\ufeff${line()}`],
    ['a raw control character in a string', '{"a":"x\u0001y"}'],
  ])('not JSON: %s', (_name, text) => {
    expectClass(parse(text), 'unparseable', /^invalid JSON/);
  });

  test.each([
    ['different values', '{"a":1,"a":2}'],
    ['equal values', '{"a":1,"a":1}'],
    ['in a nested object', '{"a":{"b":"x","b":"x"}}'],
    ['an envelope field', line().replace('"seed":42', '"seed":42,"seed":42')],
  ])('duplicate keys (%s)', (_name, text) => {
    expectClass(parse(text), 'unparseable', /duplicate key/i);
  });

  test('the duplicate key is named', () => {
    expectClass(parse('{"a":{"b":1,"c":2,"b":1}}'), 'unparseable', "invalid JSON: duplicate key 'b'");
  });

  test.each([
    ['an array', '[1,2]', /an array/],
    ['a string', '"x"', /a string/],
    ['a number', '42', /a number/],
    ['null', 'null', /null/],
    ['a boolean', 'true', /a boolean/],
  ])('a top-level value that is not an object: %s', (_name, text, reason) => {
    expectClass(parse(text), 'unparseable', reason);
  });

  test('deeply nested JSON is unparseable, not a crash', () => {
    const depth = 200_000;
    expectClass(
      parse(`{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`),
      'unparseable',
      'JSON nested too deeply',
    );
  });
});

// ---- pins_invalid (SPEC 2): checked before anything else in the envelope ----

const PINS = [
  'platform_run_id',
  'scenario_run_id',
  'scenario_id',
  'manifest_fingerprint',
  'parameter_hash',
  'seed',
];

describe('pins_invalid', () => {
  test.each(PINS)('%s missing', (pin) => {
    expectClass(parse(line({ [pin]: undefined })), 'pins_invalid', `${pin}: required pin is missing`);
  });

  test.each(PINS)('%s empty', (pin) => {
    expectClass(parse(line({ [pin]: '' })), 'pins_invalid', `${pin}: required pin is empty`);
  });

  test.each([
    ['platform_run_id', 'platform_2026'],
    ['platform_run_id', 'platform_20260206T170000'],
    ['platform_run_id', 'run_20260206T170000Z'],
    ['scenario_run_id', SCENARIO_RUN.toUpperCase()],
    ['scenario_run_id', SCENARIO_RUN.slice(1)],
    ['manifest_fingerprint', MANIFEST.slice(1)],
    ['manifest_fingerprint', `${MANIFEST.slice(1)}g`],
    ['parameter_hash', PARAMS.toUpperCase()],
    ['scenario_id', 'x'.repeat(257)],
  ])('%s malformed: %s', (pin, value) => {
    expectClass(parse(line({ [pin]: value })), 'pins_invalid', new RegExp(`^${pin}: must`));
  });

  test.each([
    ['platform_run_id', 5],
    ['scenario_run_id', null],
    ['manifest_fingerprint', ['x']],
    ['parameter_hash', { h: PARAMS }],
    ['scenario_id', true],
    ['scenario_id', null],
  ])('%s of the wrong JSON type (%p)', (pin, value) => {
    expectClass(parse(line({ [pin]: value })), 'pins_invalid', new RegExp(`^${pin}: must be a string`));
  });

  test.each([
    ['a string', '"42"'],
    ['a fraction', '7.0'],
    ['an exponent', '7e0'],
    ['negative', '-1'],
    ['2^64', '18446744073709551616'],
    ['null', 'null'],
    ['a boolean', 'true'],
  ])('seed as %s is malformed', (_name, text) => {
    expectClass(
      parse(line({ seed: raw(text) })),
      'pins_invalid',
      /^seed: must be an unsigned 64-bit integer/,
    );
  });

  test('seed 0 and 2^64-1 are the bounds of a valid seed', () => {
    expect(expectValid(parse(line({ seed: raw('0') }))).pins.seed).toBe('0');
    expect(expectValid(parse(line({ seed: raw('18446744073709551615') }))).pins.seed).toBe(
      '18446744073709551615',
    );
  });

  test('an integer scenario_id is read as its decimal string: 5 and "5" are the same run', () => {
    const asNumber = expectValid(parse(line({ scenario_id: raw('5') })));
    const asString = expectValid(parse(line({ scenario_id: '5' })));
    expect(asNumber.pins.scenarioId).toBe('5');
    expect(asNumber.pins).toEqual(asString.pins);
    expect(expectValid(parse(line({ scenario_id: raw('12345678901234567890123') }))).pins.scenarioId).toBe(
      '12345678901234567890123',
    );
  });

  test.each([['5.0'], ['5e0'], ['-1']])(
    'scenario_id %s (not a non-negative integer literal) is malformed',
    (text) => {
      expectClass(
        parse(line({ scenario_id: raw(text) })),
        'pins_invalid',
        /^scenario_id: must be a string or a non-negative integer/,
      );
    },
  );

  test('pins are checked before the rest of the envelope', () => {
    const broken = { seed: raw('7.0'), ts_utc: '2026-02-30T00:00:00.000000Z', event_id: '', extra: 1 };
    expectClass(parse(line(broken)), 'pins_invalid', /^seed/);
  });

  test('a pins_invalid result carries no pins', () => {
    const result = parse(line({ seed: undefined }));
    expect(result.ok === false && result.pins).toBeUndefined();
  });
});

// ---- envelope_invalid: any other envelope violation ----

describe('envelope_invalid', () => {
  test('the result carries the (valid) pins, so the record is known to belong to its run', () => {
    const result = parse(line({ extra: 1 }));
    expectClass(result, 'envelope_invalid');
    expect(result.ok === false && result.pins?.seed).toBe('42');
  });

  // PostgreSQL text cannot hold U+0000: a record carrying it where the projector stores text is invalid (quarantined
  // or stalled on), never applied, where its write would fail on every retry.
  test.each([
    ['event_id', 'envelope_invalid', 'event_id: must not contain U+0000'],
    ['event_type', 'envelope_invalid', 'event_type: must not contain U+0000'],
    ['scenario_id', 'pins_invalid', /^scenario_id: must be 1\.\.256 characters, none of them U\+0000/],
  ])('%s containing U+0000 makes the record %s', (field, cls, reason) => {
    const text = line({ [field]: 'flow_anchor\u0000x' });
    expect(text).toContain('\\u0000'); // the escape, as JSON carries it
    expectClass(parse(text), cls, reason);
  });

  test.each([
    ['Feb 30', '2026-02-30T00:00:00.000000Z'],
    ['Feb 29 of a common year', '2027-02-29T00:00:00.000000Z'],
    ['hour 24', '2026-02-06T24:00:00.000000Z'],
    ['second 60', '2026-02-06T23:59:60.000000Z'],
    ['month 13', '2026-13-01T00:00:00.000000Z'],
    ['after the last exact microsecond', '2255-06-05T23:47:34.740992Z'],
    ['year 9999', '9999-12-31T23:59:59.999999Z'],
    ['before the first exact microsecond', '1684-07-28T00:12:25.259008Z'],
  ])('ts_utc that is not a real instant (%s)', (_name, ts) => {
    expectClass(
      parse(line({ ts_utc: ts })),
      'envelope_invalid',
      `ts_utc: ${ts} is not a real instant from ${MIN_TIMESTAMP} to ${MAX_TIMESTAMP}`,
    );
  });

  test('Feb 29 of a leap year is a real instant', () => {
    expectValid(parse(line({ ts_utc: '2028-02-29T00:00:00.000000Z' })));
  });

  test.each([
    ['3 fraction digits', '2026-02-06T17:00:00.123Z'],
    ['9 fraction digits', '2026-02-06T17:00:00.123456789Z'],
    ['no fraction', '2026-02-06T17:00:00Z'],
    ['an offset instead of Z', '2026-02-06T17:00:00.000000+00:00'],
    ['lowercase z', '2026-02-06T17:00:00.000000z'],
    ['a space separator', '2026-02-06 17:00:00.000000Z'],
    ['a date only', '2026-02-06'],
  ])('ts_utc in the wrong form (%s)', (_name, ts) => {
    expectClass(
      parse(line({ ts_utc: ts })),
      'envelope_invalid',
      /^ts_utc: must be YYYY-MM-DDTHH:MM:SS\.ffffffZ/,
    );
  });

  test('ts_utc missing or not a string', () => {
    expectClass(parse(line({ ts_utc: undefined })), 'envelope_invalid', 'ts_utc: is required');
    expectClass(parse(line({ ts_utc: 1770397200 })), 'envelope_invalid', /^ts_utc: must be/);
  });

  test.each([
    ['missing', undefined, 'event_id: is required'],
    ['empty', '', /^event_id: must be a string of 1\.\.256 characters/],
    ['257 characters', 'e'.repeat(257), /^event_id: must be a string of 1\.\.256 characters/],
    ['a number', 7, /^event_id: must be a string/],
    ['null', null, /^event_id: must be a string/],
  ])('event_id %s', (_name, value, reason) => {
    expectClass(parse(line({ event_id: value })), 'envelope_invalid', reason);
  });

  test('event_id of 256 characters (counted as code points) is valid', () => {
    expectValid(parse(line({ event_id: 'e'.repeat(256) })));
    expectValid(parse(line({ event_id: '😀'.repeat(256) })));
    expectClass(parse(line({ event_id: '😀'.repeat(257) })), 'envelope_invalid', /^event_id/);
  });

  test('a property the envelope schema does not define', () => {
    expectClass(parse(line({ amount: 5 })), 'envelope_invalid', 'amount: is not an allowed property');
  });

  test.each([
    ['uppercase', RUN_ID.toUpperCase()],
    ['too short', RUN_ID.slice(2)],
    ['empty', ''],
  ])(
    'a malformed run_id (%s) is envelope_invalid, not pins_invalid: run_id is not a required pin',
    (_name, value) => {
      expectClass(parse(line({ run_id: value })), 'envelope_invalid', /^run_id: must match/);
    },
  );

  test('a run_id that is not a string', () => {
    expectClass(parse(line({ run_id: 5 })), 'envelope_invalid', /^run_id: must be a string/);
  });

  test('emitted_at_utc in the wrong form', () => {
    expectClass(
      parse(line({ emitted_at_utc: '2026-02-06T17:00:00Z' })),
      'envelope_invalid',
      /^emitted_at_utc: must match pattern/,
    );
  });

  test.each([
    ['event_type missing', { event_type: undefined }, 'event_type: is required'],
    ['event_type empty', { event_type: '' }, /^event_type: must NOT have fewer than 1 characters/],
    ['event_type a number', { event_type: 3 }, 'event_type: must be string'],
    [
      'schema_version too long',
      { schema_version: 'v'.repeat(65) },
      /^schema_version: must NOT have more than 64/,
    ],
    ['schema_version a number', { schema_version: 1 }, 'schema_version: must be string'],
    ['payload an array', { payload: [flowAnchor()] }, 'payload: must be object'],
    ['payload a string', { payload: 'x' }, 'payload: must be object'],
    ['trace_id empty', { trace_id: '' }, /^trace_id: must NOT have fewer than 1 characters/],
    ['parent_event_id a number', { parent_event_id: 1 }, /^parent_event_id: must be string/],
  ])('%s', (_name, overrides, reason) => {
    expectClass(parse(line(overrides)), 'envelope_invalid', reason);
  });
});

// ---- payload_invalid (the 6B schemas, validated in full; nothing coerced) ----

describe('payload validation', () => {
  test('event types map to their 6B payload schemas', () => {
    expect(PAYLOAD_SCHEMA_BY_EVENT_TYPE).toEqual({
      s3_flow_anchor_with_fraud_6B: 'flow_anchor_with_fraud_6B',
      s3_event_stream_with_fraud_6B: 'event_stream_with_fraud_6B',
    });
  });

  test('valid flow-anchor and traffic payloads', () => {
    expect(payloadProblem({})).toBeNull();
    expect(payloadProblem({}, trafficEvent)).toBeNull();
    expect(payloadProblem({ campaign_id: 'camp_7', fraud_flag: true })).toBeNull();
  });

  test.each([
    ['a string', '10.50'],
    ['null', null],
    ['a boolean', true],
    ['an object', { value: '10.5' }],
  ])('amount as %s is invalid', (_name, amount) => {
    expect(payloadProblem({ amount })).toBe('payload.amount: must be number');
    expect(payloadProblem({ amount }, trafficEvent)).toBe('payload.amount: must be number');
  });

  test('amount may be any JSON number: integer, negative, exponent form', () => {
    for (const amount of ['10', '-3.25', '1.5e2', '0'])
      expect(payloadProblem({ amount: raw(amount) })).toBeNull();
  });

  test('an amount with an absurd exponent is refused (its exact decimal would not fit in memory)', () => {
    expect(payloadProblem({ amount: raw('1e999999999') })).toMatch(
      /^payload\.amount: must be number with an exponent/,
    );
  });

  test.each([
    ['a string', '"7"'],
    ['a fraction', '7.0'],
    ['an exponent', '7e0'],
    ['a decimal', '7.5'],
    ['null', 'null'],
  ])('an id given as %s is invalid', (_name, text) => {
    for (const field of [
      'flow_id',
      'arrival_seq',
      'merchant_id',
      'party_id',
      'account_id',
      'instrument_id',
      'device_id',
      'ip_id',
    ]) {
      expect(payloadProblem({ [field]: raw(text) })).toBe(`payload.${field}: must be integer`);
    }
    expect(payloadProblem({ event_seq: raw(text) }, trafficEvent)).toBe('payload.event_seq: must be integer');
  });

  test('ids above 2^53 and negative ids are integers (the schema sets no bounds)', () => {
    expect(payloadProblem({ merchant_id: raw('123456789012345678901234567890') })).toBeNull();
    expect(payloadProblem({ merchant_id: raw('-1') })).toBeNull();
  });

  test('a missing required field', () => {
    expect(payloadProblem({ merchant_id: undefined })).toBe('payload.merchant_id: is required');
    expect(payloadProblem({ campaign_id: undefined }, trafficEvent)).toBe('payload.campaign_id: is required');
  });

  test('a field the schema does not define', () => {
    expect(payloadProblem({ merchant_name: 'x' })).toBe('payload.merchant_name: is not an allowed property');
  });

  test.each([
    ['fraud_flag', 'true', 'payload.fraud_flag: must be boolean'],
    ['fraud_flag', 0, 'payload.fraud_flag: must be boolean'],
    ['campaign_id', 5, 'payload.campaign_id: must be null or string'],
    ['scenario_id', 5, 'payload.scenario_id: must be string'],
    ['ts_utc', 5, 'payload.ts_utc: must be string'],
    ['manifest_fingerprint', MANIFEST.toUpperCase(), /^payload\.manifest_fingerprint: must match pattern/],
    ['parameter_hash', 'x', /^payload\.parameter_hash: must match pattern/],
  ])('%s = %p is invalid', (field, value, reason) => {
    const problem = payloadProblem({ [field]: value });
    if (reason instanceof RegExp) expect(problem).toMatch(reason);
    else expect(problem).toBe(reason);
  });

  test('payload ts_utc and seed are checked by their schema only and need not equal the envelope', () => {
    expect(payloadProblem({ ts_utc: 'not a timestamp', seed: 7, scenario_id: 'other' })).toBeNull();
    expect(payloadProblem({ seed: raw('7.0') })).toBe('payload.seed: must be integer');
  });

  test('a missing payload is invalid', () => {
    expect(parser.validatePayload('s3_flow_anchor_with_fraud_6B', undefined)).toBe('payload: is required');
  });

  test('a payload of the other event type is invalid', () => {
    const env = expectValid(parse(line({ payload: trafficEvent() })));
    expect(parser.validatePayload(env.eventType, env.payload)).toMatch(/^payload\./);
  });

  test('an event type without a payload schema is reported, not thrown', () => {
    expect(parser.validatePayload('decision_response', {})).toBe(
      'event_type: no payload schema for "decision_response"',
    );
  });

  test('a parser needs every payload schema', () => {
    expect(() => new RecordParser({ envelopeSchema, payloadSchemas: {} })).toThrow(
      /flow_anchor_with_fraud_6B/,
    );
  });
});

// ---- payload hash (SPEC 4.3) ----

describe('payloadHash', () => {
  const hashOf = (overrides: Fields, payload: Fields = {}) =>
    payloadHash(expectValid(parse(line({ ...overrides, payload: flowAnchor(payload) }))));

  test('is sha256 of the JCS form of {event_type, schema_version, payload}, schema_version null when absent', () => {
    const env = expectValid(parse(line({ payload: { b: raw('10.50'), a: 'x' } })));
    const jcs =
      '{"event_type":"s3_flow_anchor_with_fraud_6B","payload":{"a":"x","b":10.5},"schema_version":null}';
    expect(payloadHash(env)).toBe(createHash('sha256').update(jcs).digest('hex'));
    expect(payloadHash(env)).toMatch(/^[0-9a-f]{64}$/);
  });

  test.each([
    ['10.50', '10.5'],
    ['1.5e2', '150'],
    ['-0.0', '0'],
    ['1E+1', '10'],
    ['0.10', '1e-1'],
  ])('numbers hash by exact value: %s and %s are the same amount', (a, b) => {
    expect(hashOf({}, { amount: raw(a) })).toBe(hashOf({}, { amount: raw(b) }));
  });

  test('different amounts hash differently, even where doubles would round them together', () => {
    expect(hashOf({}, { amount: raw('10.5') })).not.toBe(hashOf({}, { amount: raw('10.51') }));
    expect(hashOf({}, { amount: raw('0.1000000000000000000001') })).not.toBe(
      hashOf({}, { amount: raw('0.1') }),
    );
  });

  test('ids above 2^53 hash by every digit', () => {
    expect(hashOf({}, { flow_id: raw('9007199254740993') })).not.toBe(
      hashOf({}, { flow_id: raw('9007199254740992') }),
    );
  });

  test('key order and whitespace do not matter', () => {
    const text = line();
    const reordered = toJson(Object.fromEntries(Object.entries(envelope()).reverse()));
    const spaced = JSON.stringify(JSON.parse(text.replace('10.50', '10.5')), null, 2).replace(/\n/g, ' ');
    const a = payloadHash(expectValid(parse(text)));
    expect(payloadHash(expectValid(parse(reordered)))).toBe(a);
    expect(payloadHash(expectValid(parse(spaced)))).toBe(a);
  });

  test('event_type and schema_version are part of the hash; the rest of the envelope is not', () => {
    const base = hashOf({});
    expect(hashOf({ schema_version: 'v1' })).not.toBe(base);
    expect(hashOf({ event_id: 'other', ts_utc: '2026-02-07T00:00:00.000000Z', producer: 'p' })).toBe(base);
    const traffic = expectValid(parse(line({ event_type: 's3_event_stream_with_fraud_6B' })));
    expect(payloadHash(traffic)).not.toBe(base);
  });
});

// ---- the lossless parser ----

describe('parseJsonStrict', () => {
  test('reads numbers exactly like parseLossless', () => {
    const text =
      '{"a":[1,-0,7.0,7e0,1.5E+2,18446744073709551616,0.1],"b":{"c":null,"d":true,"e":"1"},"f":-12.5e-3}';
    expect(parseJsonStrict(text)).toEqual(parseLossless(text));
  });

  test('keeps strings that look like numbers or contain escapes as strings', () => {
    const text = '{"a":"12","b":"q\\"1:2\\"","c":"\\\\","d":"\\u0000x","e":"\\\\\\"3"}';
    expect(parseJsonStrict(text)).toEqual(JSON.parse(text));
  });

  test('digit-led keys (reordered by JS objects) still map each number to its own field', () => {
    expect(parseJsonStrict('{"b":1,"2":2.0,"1":3e0}')).toEqual({
      b: new LosslessNumber('1'),
      2: new LosslessNumber('2.0'),
      1: new LosslessNumber('3e0'),
    });
  });

  test('rejects every repeated key, naming it', () => {
    expect(() => parseJsonStrict('{"k":1,"k":1}')).toThrow(DuplicateKeyError);
    expect(() => parseJsonStrict('{"1":1,"1":1}')).toThrow("duplicate key '1'");
  });

  test('a __proto__ key is an ordinary own key', () => {
    const tree = parseJsonStrict('{"__proto__":{"x":1}}') as JsonObject;
    expect(Object.keys(tree)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(tree)).toBe(Object.prototype);
  });
});

// ---- properties ----

/** JSON text whose numbers take every literal form (fractions, exponents, huge integers) and keys may repeat. */
const numberText = fc.stringMatching(/^-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?$/);
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    numberText,
    fc.constantFrom('true', 'false', 'null'),
    fc.string({ unit: 'binary' }).map((s) => JSON.stringify(s)),
    fc.array(tie('value')).map((items) => `[${items.join(',')}]`),
    fc
      .array(fc.tuple(fc.oneof(fc.string(), fc.constantFrom('a', '1', '__proto__')), tie('value')))
      .map((members) => `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).value;

describe('properties', () => {
  test('parse never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(['unparseable', 'pins_invalid', 'envelope_invalid', true]).toContain(
          classOf(parser.parse(text)),
        );
      }),
      { numRuns: 2000 },
    );
  });

  test('parse never throws on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        classOf(parser.parse(JSON.stringify(value)));
      }),
      { numRuns: 2000 },
    );
  });

  test('parse never throws on a valid envelope with arbitrary fields added or replaced', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...Object.keys(envelope()), 'run_id', 'x'), fc.jsonValue()),
        (fields) => {
          const result = parser.parse(toJson(envelope(fields)));
          classOf(result);
          if (result.ok) parser.validatePayload(result.envelope.eventType, result.envelope.payload);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('parseJsonStrict agrees with parseLossless (except that it rejects every repeated key)', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const expected = attempt(() => parseLossless(text));
        const actual = attempt(() => parseJsonStrict(text));
        if (actual instanceof DuplicateKeyError) return;
        if (expected instanceof Error) expect(actual).toBeInstanceOf(Error);
        else expect(actual).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  test('parseJsonStrict fails exactly when parseLossless fails on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const expected = attempt(() => parseLossless(text));
        const actual = attempt(() => parseJsonStrict(text));
        if (!(actual instanceof DuplicateKeyError))
          expect(actual instanceof Error).toBe(expected instanceof Error);
      }),
      { numRuns: 3000 },
    );
  });
});

/** The class of a result; fails the test if the parser's safety net (an unexpected exception) was reached. */
function classOf(result: EnvelopeResult): string | true {
  if (!result.ok) expect(result.reason).not.toMatch(/^envelope could not be validated/);
  return result.ok ? true : result.class;
}

function attempt<T>(fn: () => T): T | Error {
  try {
    return fn();
  } catch (error) {
    return error as Error;
  }
}
