import { TokenizerError } from './tokenizer.js';

/**
 * A reader of Protocol Buffers' wire format, enough for SentencePiece's `ModelProto`: varints, 32/64-bit
 * fixed values and length-delimited fields. Unknown fields are skipped, as protobuf readers do.
 */
export class ProtoReader {
  private pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** The next field's number and wire type. */
  tag(): { field: number; wire: number } {
    const key = this.varint();
    return { field: Math.floor(key / 8), wire: key % 8 };
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    throw this.error('a varint longer than 10 bytes');
  }

  /** A varint read as a signed 32-bit integer (protobuf's `int32`: negatives are 10-byte varints). */
  int32(): number {
    return this.varint() | 0;
  }

  float(): number {
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4);
    this.skip(4);
    return view.getFloat32(0, true);
  }

  /** A length-delimited field's bytes (a view, not a copy). */
  bytesField(): Uint8Array {
    const n = this.varint();
    const start = this.pos;
    this.skip(n);
    return this.bytes.subarray(start, start + n);
  }

  string(): string {
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytesField());
  }

  /** Skips the value of a field of wire type `wire`. */
  skipField(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.skip(8);
    else if (wire === 2) this.skip(this.varint());
    else if (wire === 5) this.skip(4);
    else throw this.error(`an unsupported wire type ${wire}`);
  }

  private byte(): number {
    if (this.pos >= this.bytes.length) throw this.error('a truncated field');
    return this.bytes[this.pos++]!;
  }

  private skip(n: number): void {
    if (this.pos + n > this.bytes.length) throw this.error(`a field of ${n} bytes past the end of the data`);
    this.pos += n;
  }

  private error(problem: string): TokenizerError {
    return new TokenizerError(`${this.what}: not a valid protobuf message (${problem} at byte ${this.pos}).`);
  }
}
