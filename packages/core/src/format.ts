/**
 * The one formatter of values shown in error messages.
 *
 * @module
 */

/** Nesting levels of arrays and objects printed before the rest is shown as `[...]` / `{...}`. */
const MAX_DEPTH = 4;
/** Entries of one array or object printed before the rest is shown as `...`. */
const MAX_ENTRIES = 8;

function formatNumber(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n);
}

function formatInner(v: unknown, depth: number): string {
  switch (typeof v) {
    case 'undefined':
      return 'undefined';
    case 'number':
      return formatNumber(v);
    case 'bigint':
      return `${v}n`;
    case 'boolean':
      return String(v);
    case 'string':
      return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}...` : v);
    case 'symbol':
      return v.toString();
    case 'function':
      return `function ${v.name || '(anonymous)'}`;
  }
  if (v === null) return 'null';
  const obj = v as object;
  if (ArrayBuffer.isView(obj)) {
    const view = obj as ArrayBufferView & { length?: number };
    return `${obj.constructor?.name ?? 'ArrayBufferView'}(${view.length ?? view.byteLength})`;
  }
  if (Array.isArray(obj)) {
    if (depth >= MAX_DEPTH) return obj.length === 0 ? '[]' : '[...]';
    const items = obj.slice(0, MAX_ENTRIES).map((x: unknown) => formatInner(x, depth + 1));
    if (obj.length > MAX_ENTRIES) items.push(`... ${obj.length - MAX_ENTRIES} more`);
    return `[${items.join(',')}]`;
  }
  const proto = Object.getPrototypeOf(obj) as object | null;
  if (proto !== Object.prototype && proto !== null) {
    const name = (obj.constructor as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' && name !== '' ? `[object ${name}]` : Object.prototype.toString.call(obj);
  }
  if (depth >= MAX_DEPTH) return '{...}';
  const keys = Object.keys(obj);
  const items = keys
    .slice(0, MAX_ENTRIES)
    .map((k) => `${JSON.stringify(k)}:${formatInner((obj as Record<string, unknown>)[k], depth + 1)}`);
  if (keys.length > MAX_ENTRIES) items.push(`... ${keys.length - MAX_ENTRIES} more`);
  return `{${items.join(',')}}`;
}

/**
 * Formats a value for an error message: compact JSON-like text (`[1,2]`, `{"a":"b"}`), except that
 * numbers print as JavaScript prints them (`NaN`, `Infinity`, `-Infinity`, `-0`), `undefined`,
 * bigints, symbols and functions are named, class instances show their class, and deep or long
 * arrays and objects are cut (`[...]`, `... 3 more`). Never throws and never recurses more than a few
 * levels, whatever the input (deeply nested arrays, cycles, throwing getters, revoked proxies).
 *
 * @param v - any value.
 * @param maxLength - the longest result; longer text is cut and ends with `...` (default 80).
 * @returns the text to put in the message.
 */
export function formatValue(v: unknown, maxLength = 80): string {
  let s: string;
  try {
    s = formatInner(v, 0);
  } catch {
    s = '(a value that cannot be printed)';
  }
  return s.length > maxLength ? `${s.slice(0, Math.max(0, maxLength - 3))}...` : s;
}
