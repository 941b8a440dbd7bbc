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
