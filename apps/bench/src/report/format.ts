/**
 * Number formatting shared by the table, the summary and the charts.
 *
 * @module
 */

/** `x` with `digits` significant digits, no exponent for ordinary magnitudes. */
export function sig(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 10 ** digits) return Math.round(x).toLocaleString('en-US');
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(a)));
  return x.toFixed(Math.min(decimals, 6));
}

/** An error value: `1.2e-4`, or `—` when absent. */
export function err(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  if (x === 0) return '0';
  return x.toExponential(1);
}

/** Bytes as MiB with 3 significant digits, or `—`. */
export function mib(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '—' : sig(bytes / 2 ** 20);
}

/** A length as `1K`, `16K`, or the plain number when it is not a multiple of 1024. */
export function lengthLabel(L: number): string {
  return L >= 1024 && L % 1024 === 0 ? `${L / 1024}K` : String(L);
}
