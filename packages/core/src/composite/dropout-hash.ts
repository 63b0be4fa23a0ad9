/**
 * The attention-dropout hash of `attention-dropout.ts` evaluated with primitive kernels, for the
 * composite attention when the positions live on the device (a backend cannot read them back
 * synchronously). The primitives have no bitwise ops and no guaranteed 32-bit wraparound, so a u32 is
 * held as four int32 tensors of bytes (values 0..255) and every step stays exact in small integers:
 * products of bytes with carries (< 2¹⁹), shifts with `floorDiv` / `mod`, xor of bytes by `gather`
 * from a 256 × 256 table. The host functions (`fmix32`, `hashAbsorb`) remain the definition; this is
 * a second evaluation of them, checked bit for bit by the conformance suite's dropout cases.
 *
 * @module
 */
import type { KernelTensor } from '../backend.js';
import { kernelScope, reshape, type Kernels } from './scope.js';

type KT = KernelTensor;
/** A u32 as its bytes, least significant first; the four tensors broadcast together. */
export type U32Bytes = readonly [KT, KT, KT, KT];

const GOLDEN = 0x9e3779b1;
const MIX1 = 0x85ebca6b;
const MIX2 = 0xc2b2ae35;

function bytesOf(x: number): [number, number, number, number] {
  const u = x >>> 0;
  return [u & 255, (u >>> 8) & 255, (u >>> 16) & 255, u >>> 24];
}

/** The xor table: entry `a·256 + b` is `a ^ b`, int32 `[65536]`. */
export function xorTable(k: Kernels): KT {
  const t = new Int32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = (i >>> 8) ^ (i & 255);
  return k.write(t, [65536], 'int32');
}

/** Runs one step in its own scope so that its intermediates are freed at once. */
function step(k: Kernels, inputs: readonly KT[], fn: (s: Kernels) => KT[]): U32Bytes {
  const r = kernelScope(k.backend, inputs, (s) => fn(s));
  return r.map((t) => k.adopt(t)) as unknown as U32Bytes;
}

function xorByte(s: Kernels, table: KT, a: KT, b: KT): KT {
  const index = s.binary('add', s.binary('mul', a, s.scalar(256, 'int32')), b);
  const size = index.shape.reduce((x, y) => x * y, 1);
  return reshape(s.gather(table, reshape(index, [size]), 0), index.shape);
}

/** Bytes of non-negative int32 values (positions, indices). */
export function u32FromInt(k: Kernels, x: KT): U32Bytes {
  return step(k, [x], (s) =>
    [0, 1, 2, 3].map((i) => s.binary('mod', s.binary('floorDiv', x, s.scalar(256 ** i, 'int32')), s.scalar(256, 'int32'))),
  );
}

/** Bytes of host u32 values of shape `shape`. */
export function u32FromHost(k: Kernels, values: Uint32Array, shape: readonly number[]): U32Bytes {
  return [0, 1, 2, 3].map((i) =>
    k.write(
      Int32Array.from(values, (v) => (v >>> (8 * i)) & 255),
      shape,
      'int32',
    ),
  ) as unknown as U32Bytes;
}

/** `(a + b) mod 2³²`. */
function add(k: Kernels, a: U32Bytes, b: U32Bytes): U32Bytes {
  return step(k, [...a, ...b], (s) => {
    const out: KT[] = [];
    let carry: KT | undefined;
    for (let i = 0; i < 4; i++) {
      let t = s.binary('add', a[i]!, b[i]!);
      if (carry !== undefined) t = s.binary('add', t, carry);
      out.push(s.binary('mod', t, s.scalar(256, 'int32')));
      if (i < 3) carry = s.binary('floorDiv', t, s.scalar(256, 'int32'));
    }
    return out;
  });
}

/** `(a · c) mod 2³²` for a constant c (Math.imul). */
function mulConst(k: Kernels, a: U32Bytes, c: number): U32Bytes {
  const cb = bytesOf(c);
  return step(k, a, (s) => {
    const out: KT[] = [];
    let carry: KT | undefined;
    for (let n = 0; n < 4; n++) {
      let t = carry;
      for (let i = 0; i <= n; i++) {
        const cj = cb[n - i]!;
        if (cj === 0) continue;
        const term = s.binary('mul', a[i]!, s.scalar(cj, 'int32'));
        t = t === undefined ? term : s.binary('add', t, term);
      }
      t ??= s.binary('mul', a[0]!, s.scalar(0, 'int32'));
      out.push(s.binary('mod', t, s.scalar(256, 'int32')));
      if (n < 3) carry = s.binary('floorDiv', t, s.scalar(256, 'int32'));
    }
    return out;
  });
}

/** `h ^ (h >>> shift)` for shift 13 or 16. */
function xorShift(k: Kernels, table: KT, h: U32Bytes, shift: number): U32Bytes {
  const whole = Math.floor(shift / 8);
  const bits = shift % 8;
  return step(k, [...h, table], (s) => {
    const shifted: (KT | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      const lo = h[i + whole];
      const hi = h[i + whole + 1];
      if (lo === undefined) {
        shifted.push(undefined);
        continue;
      }
      let v = bits === 0 ? lo : s.binary('floorDiv', lo, s.scalar(2 ** bits, 'int32'));
      if (bits !== 0 && hi !== undefined)
        v = s.binary('add', v, s.binary('mod', s.binary('mul', hi, s.scalar(2 ** (8 - bits), 'int32')), s.scalar(256, 'int32')));
      shifted.push(v);
    }
    // Bytes with nothing shifted in are unchanged (x ^ 0); they are copied so that the result owns them.
    return h.map((b, i) => {
      const sh = shifted[i];
      return sh === undefined ? s.binary('add', b, s.scalar(0, 'int32')) : xorByte(s, table, b, sh);
    });
  });
}

/** MurmurHash3's `fmix32`. */
function fmix32(k: Kernels, table: KT, h: U32Bytes): U32Bytes {
  let x = xorShift(k, table, h, 16);
  const m1 = mulConst(k, x, MIX1);
  release(k, x);
  x = xorShift(k, table, m1, 13);
  release(k, m1);
  const m2 = mulConst(k, x, MIX2);
  release(k, x);
  x = xorShift(k, table, m2, 16);
  release(k, m2);
  return x;
}

function release(k: Kernels, x: U32Bytes): void {
  for (const t of x) k.release(t);
}

/** `hashAbsorb(h, x) = fmix32(h + x · 0x9E3779B1)`; frees nothing of its inputs. */
export function absorb(k: Kernels, table: KT, h: U32Bytes, x: U32Bytes): U32Bytes {
  const m = mulConst(k, x, GOLDEN);
  const sum = add(k, h, m);
  release(k, m);
  const out = fmix32(k, table, sum);
  release(k, sum);
  return out;
}

/** int32 1 where the u32 is ≥ `threshold` (a host u32), else 0. */
export function atLeast(k: Kernels, h: U32Bytes, threshold: number): KT {
  const t = threshold >>> 0;
  const r = kernelScope(k.backend, h, (s) => {
    const hi = s.binary('add', s.binary('mul', h[3], s.scalar(256, 'int32')), h[2]);
    const lo = s.binary('add', s.binary('mul', h[1], s.scalar(256, 'int32')), h[0]);
    const above = s.binary('greater', hi, s.scalar(t >>> 16, 'int32'));
    const tie = s.binary(
      'mul',
      s.binary('equal', hi, s.scalar(t >>> 16, 'int32')),
      s.binary('greaterEqual', lo, s.scalar(t & 0xffff, 'int32')),
    );
    return s.binary('maximum', above, tie);
  });
  return k.adopt(r);
}
