/**
 * The pin checks of src/core/pins.ts: the hand-written uint64 test and the remembered pattern matches answer exactly as
 * the regexes they stand for, and the run key memo never answers for other pins.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson } from '../../src/core/json';
import {
  PIN_PATTERNS,
  UINT64_MAX,
  isUint64Text,
  matchesPinPattern,
  runKeyOf,
  type ContextPins,
} from '../../src/core/pins';

/** The former definition, kept as the reference. */
function referenceIsUint64Text(text: string): boolean {
  return /^(0|[1-9][0-9]{0,19})$/.test(text) && BigInt(text) <= UINT64_MAX;
}

const HEX64 = 'ab'.repeat(32);
const OTHER_HEX64 = 'cd'.repeat(32);
const HEX32 = 'ef'.repeat(16);

describe('isUint64Text', () => {
  test('answers as the regex and BigInt bound did', () => {
    const digits = fc.string({ unit: fc.constantFrom('0', '1', '4', '8', '9', '-', 'x'), maxLength: 22 });
    const nearMax = fc.bigInt({ min: UINT64_MAX - 1000n, max: UINT64_MAX + 1000n }).map(String);
    fc.assert(
      fc.property(fc.oneof(digits, nearMax, fc.string()), (text) => {
        expect(isUint64Text(text)).toBe(referenceIsUint64Text(text));
      }),
      { numRuns: 10000 },
    );
    for (const text of [
      '',
      '0',
      '00',
      '01',
      '18446744073709551615',
      '18446744073709551616',
      '99999999999999999999',
    ])
      expect(isUint64Text(text)).toBe(referenceIsUint64Text(text));
  });
});

describe('matchesPinPattern', () => {
  test('answers as the pin pattern for any sequence of values, matching or not', () => {
    const fields = Object.keys(PIN_PATTERNS) as (keyof typeof PIN_PATTERNS)[];
    const value = fc.constantFrom(
      HEX64,
      OTHER_HEX64,
      HEX64.toUpperCase(),
      HEX32,
      `${HEX32}0`,
      'platform_20260206T160000Z',
      'platform_20260206T160000',
      '',
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...fields), value), { maxLength: 20 }), (steps) => {
        for (const [field, text] of steps)
          expect(matchesPinPattern(field, text)).toBe(PIN_PATTERNS[field].test(text));
      }),
    );
  });
});

describe('runKeyOf', () => {
  const base: ContextPins = {
    platformRunId: 'platform_20260206T160000Z',
    scenarioRunId: HEX32,
    scenarioId: 'baseline_v1',
    manifestFingerprint: HEX64,
    parameterHash: OTHER_HEX64,
    seed: '7',
  };
  const expected = (pins: ContextPins) =>
    createHash('sha256')
      .update(
        canonicalJson({
          platform_run_id: pins.platformRunId,
          scenario_run_id: pins.scenarioRunId,
          scenario_id: pins.scenarioId,
          manifest_fingerprint: pins.manifestFingerprint,
          parameter_hash: pins.parameterHash,
          seed: pins.seed,
        }),
      )
      .digest('hex');

  test('is the hash of the six pins for any sequence of runs differing in one pin', () => {
    const variants: ContextPins[] = [
      base,
      { ...base, runId: 'ff'.repeat(16) },
      { ...base, platformRunId: 'platform_20260207T160000Z' },
      { ...base, scenarioRunId: '01'.repeat(16) },
      { ...base, scenarioId: 'other' },
      { ...base, manifestFingerprint: OTHER_HEX64 },
      { ...base, parameterHash: HEX64 },
      { ...base, seed: '8' },
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...variants), { maxLength: 12 }), (sequence) => {
        for (const pins of sequence) expect(runKeyOf(pins)).toBe(expected(pins));
      }),
    );
  });

  test('a pins object changed after a call gets the key of its new pins', () => {
    const pins = { ...base };
    expect(runKeyOf(pins)).toBe(expected(base));
    pins.seed = '9';
    expect(runKeyOf(pins)).toBe(expected({ ...base, seed: '9' }));
  });
});
