/**
 * PostgreSQL array literals for statement parameters, written directly. node-postgres turns a JavaScript array
 * parameter into the same text, but element by element through its generic value conversion and two regular
 * expression replacements per string; the projector sends tens of thousands of elements per batch and the gateway
 * a few dozen per request, and that conversion showed up in both profiles. Pass the returned string where the array
 * was passed; the SQL keeps its `$n::type[]` cast.
 */

/** `{"a","b\"c",NULL}`: the literal node-postgres writes for an array of strings (and nulls), character for character. */
export function textArrayLiteral(values: readonly (string | null | undefined)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) {
      out += 'NULL';
      continue;
    }
    // Backslash and double quote are the only characters a quoted element must escape.
    const plain = v.indexOf('\\') < 0 && v.indexOf('"') < 0;
    out += plain ? `"${v}"` : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return `${out}}`;
}

/**
 * A text column with few distinct values (run keys, event types) as its distinct values and one 1-based index per
 * row, e.g. `{ values: '{"a","b"}', indexes: '{1,2,1}' }`; the SQL reads a row's value as `($n::text[])[i]`. Run keys
 * (64 characters) and event types repeated on every row were most of what the projector sent; this way, with a
 * batch's stream sent once, it sends 293 instead of 673 bytes per event, all of which PostgreSQL parses.
 */
export function dictionaryColumn(values: readonly string[]): { values: string; indexes: string } {
  const position = new Map<string, number>();
  const indexes = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    let p = position.get(values[i]);
    if (p === undefined) {
      p = position.size + 1;
      position.set(values[i], p);
    }
    indexes[i] = p;
  }
  return { values: textArrayLiteral([...position.keys()]), indexes: `{${indexes.join(',')}}` };
}

export class ArrayLiteralError extends Error {
  override name = 'ArrayLiteralError';
}

/**
 * `{1,-2,3}` for exact integers (int, bigint and numeric columns): safe integers and ±2^53, which is exact too (the
 * end of a window at MAX_TIMESTAMP). Anything else is a bug upstream: it throws.
 */
export function integerArrayLiteral(values: readonly number[]): string {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isInteger(values[i]) || Math.abs(values[i]) > 2 ** 53)
      throw new ArrayLiteralError(`array element ${i} is not an exact integer: ${String(values[i])}`);
  }
  return `{${values.join(',')}}`;
}
