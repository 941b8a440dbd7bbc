/**
 * The hand-written fast paths of src/core/json.ts and src/core/decimal.ts answer exactly as the definitions they
 * replace: the regexes of integer and canonical literals, and a plain sort-and-stringify canonical JSON.
 */
import fc from 'fast-check';
import { Decimal, canonicalDecimal } from '../../src/core/decimal';
import { LosslessNumber, canonicalJson, isIntegerText } from '../../src/core/json';

// ---- the former definitions, kept here as the reference ----

const INTEGER_LITERAL = /^-?(0|[1-9][0-9]*)$/;

function referenceCanonicalDecimal(value: string): string {
  if (/^-?(0|[1-9][0-9]*)$/.test(value) || /^-?(0|[1-9][0-9]*)\.[0-9]*[1-9]$/.test(value)) {
    return value === '-0' || /^-0\.0*$/.test(value) ? '0' : value;
  }
  const d = new Decimal(value);
  if (d.isZero()) return '0';
  let text = d.toFixed();
  if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  return text;
}

function referenceCanonicalJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Object.is(value, -0) ? '0' : String(value);
  if (value instanceof LosslessNumber) return referenceCanonicalDecimal(value.value);
  if (Array.isArray(value)) return `[${value.map(referenceCanonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const members = Object.keys(obj)
    .sort()
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${referenceCanonicalJson(obj[k])}`);
  return `{${members.join(',')}}`;
}

// ---- generators ----

/** Text over the characters that matter to number literals, plus a few that do not. */
const numberishText = fc.string({
  unit: fc.constantFrom('-', '+', '.', 'e', 'E', '0', '0', '1', '5', '9', 'x', ' '),
  maxLength: 12,
});

/** Valid JSON number literals in every form: signs, leading zeros of fractions, exponents, trailing zeros. */
const numberLiteral = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,24}$/)),
    fc.option(fc.stringMatching(/^[0-9]{1,8}$/), { nil: undefined }),
    fc.option(fc.stringMatching(/^[eE][+-]?[0-9]{1,2}$/), { nil: undefined }),
  )
  .map(([negative, int, frac, exp]) => `${negative ? '-' : ''}${int}${frac ? `.${frac}` : ''}${exp ?? ''}`);

/** Keys from a small pool (so shapes repeat, in varying orders) and arbitrary ones (escapes, lone surrogates). */
const key = fc.oneof(
  fc.constantFrom('a', 'b', 'B', 'amount', 'flow_id', 'é', '\u0000', '"', '\\', '\ud800', '😀', ''),
  fc.string({ unit: 'binary', maxLength: 4 }),
);

const stringValue = fc.oneof(
  fc.constantFrom('', 'plain', 'tab\there', 'quote"', 'back\\slash', '\u001f', '\u2028', 'lone\udc00', '😀'),
  fc.string({ unit: 'binary', maxLength: 6 }),
);

const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    stringValue,
    numberLiteral.map((text) => new LosslessNumber(text)),
    fc.integer({ min: -1000, max: 1000 }),
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.dictionary(key, fc.option(tie('tree'), { nil: undefined, freq: 6 }), { maxKeys: 6 }),
  ),
}));

// ---- properties ----

describe('isIntegerText', () => {
  test('answers as /^-?(0|[1-9][0-9]*)$/ does', () => {
    fc.assert(
      fc.property(fc.oneof(numberishText, numberLiteral, fc.string()), (text) => {
        expect(isIntegerText(text)).toBe(INTEGER_LITERAL.test(text));
      }),
      { numRuns: 5000 },
    );
    for (const text of ['', '-', '0', '-0', '00', '01', '10', '-01', '1.0', '1e0', '+1'])
      expect(isIntegerText(text)).toBe(INTEGER_LITERAL.test(text));
  });
});

describe('canonicalDecimal', () => {
  test('answers as the regex-and-Decimal definition does for every number literal', () => {
    fc.assert(
      fc.property(numberLiteral, (text) => {
        expect(canonicalDecimal(text)).toBe(referenceCanonicalDecimal(text));
      }),
      { numRuns: 5000 },
    );
    for (const text of ['-0', '-0.0', '-0.000', '0.0', '10.50', '10.5', '-10.05', '1.5e2', '0.10', '007'])
      expect(canonicalDecimal(text)).toBe(referenceCanonicalDecimal(text));
  });
});

describe('canonicalJson', () => {
  test('writes what sorting and stringifying every object anew writes', () => {
    fc.assert(
      fc.property(fc.array(tree, { minLength: 1, maxLength: 8 }), (trees) => {
        // Several trees in a row, so that the key-order memo is hit, missed and evicted along the way.
        for (const t of trees) expect(canonicalJson(t)).toBe(referenceCanonicalJson(t));
      }),
      { numRuns: 1000 },
    );
  });

  test('the same keys in another order are sorted anew, not taken for the remembered order', () => {
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    expect(canonicalJson({ a: 2, b: 1 })).toBe('{"a":2,"b":1}');
    expect(canonicalJson({ b: 1, a: 2, c: 3 })).toBe('{"a":2,"b":1,"c":3}');
    expect(canonicalJson({ b: 1 })).toBe('{"b":1}');
  });

  test('many shapes and wide objects are written exactly', () => {
    for (let shape = 0; shape < 40; shape++) {
      const obj: Record<string, number> = {};
      for (let k = shape + 70; k >= 0; k--) obj[`k${k}`] = k;
      expect(canonicalJson(obj)).toBe(referenceCanonicalJson(obj));
    }
    for (let round = 0; round < 3; round++) {
      for (let shape = 0; shape < 20; shape++) {
        const obj = { [`s${shape}`]: round, z: shape, a: null };
        expect(canonicalJson(obj)).toBe(referenceCanonicalJson(obj));
      }
    }
  });

  test('an undefined member is left out wherever it sits', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson({ b: 1, a: undefined })).toBe('{"b":1}');
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson({ a: undefined })).toBe('{}');
  });
});
