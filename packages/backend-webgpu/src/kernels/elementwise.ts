/**
 * Element-wise kernels: one generated "map" kernel computes `out[i] = f(in0, in1, in2)` over the
 * output's index space, with every input read through its own (broadcast) strides. Axes that all
 * operands walk contiguously are merged first, so same-shape operands run as rank 1. Covers unary,
 * binary and comparison ops, `where`, `cast`, `fill` and the activation backward.
 */
import type { ActivationOp, BinaryOp, DType, Shape, UnaryOp } from '@reformer/core';
import { elemType, type GpuStorage, type KernelContext } from '../context.js';
import { Params, stridedOffsets, type KernelDef } from '../pipelines.js';
import { grid } from '../runtime.js';
import { broadcastStrides, collapse, sizeOf } from '../shape.js';
import { MATH_WGSL } from './math-wgsl.js';

const WG = 64;

/** A WGSL expression of the inputs `a`, `b`, `c` (typed) and the scalar parameter `s0` (raw bits). */
interface MapOp {
  key: string;
  expr: string;
  inTypes: ('f32' | 'i32')[];
  outType: 'f32' | 'i32';
}

const FLOAT_UNARY: Record<UnaryOp, string> = {
  neg: '-a',
  abs: 'abs(a)',
  sign: 'sign(a)',
  exp: 'exp(a)',
  log: 'log(a)',
  sqrt: 'sqrt(a)',
  rsqrt: '1.0 / sqrt(a)',
  square: 'a * a',
  reciprocal: '1.0 / a',
  tanh: 'tanh_(a)',
  sigmoid: 'sigmoid_(a)',
  erf: 'erf_(a)',
  sin: 'sin(a)',
  cos: 'cos(a)',
  floor: 'floor(a)',
  ceil: 'ceil(a)',
  round: 'round(a)',
  relu: 'select(a, 0.0, a < 0.0)',
  gelu: 'gelu_(a)',
};

const INT_UNARY: Partial<Record<UnaryOp, string>> = {
  neg: '-a',
  abs: 'abs(a)',
  sign: 'select(select(0, -1, a < 0), 1, a > 0)',
  square: 'a * a',
};

const COMPARE: Partial<Record<BinaryOp, string>> = {
  equal: 'a == b',
  notEqual: 'a != b',
  less: 'a < b',
  lessEqual: 'a <= b',
  greater: 'a > b',
  greaterEqual: 'a >= b',
};

const FLOAT_BINARY: Partial<Record<BinaryOp, string>> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'pow_(a, b)',
  maximum: 'maxNan(a, b)',
  minimum: 'minNan(a, b)',
  mod: 'fmod_(a, b)',
  floorDiv: 'floor(a / b)',
};

const INT_BINARY: Partial<Record<BinaryOp, string>> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'ifloordiv_(a, b)',
  floorDiv: 'ifloordiv_(a, b)',
  pow: 'ipow_(a, b)',
  maximum: 'max(a, b)',
  minimum: 'min(a, b)',
  mod: 'imod_(a, b)',
};

/** The map op of a unary function. */
function unaryOp(op: UnaryOp, dtype: DType): MapOp {
  const t = elemType(dtype);
  const expr = t === 'i32' ? INT_UNARY[op] : FLOAT_UNARY[op];
  if (expr === undefined) {
    // Float-only op on int32 (the ops layer refuses these): compute in float and truncate, as the CPU does.
    return { key: `u-${op}-if`, expr: `i32(trunc(${FLOAT_UNARY[op].replace(/\ba\b/g, 'f32(a)')}))`, inTypes: ['i32'], outType: 'i32' };
  }
  return { key: `u-${op}-${t}`, expr, inTypes: [t], outType: t };
}

function binaryOp(op: BinaryOp, dtype: DType): MapOp {
  const t = elemType(dtype);
  const cmp = COMPARE[op];
  if (cmp !== undefined) return { key: `c-${op}-${t}`, expr: `select(0, 1, ${cmp})`, inTypes: [t, t], outType: 'i32' };
  const expr = (t === 'i32' ? INT_BINARY : FLOAT_BINARY)[op];
  if (expr === undefined) throw new Error(`webgpu binary: unknown op '${op}'`);
  return { key: `b-${op}-${t}`, expr, inTypes: [t, t], outType: t };
}

const mapDefs = new Map<string, KernelDef>();

/** The map kernel of `op` at `rank` (cached definition; the pipeline cache compiles it once). */
function mapDef(op: MapOp, rank: number): KernelDef {
  const key = `map:${op.key}:r${rank}`;
  let def = mapDefs.get(key);
  if (def) return def;
  const K = op.inTypes.length;
  const names = ['a', 'b', 'c'];
  const bindings = [
    ...op.inTypes.map((t, j) => ({ name: `IN${j}`, type: t, access: 'read' as const })),
    { name: 'OUT', type: op.outType, access: 'read_write' as const },
  ];
  // Words: 0 n, 1 scalar, 2.. shape (rank), then per input: base, strides (rank).
  const shapeAt = 2;
  const operands = op.inTypes.map((_, j) => ({
    name: `o${j}`,
    base: `${shapeAt + rank + j * (rank + 1)}u`,
    strides: `${shapeAt + rank + j * (rank + 1) + 1}u`,
  }));
  def = {
    key,
    bindings,
    source: () => `
${MATH_WGSL}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let idx = flatGroup(wid, nwg) * ${WG}u + lid;
  if (idx >= pu(0u)) { return; }
  let s0 = pu(1u);
  ${stridedOffsets(rank, `${shapeAt}u`, operands)}
  ${op.inTypes.map((_, j) => `let ${names[j]} = IN${j}[o${j}];`).join('\n  ')}
  OUT[idx] = ${op.expr};
}`,
  };
  mapDefs.set(key, def);
  return def;
}

