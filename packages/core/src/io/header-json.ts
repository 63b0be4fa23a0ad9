/**
 * Parsing the JSON header of a safetensors file strictly: `JSON.parse` keeps the last of two equal
 * keys and accepts any nesting, so the text is first scanned, without recursion, for duplicate keys
 * and for nesting deeper than {@link SAFETENSORS_MAX_HEADER_DEPTH}.
 *
 * @module
 */

import { SafetensorsError } from '../errors.js';
import { formatValue } from '../format.js';

/**
 * The deepest nesting of arrays and objects a safetensors header may have. A valid header needs 3
 * (the header object, a tensor's object, its `shape` array); deeper nesting is refused before the
 * JSON is parsed.
 */
export const SAFETENSORS_MAX_HEADER_DEPTH = 16;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The index just past the closing quote of the string literal that opens at `start` (or the text's length). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return text.length;
}

/**
 * Throws `SafetensorsError` if the JSON text nests deeper than {@link SAFETENSORS_MAX_HEADER_DEPTH} or
 * an object repeats a key (compared after unescaping, as the parsed keys are). Iterative: any depth
 * and any length are safe. Other syntax errors are left to `JSON.parse`.
 */
function checkStructure(text: string): void {
  // One entry per open array/object: the keys seen so far (objects) or null (arrays).
  const stack: (Set<string> | null)[] = [];
  const path: string[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === '"') {
      const end = stringEnd(text, i);
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, end)) as string;
        } catch {
          return; // malformed string: JSON.parse of the whole text reports it
        }
        if (keys.has(key)) {
          const where = stack.length === 1 ? 'the header' : `the header entry ${formatValue(path[1] ?? '')}`;
          throw new SafetensorsError(
            `safetensors: ${where} has the key ${formatValue(key, 200)} twice; a safetensors header must not repeat a name ` +
              '(JSON readers disagree on which value wins). The file is corrupt or was written by a faulty writer.',
          );
        }
        keys.add(key);
        path[stack.length] = key;
        expectKey = false;
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') {
      if (stack.length >= SAFETENSORS_MAX_HEADER_DEPTH) {
        throw new SafetensorsError(
          `safetensors: the header nests arrays/objects more than ${SAFETENSORS_MAX_HEADER_DEPTH} levels deep (a valid header ` +
            'needs 3); the file is corrupt or not a safetensors file.',
        );
      }
      stack.push(c === '{' ? new Set() : null);
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
    }
    i++;
  }
}

/**
 * Parses the header text of a safetensors file: it must nest at most
 * {@link SAFETENSORS_MAX_HEADER_DEPTH} levels, repeat no key in any object and be valid JSON, and an
 * object must start with `{` right away (as the reference reader requires).
 *
 * @param text - the header, decoded from UTF-8 (trailing space padding included).
 * @returns the parsed JSON value (the caller checks it is an object of tensor entries).
 * @throws {SafetensorsError} naming the problem.
 */
export function parseHeaderJson(text: string): unknown {
  checkStructure(text);
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    throw new SafetensorsError(
      `safetensors: the header is not valid JSON (${e instanceof Error ? e.message : formatValue(e)}); ` +
        'the file is corrupt or not a safetensors file.',
    );
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !text.startsWith('{')) {
    throw new SafetensorsError(
      `safetensors: the header starts with ${formatValue(text.slice(0, 8))}, not with "{" (no leading whitespace is ` +
        'allowed); the file is corrupt or not a safetensors file.',
    );
  }
  return value;
}
