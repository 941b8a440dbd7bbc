/**
 * Validation of a `features` request (SPEC 5.4, 5.8), shared by GraphQL and the contract endpoint: which code each
 * mistake gets, what the detail names, and how duplicates and limits count.
 */
import path from 'node:path';
import { loadPolicyFile } from '../../src/core/policy-file';
import { FeaturesRequestError } from '../../src/serving/errors';
import { validateRequest, type FeatureRequestInput } from '../../src/serving/request';
import { examplePins } from '../fixtures/pins';

const policy = loadPolicyFile(path.resolve(__dirname, '../../config/features.yaml'));

const PINS = examplePins('18446744073709551615');

function input(patch: Partial<FeatureRequestInput> = {}): FeatureRequestInput {
  return {
    pins: PINS,
    asOf: '2026-02-06T17:05:00.123456Z',
    keys: [{ keyType: 'merchant_id', keyId: '7' }],
    groups: [{ name: 'merchant_velocity', version: 'v1' }],
    ...patch,
  };
}

/** The error a request is refused with, as `{code, retryable, detail}`. */
function refusal(i: FeatureRequestInput): { code: string; retryable: boolean; detail: string } {
  try {
    validateRequest(i, policy);
  } catch (err) {
    if (!(err instanceof FeaturesRequestError)) throw err;
    return { code: err.code, retryable: err.retryable, detail: err.detail };
  }
  throw new Error('request was accepted');
}

const keys = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ keyType: 'merchant_id', keyId: String(from + i) }));

describe('validateRequest: pins', () => {
  it('accepts six well-formed pins and keeps runId only when sent', () => {
    expect(validateRequest(input(), policy).pins).toEqual(PINS);
    expect(validateRequest(input({ pins: { ...PINS, runId: 'e'.repeat(32) } }), policy).pins).toEqual({
      ...PINS,
      runId: 'e'.repeat(32),
    });
    expect(validateRequest(input({ pins: { ...PINS, runId: null } }), policy).pins).not.toHaveProperty(
      'runId',
    );
  });

  it('answers MISSING_PINS naming every absent, null or empty required pin', () => {
    const { seed: _seed, ...withoutSeed } = PINS;
    expect(refusal(input({ pins: { ...withoutSeed, scenarioRunId: '', parameterHash: null } }))).toEqual({
      code: 'MISSING_PINS',
      retryable: false,
      detail: 'missing pins: scenarioRunId, parameterHash, seed',
    });
  });

  it.each([
    ['platformRunId', 'platform_2026-02-06'],
    ['scenarioRunId', 'D'.repeat(32)],
    ['manifestFingerprint', 'b'.repeat(63)],
    ['parameterHash', 'g'.repeat(64)],
    ['seed', '-1'],
    ['seed', '007'],
    ['seed', '1e3'],
    ['seed', '18446744073709551616'],
    ['scenarioId', 'x'.repeat(257)],
    ['runId', 'not-hex'],
  ])('answers INVALID_REQUEST for a malformed %s (%s)', (field, value) => {
    expect(refusal(input({ pins: { ...PINS, [field]: value } }))).toMatchObject({
      code: 'INVALID_REQUEST',
      retryable: false,
      detail: expect.stringMatching(new RegExp(`^pins\\.${field}: `)),
    });
  });
});

describe('validateRequest: asOf', () => {
  it('accepts a real instant with microseconds, including a leap day', () => {
    expect(validateRequest(input({ asOf: '2024-02-29T23:59:59.999999Z' }), policy).asOfUtc).toBe(
      '2024-02-29T23:59:59.999999Z',
    );
  });

  it.each([
    '2026-02-29T00:00:00.000000Z',
    '2026-02-06T17:05:00Z',
    '2026-02-06T17:05:00.123Z',
    '2026-02-06T17:05:00.123456',
    '',
    // Beyond exact microseconds (2^53): refused, never rounded.
    '9999-12-31T23:59:59.999999Z',
    '2255-06-05T23:47:34.740992Z',
  ])('answers INVALID_REQUEST for %j', (asOf) => {
    expect(refusal(input({ asOf }))).toMatchObject({
      code: 'INVALID_REQUEST',
      detail: expect.stringMatching(/^asOf: /),
    });
  });
});

