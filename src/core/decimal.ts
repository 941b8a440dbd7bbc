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
 * Canonical decimal text (SPEC 6): no exponent, no trailing fractional zeros, no `+`, `-0` written `0`,
 * integral values without a point. Accepts any JSON number text (`1.5e2` → `150`).
 */
const CANONICAL_INTEGER = /^-?(0|[1-9][0-9]*)$/;
const CANONICAL_FRACTION = /^-?(0|[1-9][0-9]*)\.[0-9]*[1-9]$/;

export function canonicalDecimal(value: string | Decimal): string {
  // Fast path: most JSON numbers (ids, amounts like 12.5) are already canonical; avoid a Decimal round trip.
  if (typeof value === 'string' && (CANONICAL_INTEGER.test(value) || CANONICAL_FRACTION.test(value))) {
    return value === '-0' || /^-0\.0*$/.test(value) ? '0' : value;
  }
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