/** Runs a map op over `outShape` with inputs read at their (broadcast) strides. */
function runMap(
  ctx: KernelContext,
  op: MapOp,
  inputs: { storage: GpuStorage; shape: Shape }[],
  outShape: Shape,
  outDtype: DType,
  scalarBits = 0,
): GpuStorage {
  const n = sizeOf(outShape);
  const out = ctx.alloc(n, outDtype);
  if (n === 0) return out;
  const { shape, strides } = collapse(
    outShape,
    inputs.map((x) => broadcastStrides(x.shape, outShape)),
  );
  const rank = shape.length;
  const p = new Params();
  p.u32(n);
  p.bits(scalarBits);
  p.list(shape);
  for (const s of strides) {
    p.u32(0);
    p.list(s);
  }
  ctx.rt.dispatch(mapDef(op, rank), [...inputs.map((x) => x.storage.buffer), out.buffer], p, grid(Math.ceil(n / WG)));
  return out;
}

/** `op(x)`. */
export function unary(ctx: KernelContext, op: UnaryOp, x: GpuStorage, shape: Shape, dtype: DType): GpuStorage {
  return runMap(ctx, unaryOp(op, dtype), [{ storage: x, shape }], shape, dtype);
}

/** `a op b` broadcast to `outShape`. */
export function binary(
  ctx: KernelContext,
  op: BinaryOp,
  a: { storage: GpuStorage; shape: Shape },
  b: { storage: GpuStorage; shape: Shape },
  outShape: Shape,
  dtype: DType,
): GpuStorage {
  const m = binaryOp(op, dtype);
  return runMap(ctx, m, [a, b], outShape, m.outType === 'i32' ? 'int32' : 'float32');
}

/** `cond ? a : b` broadcast to `outShape`. */
export function where(
  ctx: KernelContext,
  cond: { storage: GpuStorage; shape: Shape },
  a: { storage: GpuStorage; shape: Shape },
  b: { storage: GpuStorage; shape: Shape },
  outShape: Shape,
  dtype: DType,
): GpuStorage {
  const t = elemType(dtype);
  return runMap(
    ctx,
    { key: `where-${t}`, expr: 'select(c, b, a != 0)', inTypes: ['i32', t, t], outType: t },
    [cond, a, b],
    outShape,
    dtype,
  );
}

/** Converts dtype (float → int truncates toward zero; NaN → 0). */
export function cast(ctx: KernelContext, x: GpuStorage, shape: Shape, from: DType, to: DType): GpuStorage {
  const op: MapOp =
    from === to
      ? { key: `copy-${elemType(to)}`, expr: 'a', inTypes: [elemType(to)], outType: elemType(to) }
      : to === 'int32'
        ? { key: 'cast-f-i', expr: 'select(i32(trunc(a)), 0, isNan(a))', inTypes: ['f32'], outType: 'i32' }
        : { key: 'cast-i-f', expr: 'f32(a)', inTypes: ['i32'], outType: 'f32' };
  return runMap(ctx, op, [{ storage: x, shape }], shape, to);
}

/** A tensor of `shape` filled with `value` (truncated toward zero for int32). */
export function fill(ctx: KernelContext, shape: Shape, value: number, dtype: DType): GpuStorage {
  const bits = dtype === 'int32' ? Math.trunc(value) >>> 0 : new Uint32Array(Float32Array.of(value).buffer)[0]!;
  const t = elemType(dtype);
  return runMap(ctx, { key: `fill-${t}`, expr: `bitcast<${t}>(s0)`, inTypes: [], outType: t }, [], shape, dtype, bits);
}

/** Fills existing storage with zero bits (scatter-add accumulators). */
export function zeroInto(ctx: KernelContext, out: GpuStorage): void {
  if (out.size === 0) return;
  const p = new Params();
  p.u32(out.size);
  p.bits(0);
  p.list([out.size]);
  ctx.rt.dispatch(
    mapDef({ key: 'fill-u32', expr: 'bitcast<i32>(s0)', inTypes: [], outType: 'i32' }, 1),
    [out.buffer],
    p,
    grid(Math.ceil(out.size / WG)),
  );
}

/** `dy · f'(x)`. */
export function activationBackward(ctx: KernelContext, op: ActivationOp, x: GpuStorage, dy: GpuStorage, shape: Shape): GpuStorage {
  const expr = op === 'relu' ? 'select(0.0, b, a > 0.0)' : 'b * geluGrad_(a)';
  return runMap(
    ctx,
    { key: `dact-${op}`, expr, inTypes: ['f32', 'f32'], outType: 'f32' },
    [
      { storage: x, shape },
      { storage: dy, shape },
    ],
    shape,
    'float32',
  );
}
