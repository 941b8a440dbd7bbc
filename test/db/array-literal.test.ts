/**
 * Array parameters written directly must mean to PostgreSQL exactly what node-postgres's own conversion of the
 * same JavaScript array means: for strings the very same text, for integers the same text without the quotes
 * (which PostgreSQL's array input does not need around a number).
 */
import fc from 'fast-check';
import {
  ArrayLiteralError,
  dictionaryColumn,
  integerArrayLiteral,
  textArrayLiteral,
} from '../../src/db/array-literal';

// node-postgres's own conversion of parameters (an internal module without type declarations): the reference.
const { prepareValue } = require('pg/lib/utils') as { prepareValue: (value: unknown) => unknown };

const pgLiteral = (values: unknown[]): string => prepareValue(values) as string;

describe('textArrayLiteral', () => {
  test('writes what node-postgres writes, for any strings and nulls', () => {
    const element = fc.oneof(
      { weight: 8, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
      { weight: 4, arbitrary: fc.stringMatching(/^[\\"{},a NULL]{0,8}$/) },
      { weight: 1, arbitrary: fc.constant(null) },
    );
    fc.assert(
      fc.property(fc.array(element, { maxLength: 30 }), (values) => {
        expect(textArrayLiteral(values)).toBe(pgLiteral(values));
      }),
      { numRuns: 2000 },
    );
  });

  test('quotes every element, so that words like NULL stay text', () => {
    expect(textArrayLiteral(['NULL', 'a"b', 'c\\d', ''])).toBe('{"NULL","a\\"b","c\\\\d",""}');
    expect(textArrayLiteral([])).toBe('{}');
  });
});

describe('integerArrayLiteral', () => {
  test("writes node-postgres's literal without its quotes, for any safe integers", () => {
    fc.assert(
      fc.property(fc.array(fc.maxSafeInteger(), { maxLength: 30 }), (values) => {
        expect(integerArrayLiteral(values)).toBe(pgLiteral(values).replace(/"/g, ''));
      }),
      { numRuns: 1000 },
    );
  });

  test('writes ±2^53 exactly: it is exact, and ends a window at MAX_TIMESTAMP', () => {
    expect(integerArrayLiteral([2 ** 53, -(2 ** 53)])).toBe('{9007199254740992,-9007199254740992}');
  });

  test.each([1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53 + 2, -(2 ** 53) - 2])(
    'refuses %p, naming the element',
    (bad) => {
      expect(() => integerArrayLiteral([1, bad])).toThrow(ArrayLiteralError);
      expect(() => integerArrayLiteral([1, bad])).toThrow(/element 1/);
    },
  );
});

describe('dictionaryColumn', () => {
  /** Reads the column back as PostgreSQL does: `values[index]`, 1-based. */
  const readBack = (c: { values: string; indexes: string }): string[] => {
    const values = JSON.parse(`[${c.values.slice(1, -1)}]`) as string[];
    const indexes = JSON.parse(`[${c.indexes.slice(1, -1)}]`) as number[];
    return indexes.map((i) => values[i - 1]);
  };

  test('every row reads back as its own value, and each distinct value is sent once', () => {
    const value = fc.constantFrom('a'.repeat(64), 'b'.repeat(64), 's3_event', '', 'x y');
    fc.assert(
      fc.property(fc.array(value, { maxLength: 50 }), (values) => {
        const column = dictionaryColumn(values);
        expect(readBack(column)).toEqual(values);
        expect(column.values).toBe(textArrayLiteral([...new Set(values)]));
      }),
      { numRuns: 500 },
    );
  });
});
