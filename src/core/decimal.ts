/**
 * Exact decimal arithmetic for feature values. Amounts are never binary floats: they are parsed from their JSON
 * source text and summed with enough precision that no realistic sum is rounded.
 */
import DecimalJs from 'decimal.js';

/** A Decimal constructor with 80 significant digits: sums of millions of 18-digit amounts stay exact. */
export const Decimal = DecimalJs.clone({
  precision: 80,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  toExpNeg: -9e15,
  toExpPos: 9e15,
});
export type Decimal = InstanceType<typeof Decimal>;

/**
 * True when `text` matches `^-?(0|[1-9][0-9]*)$` or `^-?(0|[1-9][0-9]*)\.[0-9]*[1-9]$` (canonical up to the sign of
 * zero). A hand scan rather than two regexes: it runs for every number of every payload hashed.
 */
function isCanonicalText(text: string): boolean {
  const n = text.length;
  let i = text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  const lead = text.charCodeAt(i); // NaN past the end
  if (lead === 48 /* 0 */) i++;
  else if (lead >= 49 && lead <= 57) {
    i++;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
  } else return false;
  if (i === n) return true;
  if (text.charCodeAt(i) !== 46 /* . */ || i + 1 === n) return false;
  for (i++; i < n; i++) if (!isDigit(text.charCodeAt(i))) return false;
  return text.charCodeAt(n - 1) !== 48;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Canonical decimal text (SPEC 6): no exponent, no trailing fractional zeros, no `+`, `-0` written `0`,
 * integral values without a point. Accepts any JSON number text (`1.5e2` → `150`).
 */
export function canonicalDecimal(value: string | Decimal): string {
  // Fast path: most JSON numbers (ids, amounts like 12.5) are already canonical; avoid a Decimal round trip.
  // A canonical fraction ends in a non-zero digit, so `-0` is the only negative zero that reaches this branch.
  if (typeof value === 'string' && isCanonicalText(value)) return value === '-0' ? '0' : value;
  const d = typeof value === 'string' ? new Decimal(value) : value;
  if (d.isZero()) return '0';
  // toFixed() without arguments writes the exact value in plain notation; strip a fractional tail of zeros.
  let text = d.toFixed();
  if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  return text;
}

/** avg = sum / count rounded half-even to 6 fractional digits (SPEC 3), in canonical form. */
export function decimalAverage(sum: Decimal, count: number): string {
  return canonicalDecimal(sum.div(count).toDecimalPlaces(6, Decimal.ROUND_HALF_EVEN));
}