describe('validateRequest: groups and keys', () => {
  it('keeps distinct groups and keys in request order: duplicates count once', () => {
    const req = validateRequest(
      input({
        groups: [
          { name: 'device_velocity', version: 'v1' },
          { name: 'merchant_velocity', version: 'v1' },
          { name: 'device_velocity', version: 'v1' },
        ],
        keys: [
          { keyType: 'merchant_id', keyId: '9' },
          { keyType: 'device_id', keyId: '9' },
          { keyType: 'merchant_id', keyId: '9' },
          { keyType: 'merchant_id', keyId: '09' },
        ],
      }),
      policy,
    );
    expect(req.groups.map((g) => g.name)).toEqual(['device_velocity', 'merchant_velocity']);
    // Key ids are exact strings: "09" is another key than "9".
    expect(req.keys).toEqual([
      { keyType: 'merchant_id', keyId: '9' },
      { keyType: 'device_id', keyId: '9' },
      { keyType: 'merchant_id', keyId: '09' },
    ]);
  });

  it('allows 200 distinct keys (sent twice each) and refuses 201', () => {
    expect(validateRequest(input({ keys: [...keys(200), ...keys(200)] }), policy).keys).toHaveLength(200);
    expect(refusal(input({ keys: keys(201) }))).toEqual({
      code: 'INVALID_REQUEST',
      retryable: false,
      detail: 'keys: 201 distinct keys requested, at most 200',
    });
  });

  it('refuses more than 20 distinct groups before looking them up, and counts repeated groups once', () => {
    const many = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ name: 'merchant_velocity', version: `v${i + 1}` }));
    expect(refusal(input({ groups: many(21) })).detail).toBe(
      'groups: 21 distinct groups requested, at most 20',
    );
    // 20 distinct is within the limit: the refusal is then about the unknown versions.
    expect(refusal(input({ groups: many(20) })).detail).toMatch(
      /^groups\[1\]: unknown group or version merchant_velocity\/v2/,
    );
    const repeated = Array.from({ length: 30 }, () => ({ name: 'merchant_velocity', version: 'v1' }));
    expect(validateRequest(input({ groups: repeated }), policy).groups).toHaveLength(1);
  });

  it('refuses an unknown group or version, naming it and the policy', () => {
    expect(refusal(input({ groups: [{ name: 'merchant_velocity', version: 'v2' }] }))).toEqual({
      code: 'INVALID_REQUEST',
      retryable: false,
      detail: 'groups[0]: unknown group or version merchant_velocity/v2 in policy ofp.features.default r1',
    });
  });

  it('refuses text PostgreSQL cannot hold (U+0000) in a key id or a pin, as INVALID_REQUEST naming the field', () => {
    const nulKey = refusal(input({ keys: [{ keyType: 'merchant_id', keyId: '12\u00003' }] }));
    expect([nulKey.code, nulKey.detail]).toEqual([
      'INVALID_REQUEST',
      'keys[0].keyId: must not contain U+0000',
    ]);
    const nulPin = refusal(input({ pins: { ...input().pins, scenarioId: 'baseline\u0000' } }));
    expect([nulPin.code, nulPin.detail]).toEqual([
      'INVALID_REQUEST',
      'pins.scenarioId: must be 1..256 characters, none of them U+0000',
    ]);
  });

  it('refuses a key whose type no requested group serves', () => {
    expect(refusal(input({ keys: [{ keyType: 'flow_id', keyId: '1' }] })).detail).toBe(
      'keys[0].keyType: flow_id is served by none of the requested groups (merchant_id)',
    );
  });

  it('refuses empty key or group lists and key ids outside 1..256 characters', () => {
    expect(refusal(input({ keys: [] })).detail).toBe('keys: at least one key is required');
    expect(refusal(input({ groups: [] })).detail).toBe('groups: at least one group is required');
    expect(refusal(input({ keys: [{ keyType: 'merchant_id', keyId: '' }] })).detail).toBe(
      'keys[0].keyId: must be 1..256 characters',
    );
    expect(refusal(input({ keys: [{ keyType: 'merchant_id', keyId: '9'.repeat(257) }] })).code).toBe(
      'INVALID_REQUEST',
    );
    expect(
      validateRequest(input({ keys: [{ keyType: 'merchant_id', keyId: '9'.repeat(256) }] }), policy).keys,
    ).toHaveLength(1);
  });
});

describe('validateRequest: read-your-event arguments', () => {
  it('defaults waitMs to 0 and accepts up to 5000 ms', () => {
    expect(validateRequest(input(), policy).waitMs).toBe(0);
    expect(validateRequest(input({ waitMs: 5000 }), policy).waitMs).toBe(5000);
  });

  it.each([5001, -1, 1.5])('refuses waitMs %p', (waitMs) => {
    expect(refusal(input({ waitMs })).detail).toBe('waitMs: must be an integer 0..5000');
  });

  it('flattens minBasis into (stream, partition, offset) with numeric offsets', () => {
    const req = validateRequest(
      input({
        minBasis: [
          {
            stream: 'a',
            offsets: [
              { partition: 0, offset: '0' },
              { partition: 3, offset: '120' },
            ],
          },
          { stream: 'b', offsets: [{ partition: 1, offset: '7' }] },
        ],
      }),
      policy,
    );
    expect(req.minBasis).toEqual([
      { stream: 'a', partition: 0, offset: 0 },
      { stream: 'a', partition: 3, offset: 120 },
      { stream: 'b', partition: 1, offset: 7 },
    ]);
  });

  it.each([
    [{ partition: 0, offset: '012' }, 'minBasis[0].offsets[0].offset: must be a decimal offset'],
    [{ partition: 0, offset: '-1' }, 'minBasis[0].offsets[0].offset: must be a decimal offset'],
    [{ partition: -1, offset: '1' }, 'minBasis[0].offsets[0].partition: must be >= 0'],
  ])('refuses the minBasis offset %j', (offset, detail) => {
    expect(refusal(input({ minBasis: [{ stream: 'a', offsets: [offset] }] })).detail).toBe(detail);
  });
});
