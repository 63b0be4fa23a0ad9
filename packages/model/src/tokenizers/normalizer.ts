import type { SentencePieceModel } from './sentencepiece-model.js';

/** SentencePiece's escaped space (U+2581 LOWER ONE EIGHTH BLOCK). */
export const SPACE_SYMBOL = '\u2581';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The compiled character map of a SentencePiece normaliser (`NormalizerSpec.precompiled_charsmap`):
 * a double-array trie (darts-clone layout) over UTF-8 byte strings whose values are offsets into a
 * table of NUL-terminated replacement strings. Layout: a little-endian u32 byte size of the trie, the
 * trie's u32 units, then the replacement strings.
 */
class CharsMap {
  private readonly units: Uint32Array;
  private readonly table: Uint8Array;

  constructor(blob: Uint8Array) {
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = view.getUint32(0, true);
    this.units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.table = blob.subarray(4 + trieBytes);
  }

  /** The longest entry that prefixes `bytes[from…]`: its length and replacement, or undefined. */
  longestPrefix(bytes: Uint8Array, from: number): { length: number; replacement: string } | undefined {
    const u = this.units;
    let pos = offsetOf(u[0]!);
    let best: { length: number; value: number } | undefined;
    for (let i = from; i < bytes.length; i++) {
      const c = bytes[i]!;
      pos ^= c;
      const unit = u[pos];
      if (unit === undefined || (unit & 0x800000ff) !== c) break;
      pos ^= offsetOf(unit);
      if ((unit >>> 8) & 1) best = { length: i - from + 1, value: u[pos]! & 0x7fffffff };
    }
    if (best === undefined) return undefined;
    let end = best.value;
    while (end < this.table.length && this.table[end] !== 0) end++;
    return { length: best.length, replacement: decoder.decode(this.table.subarray(best.value, end)) };
  }
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & 0x200) >>> 6);
}

/** Byte length of the UTF-8 sequence starting at `bytes[i]` (1 for a byte that starts none). */
function utf8Length(bytes: Uint8Array, i: number): number {
  const b = bytes[i]!;
  const n = b < 0x80 ? 1 : b >> 5 === 0b110 ? 2 : b >> 4 === 0b1110 ? 3 : b >> 3 === 0b11110 ? 4 : 1;
  if (i + n > bytes.length) return 1;
  for (let k = 1; k < n; k++) if (bytes[i + k]! >> 6 !== 0b10) return 1;
  return n;
}

/**
 * SentencePiece's normaliser, as its `Normalizer::Normalize` applies it: the compiled character map
 * (longest match first, one character at a time otherwise), leading, trailing and repeated whitespace
 * removed (`remove_extra_whitespaces`), the dummy prefix added (`add_dummy_prefix`) and spaces escaped
 * as U+2581 (`escape_whitespaces`).
 */
export function createNormalizer(model: SentencePieceModel): (text: string) => string {
  const map = model.precompiledCharsmap.length > 4 ? new CharsMap(model.precompiledCharsmap) : undefined;
  const space = model.escapeWhitespaces ? SPACE_SYMBOL : ' ';
  const removeExtra = model.removeExtraWhitespaces;
  return (text) => {
    const bytes = encoder.encode(text);
    // The normalised form of the piece at `i`, and how many input bytes it covers.
    const prefix = (i: number): [string, number] => {
      const hit = map?.longestPrefix(bytes, i);
      if (hit !== undefined) return [hit.replacement, hit.length];
      const n = utf8Length(bytes, i);
      return [decoder.decode(bytes.subarray(i, i + n)), n];
    };
    let i = 0;
    if (removeExtra) {
      while (i < bytes.length) {
        const [s, n] = prefix(i);
        if (s !== ' ') break;
        i += n;
      }
    }
    if (i >= bytes.length) return '';
    let out = model.addDummyPrefix ? space : '';
    let prevSpace = removeExtra;
    while (i < bytes.length) {
      let [s, n] = prefix(i);
      if (prevSpace) s = s.replace(/^ +/, '');
      if (s !== '') {
        out += model.escapeWhitespaces ? s.replaceAll(' ', space) : s;
        prevSpace = s.endsWith(' ');
      }
      i += n;
      prevSpace = prevSpace && removeExtra;
    }
    if (removeExtra) while (out.endsWith(space)) out = out.slice(0, -space.length);
    return out;
  };
}
