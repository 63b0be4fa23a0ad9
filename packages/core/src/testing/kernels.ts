/**
 * Forward tests of every kernel through its public op, against the brute-force oracles of
 * `oracles.ts`, on random and edge shapes. Each group is a list of cases built from its own seeded
 * generator; the leak tests (`leaks.ts`) run the same cases again.
 */
import type { ArithmeticOp, CompareOp, UnaryOp } from '../backend.js';
import { gradients } from '../autograd.js';
import { dispose } from '../engine.js';
import { arange, fill, ones, onesLike, randomNormal, randomUniform, scalar, tensor, zeros, zerosLike } from '../ops/creation.js';
import * as E from '../ops/elementwise.js';
import { crossEntropy, dropout, layerNorm } from '../ops/fused.js';
import {
  broadcastTo,
  concat,
  expandDims,
  gather,
  pad,
  reshape,
  scatterAdd,
  slice,
  split,
  squeeze,
  stack,
  transpose,
} from '../ops/layout.js';
import { matmul } from '../ops/matmul.js';
import { argMax, argSort, logSoftmax, logSumExp, max, mean, min, signedArgMax, softmax, sum } from '../ops/reduce.js';
import { normalValues, uniformValues } from '../random.js';
import type { Tensor } from '../tensor.js';
import { formatShape } from '../types.js';
import {
  broadcastPairs,
  elementwiseShapes,
  fromValues,
  randomAwayFromZero,
  randomFloats,
  randomFromSet,
  randomInts,
  randomNormals,
  randomOffGrid,
  type Rng,
} from './cases.js';
import type { ForwardCase, Tol } from './harness.js';
import {
  argMaxRef,
  argSortRef,
  signedArgMaxRef,
  binaryRef,
  broadcastToRef,
  castRef,
  concatRef,
  crossEntropyBackwardRef,
  crossEntropyRef,
  dropoutRef,
  gatherRef,
  geluGrad64,
  hostTensor,
  layerNormBackwardRef,
  layerNormRef,
  logSoftmaxRef,
  logSumExpRef,
  matmulRef,
  meanRef,
  padRef,
  reduceRef,
  reshapeRef,
  scatterAddRef,
  sizeOf,
  sliceRef,
  softmaxRef,
  transposeRef,
  unaryRef,
  whereRef,
  type HostTensor,
} from './oracles.js';

/** A named list of forward cases. `tol` picks the tolerance class. */
export interface KernelGroup {
  name: string;
  tol: 'basic' | 'transcendental' | Tol;
  build: (rng: Rng, full: boolean) => ForwardCase[];
}

/** The public unary ops by name. */
export const UNARY_FNS: Record<UnaryOp, (x: Tensor) => Tensor> = {
  neg: E.neg,
  abs: E.abs,
  sign: E.sign,
  exp: E.exp,
  log: E.log,
  sqrt: E.sqrt,
  rsqrt: E.rsqrt,
  square: E.square,
  reciprocal: E.reciprocal,
  tanh: E.tanh,
  sigmoid: E.sigmoid,
  erf: E.erf,
  sin: E.sin,
  cos: E.cos,
  floor: E.floor,
  ceil: E.ceil,
  round: E.round,
  relu: E.relu,
  gelu: E.gelu,
};

/** The public binary ops by name. */
export const BINARY_FNS: Record<ArithmeticOp | CompareOp, (a: Tensor, b: Tensor) => Tensor> = {
  add: E.add,
  sub: E.sub,
  mul: E.mul,
  div: E.div,
  pow: E.pow,
  maximum: E.maximum,
  minimum: E.minimum,
  mod: E.mod,
  floorDiv: E.floorDiv,
  equal: E.equal,
  notEqual: E.notEqual,
  less: E.less,
  lessEqual: E.lessEqual,
  greater: E.greater,
  greaterEqual: E.greaterEqual,
};

export const TRANSCENDENTAL_UNARY: ReadonlySet<UnaryOp> = new Set<UnaryOp>([
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'tanh',
  'sigmoid',
  'erf',
  'sin',
  'cos',
  'gelu',
]);

/** Input values for a unary op: its domain, away from kinks, with the special values that matter. */
export function unaryInput(op: UnaryOp, rng: Rng, shape: readonly number[]): HostTensor {
  switch (op) {
    case 'log':
    case 'sqrt':
    case 'rsqrt':
      return randomFloats(rng, shape, 0.01, 10);
    case 'reciprocal':
      return randomAwayFromZero(rng, shape, 0.1, 10);
    case 'exp':
      return randomFloats(rng, shape, -10, 10);
    case 'floor':
    case 'ceil':
    case 'round':
      return randomOffGrid(rng, shape, 5, 0.01);
    case 'erf':
      return randomFloats(rng, shape, -4, 4);
    case 'gelu':
      return randomFloats(rng, shape, -6, 6);
    case 'tanh':
    case 'sigmoid':
      return randomFloats(rng, shape, -8, 8);
    case 'abs':
    case 'relu':
    case 'sign':
      return randomAwayFromZero(rng, shape, 0.01, 3);
    default:
      return randomFloats(rng, shape, -3, 3);
  }
}

/** Values every implementation must get exactly right for this op (ties, zeros, saturation). */
function unarySpecials(op: UnaryOp): number[] | undefined {
  switch (op) {
    case 'round':
      return [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3, -3, 0, 0.49999997, -0.49999997, 7.5, 1e6 + 0.5];
    case 'floor':
    case 'ceil':
      return [0, 1, -1, 0.5, -0.5, 2.999, -2.999, 1e-7, -1e-7];
    case 'sign':
    case 'abs':
    case 'relu':
    case 'neg':
    case 'square':
      return [0, 1, -1, 1e-30, -1e-30, 3e4, -3e4];
    case 'tanh':
    case 'sigmoid':
    case 'erf':
      return [0, 20, -20, 100, -100];
    case 'gelu':
      return [0, 10, -10, 1e-4, -1e-4];
    case 'exp':
      return [0, 1, -1, 20, -20, -100];
    case 'log':
    case 'sqrt':
    case 'rsqrt':
      return [1, 4, 1e-6, 1e6, 0.25];
    case 'reciprocal':
      return [1, -1, 4, 1e-3, -1e3];
    case 'sin':
    case 'cos':
      return [0, Math.PI / 2, -Math.PI, 1, -3];
  }
}

function unaryGroups(): KernelGroup[] {
  const ops = Object.keys(UNARY_FNS) as UnaryOp[];
  return ops.map((op) => ({
    name: `unary ${op} (float32)`,
    tol: TRANSCENDENTAL_UNARY.has(op) ? 'transcendental' : 'basic',
    build: (rng, full) => {
      const cases: ForwardCase[] = elementwiseShapes(rng, full).map((shape) => {
        const x = unaryInput(op, rng, shape);
        return { label: `${op} ${formatShape(shape)}`, inputs: [x], run: ([a]) => UNARY_FNS[op](a!), want: () => [unaryRef(op, x)] };
      });
      const sp = unarySpecials(op);
      if (sp) {
        const x = fromValues([sp.length], sp);
        cases.push({
          label: `${op} special values ${JSON.stringify(sp)}`,
          inputs: [x],
          run: ([a]) => UNARY_FNS[op](a!),
          want: () => [unaryRef(op, x)],
        });
      }
      return cases;
    },
  }));
}

function intUnaryGroup(): KernelGroup {
  const ops: UnaryOp[] = ['neg', 'abs', 'sign', 'square'];
  return {
    name: 'unary neg/abs/sign/square (int32)',
    tol: 'exact',
    build: (rng, full) =>
      ops.flatMap((op) =>
        [
          ...elementwiseShapes(rng, full).map((shape) => randomInts(rng, shape, -1000, 1000)),
          fromValues([5], [0, 1, -1, 46340, -46340], 'int32'),
        ].map(
          (x): ForwardCase => ({
            label: `${op} int32 ${formatShape(x.shape)}`,
            inputs: [x],
            run: ([a]) => UNARY_FNS[op](a!),
            want: () => [unaryRef(op, x)],
          }),
        ),
      ),
  };
}

// ---------------------------------------------------------------------------------------------
// Binary
// ---------------------------------------------------------------------------------------------

/** Operands for a binary op on broadcast shapes: domains chosen per op (positive pow bases, ...). */
export function binaryInputs(
  op: ArithmeticOp | CompareOp,
  rng: Rng,
  sa: readonly number[],
  sb: readonly number[],
  dtype: 'float32' | 'int32',
): [HostTensor, HostTensor] {
  if (dtype === 'int32') {
    switch (op) {
      case 'div':
      case 'mod':
      case 'floorDiv': {
        const b = randomInts(rng, sb, 1, 7);
        for (let i = 0; i < b.data.length; i++) if (rng.chance(0.5)) b.data[i] = -b.data[i]!;
        return [randomInts(rng, sa, -50, 50), b];
      }
      case 'pow':
        return [randomInts(rng, sa, -3, 3), randomInts(rng, sb, 0, 4)];
      case 'equal':
      case 'notEqual':
      case 'less':
      case 'lessEqual':
      case 'greater':
      case 'greaterEqual':
        return [randomInts(rng, sa, -2, 2), randomInts(rng, sb, -2, 2)];
      default:
        return [randomInts(rng, sa, -1000, 1000), randomInts(rng, sb, -1000, 1000)];
    }
  }
  switch (op) {
    case 'div':
      return [randomFloats(rng, sa, -3, 3), randomAwayFromZero(rng, sb, 0.1, 3)];
    case 'pow':
      return [randomFloats(rng, sa, 0.1, 3), randomFloats(rng, sb, -2, 2)];
    case 'mod':
    case 'floorDiv': {
      // a = odd multiples of 1/16 and b in {±0.5, ±0.75, ±1, ±2, ±3, ±4}: a/b is never within 1/48 of an
      // integer, so float32 rounding cannot flip floor(a/b), and a − floor(a/b)·b is exact in float32.
      const a = randomInts(rng, sa, -80, 79, 'float32');
      for (let i = 0; i < a.data.length; i++) a.data[i] = (2 * a.data[i]! + 1) / 16;
      const b = randomFromSet(rng, sb, [0.5, 0.75, 1, 2, 3, 4, -0.5, -0.75, -1, -2, -3, -4]);
      return [a, b];
    }
    case 'maximum':
    case 'minimum':
    case 'equal':
    case 'notEqual':
    case 'less':
    case 'lessEqual':
    case 'greater':
    case 'greaterEqual':
      // Many exact ties.
      return [randomFromSet(rng, sa, [-1, 0, 0.5, 2, 1e-3]), randomFromSet(rng, sb, [-1, 0, 0.5, 2, -1e-3])];
    default:
      return [randomFloats(rng, sa, -3, 3), randomFloats(rng, sb, -3, 3)];
  }
}

function binaryGroups(): KernelGroup[] {
  const ops = Object.keys(BINARY_FNS) as (ArithmeticOp | CompareOp)[];
  const groups: KernelGroup[] = [];
  for (const op of ops) {
    groups.push({
      name: `binary ${op} (float32, broadcasting)`,
      tol: op === 'pow' ? 'transcendental' : 'basic',
      build: (rng, full) => {
        const pairs = broadcastPairs(rng, full);
        const cases: ForwardCase[] = pairs.map(([sa, sb]) => {
          const [a, b] = binaryInputs(op, rng, sa, sb, 'float32');
          return {
            label: `${op} ${formatShape(sa)} ${formatShape(sb)}`,
            inputs: [a, b],
            run: ([x, y]) => BINARY_FNS[op](x!, y!),
            want: () => [binaryRef(op, a, b)],
          };
        });
        if (op === 'pow') {
          const a = fromValues([6], [-2, -2, -3, -0.5, 0, 2]);
          const b = fromValues([6], [2, 3, 0, 2, 2, 0.5]);
          cases.push({
            label: 'pow negative bases with integer exponents, 0^2',
            inputs: [a, b],
            run: ([x, y]) => E.pow(x!, y!),
            want: () => [binaryRef('pow', a, b)],
          });
        }
        if (op === 'mod' || op === 'floorDiv') {
          const a = fromValues([10], [7, -7, 7, -7, 6, -6, 0, 7.5, -7.5, 0.25]);
          const b = fromValues([10], [3, 3, -3, -3, 3, -3, 5, 2, 2, -1]);
          cases.push({
            label: `${op} sign table (Python semantics)`,
            inputs: [a, b],
            run: ([x, y]) => BINARY_FNS[op](x!, y!),
            want: () => [binaryRef(op, a, b)],
          });
        }
        return cases;
      },
    });
    groups.push({
      name: `binary ${op} (int32, broadcasting)`,
      tol: 'exact',
      build: (rng, full) => {
        const cases: ForwardCase[] = broadcastPairs(rng, full).map(([sa, sb]) => {
          const [a, b] = binaryInputs(op, rng, sa, sb, 'int32');
          return {
            label: `${op} int32 ${formatShape(sa)} ${formatShape(sb)}`,
            inputs: [a, b],
            run: ([x, y]) => BINARY_FNS[op](x!, y!),
            want: () => [binaryRef(op, a, b)],
          };
        });
        if (op === 'mod' || op === 'floorDiv' || op === 'div') {
          const a = fromValues([8], [7, -7, 7, -7, 6, -6, 0, -1], 'int32');
          const b = fromValues([8], [3, 3, -3, -3, 3, -3, 5, 4], 'int32');
          cases.push({
            label: `${op} int32 sign table (rounds toward −∞)`,
            inputs: [a, b],
            run: ([x, y]) => BINARY_FNS[op](x!, y!),
            want: () => [binaryRef(op, a, b)],
          });
        }
        if (op !== 'pow') {
          // 32-bit wrap-around (INT_MAX + 1, INT_MIN / −1, 46341²) and zero divisors (0 by definition)
          const a = fromValues([9], [2147483647, -2147483648, -2147483648, 46341, 7, -7, 0, 65536, -1], 'int32');
          const b = fromValues([9], [1, -1, 1, 46341, 0, 0, 0, 65536, -2147483648], 'int32');
          cases.push({
            label: `${op} int32 wrap-around and zero divisors`,
            inputs: [a, b],
            run: ([x, y]) => BINARY_FNS[op](x!, y!),
            want: () => [binaryRef(op, a, b)],
          });
        }
        return cases;
      },
    });
  }
  return groups;
}

function whereGroup(): KernelGroup {
  return {
    name: 'where (three-way broadcasting)',
    tol: 'exact',
    build: (rng) => {
      const shapes: [number[], number[], number[]][] = [
        [
          [3, 4],
          [3, 4],
          [3, 4],
        ],
        [[3, 1], [1, 4], []],
        [[2, 3, 4], [4], [3, 1]],
        [[4], [2, 1, 4], [2, 3, 1]],
        [[], [5], [5]],
        [[0, 3], [1, 3], [3]],
        [[17], [17], [1]],
      ];
      const cases: ForwardCase[] = [];
      for (const [sc, sa, sb] of shapes) {
        for (const dtype of ['float32', 'int32'] as const) {
          const c = randomFromSet(rng, sc, [0, 1, 2, -1], 'int32');
          const a = dtype === 'float32' ? randomFloats(rng, sa) : randomInts(rng, sa, -9, 9);
          const b = dtype === 'float32' ? randomFloats(rng, sb) : randomInts(rng, sb, -9, 9);
          cases.push({
            label: `where ${dtype} cond ${formatShape(sc)} a ${formatShape(sa)} b ${formatShape(sb)}`,
            inputs: [c, a, b],
            run: ([x, y, z]) => E.where(x!, y!, z!),
            want: () => [whereRef(c, a, b)],
          });
        }
      }
      return cases;
    },
  };
}

function castGroup(): KernelGroup {
  return {
    name: 'cast (float → int truncates toward zero)',
    tol: 'exact',
    build: (rng) => {
      const special = fromValues([11], [-2.7, -2.5, -0.5, 0.5, 2.5, 2.7, 100.9, -100.9, 0, 1e6 + 0.5, -7.999]);
      const cases: ForwardCase[] = [special, randomFloats(rng, [3, 17], -1000, 1000), randomFloats(rng, [0, 2])].map((x) => ({
        label: `cast float32 ${formatShape(x.shape)} → int32`,
        inputs: [x],
        run: ([a]) => E.cast(a!, 'int32'),
        want: () => [castRef(x, 'int32')],
      }));
      for (const x of [randomInts(rng, [4, 5], -100000, 100000), fromValues([], [7], 'int32')]) {
        cases.push({
          label: `cast int32 ${formatShape(x.shape)} → float32`,
          inputs: [x],
          run: ([a]) => E.cast(a!, 'float32'),
          want: () => [castRef(x, 'float32')],
        });
        cases.push({
          label: `cast int32 ${formatShape(x.shape)} → int32 (identity)`,
          inputs: [x],
          run: ([a]) => E.cast(a!, 'int32'),
          want: () => [x],
        });
      }
      const f = randomFloats(rng, [6]);
      cases.push({ label: 'cast float32 → float32 (identity)', inputs: [f], run: ([a]) => E.cast(a!, 'float32'), want: () => [f] });
      return cases;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Creation and random
// ---------------------------------------------------------------------------------------------

function creationGroup(): KernelGroup {
  return {
    name: 'creation: tensor/fill/zeros/ones/arange round trip',
    tol: 'exact',
    build: (rng) => {
      const cases: ForwardCase[] = [];
      for (const shape of [[], [0], [3, 0], [1], [2, 3, 4], [65]]) {
        const f = randomNormals(rng, shape);
        const i = randomInts(rng, shape, -2147483648, 2147483647);
        cases.push({
          label: `tensor float32 ${formatShape(shape)} round trip`,
          inputs: [],
          run: () => tensor(Float32Array.from(f.data), shape),
          want: () => [f],
        });
        cases.push({
          label: `tensor int32 ${formatShape(shape)} round trip`,
          inputs: [],
          run: () => tensor(Int32Array.from(i.data), shape),
          want: () => [i],
        });
        cases.push({
          label: `fill ${formatShape(shape)} 2.5`,
          inputs: [],
          run: () => fill(shape, 2.5),
          want: () => [hostTensor(shape, 'float32', new Float64Array(sizeOf(shape)).fill(2.5))],
        });
        cases.push({
          label: `fill ${formatShape(shape)} int32 -7`,
          inputs: [],
          run: () => fill(shape, -7, 'int32'),
          want: () => [hostTensor(shape, 'int32', new Float64Array(sizeOf(shape)).fill(-7))],
        });
        cases.push({
          label: `zeros ${formatShape(shape)}`,
          inputs: [],
          run: () => zeros(shape),
          want: () => [hostTensor(shape, 'float32', new Float64Array(sizeOf(shape)))],
        });
        cases.push({
          label: `ones ${formatShape(shape)} int32`,
          inputs: [],
          run: () => ones(shape, 'int32'),
          want: () => [hostTensor(shape, 'int32', new Float64Array(sizeOf(shape)).fill(1))],
        });
        cases.push({
          label: `zerosLike/onesLike ${formatShape(shape)}`,
          inputs: [f],
          run: ([x]) => [zerosLike(x!), onesLike(x!)],
          want: () => [
            hostTensor(shape, 'float32', new Float64Array(f.data.length)),
            hostTensor(shape, 'float32', new Float64Array(f.data.length).fill(1)),
          ],
        });
      }
      cases.push({
        label: 'tensor from nested arrays',
        inputs: [],
        run: () =>
          tensor([
            [1, 2, 3],
            [4, 5, 6],
          ]),
        want: () => [fromValues([2, 3], [1, 2, 3, 4, 5, 6])],
      });
      cases.push({
        label: 'tensor from flat list with shape, int32',
        inputs: [],
        run: () => tensor([1, -2, 3, 4], [2, 2], 'int32'),
        want: () => [fromValues([2, 2], [1, -2, 3, 4], 'int32')],
      });
      cases.push({ label: 'scalar', inputs: [], run: () => scalar(-3.25), want: () => [fromValues([], [-3.25])] });
      const ar = (shape: number[], vals: number[], dtype: 'int32' | 'float32' = 'int32') => [fromValues(shape, vals, dtype)];
      cases.push({ label: 'arange(5)', inputs: [], run: () => arange(5), want: () => ar([5], [0, 1, 2, 3, 4]) });
      cases.push({ label: 'arange(2, 11, 3)', inputs: [], run: () => arange(2, 11, 3), want: () => ar([3], [2, 5, 8]) });
      cases.push({ label: 'arange(5, 0, -1)', inputs: [], run: () => arange(5, 0, -1), want: () => ar([5], [5, 4, 3, 2, 1]) });
      cases.push({ label: 'arange(0) (empty)', inputs: [], run: () => arange(0), want: () => ar([0], []) });
      cases.push({
        label: 'arange(0, 1, 0.25, float32)',
        inputs: [],
        run: () => arange(0, 1, 0.25, 'float32'),
        want: () => ar([4], [0, 0.25, 0.5, 0.75], 'float32'),
      });
      return cases;
    },
  };
}

function randomGroup(): KernelGroup {
  return {
    name: 'randomNormal / randomUniform (seeded, bit-exact)',
    tol: 'exact',
    build: () => {
      const cases: ForwardCase[] = [];
      for (const [shape, seed] of [
        [[1000], 42],
        [[3, 7], 7],
        [[0], 1],
        [[], 2 ** 40 + 3],
      ] as [number[], number][]) {
        const n = sizeOf(shape);
        const nv = normalValues(seed, n);
        const uv = uniformValues(seed, n);
        cases.push({
          label: `randomNormal ${formatShape(shape)} seed ${seed}`,
          inputs: [],
          run: () => randomNormal(shape, { seed }),
          want: () => [
            hostTensor(
              shape,
              'float32',
              Float64Array.from(nv, (v) => Math.fround(v)),
            ),
          ],
        });
        cases.push({
          label: `randomNormal ${formatShape(shape)} seed ${seed} mean 3 std 0.5`,
          inputs: [],
          run: () => randomNormal(shape, { seed, mean: 3, std: 0.5 }),
          want: () => [
            hostTensor(
              shape,
              'float32',
              Float64Array.from(nv, (v) => Math.fround(3 + 0.5 * v)),
            ),
          ],
        });
        cases.push({
          label: `randomUniform ${formatShape(shape)} seed ${seed}`,
          inputs: [],
          run: () => randomUniform(shape, { seed }),
          want: () => [
            hostTensor(
              shape,
              'float32',
              Float64Array.from(uv, (v) => Math.fround(v)),
            ),
          ],
        });
        cases.push({
          label: `randomUniform ${formatShape(shape)} seed ${seed} in [-2, 3)`,
          inputs: [],
          run: () => randomUniform(shape, { seed, min: -2, max: 3 }),
          want: () => [
            hostTensor(
              shape,
              'float32',
              Float64Array.from(uv, (v) => Math.fround(-2 + 5 * v)),
            ),
          ],
        });
      }
      return cases;
    },
  };
}

function dropoutGroup(): KernelGroup {
  return {
    name: 'dropout (seeded mask)',
    tol: { atol: 0, rtol: 1e-6 },
    build: (rng) => {
      const cases: ForwardCase[] = [];
      for (const [shape, rate, seed] of [
        [[4, 33], 0.3, 1234],
        [[7], 0.5, 0],
        [[2, 3, 5], 0.1, 99],
        [[0, 4], 0.5, 3],
      ] as [number[], number, number][]) {
        const x = randomFloats(rng, shape, -2, 2);
        cases.push({
          label: `dropout ${formatShape(shape)} rate ${rate} seed ${seed}`,
          inputs: [x],
          run: ([a]) => dropout(a!, rate, seed),
          want: () => [dropoutRef(x, rate, uniformValues(seed, x.data.length))],
          tol: { atol: 0, rtol: 1e-6 },
        });
      }
      const x = randomFloats(rng, [3, 4]);
      cases.push({ label: 'dropout rate 0 is the identity', inputs: [x], run: ([a]) => dropout(a!, 0, 5), want: () => [x], tol: 'exact' });
      return cases;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------------

/** Random axis lists for a rank: each single axis (also negative), random subsets, all. */
function axisChoices(rng: Rng, rank: number): (number[] | number | undefined)[] {
  const out: (number[] | number | undefined)[] = [undefined];
  for (let a = 0; a < rank; a++) out.push(rng.chance(0.5) ? a : a - rank);
  if (rank >= 2) {
    for (let t = 0; t < 2; t++) out.push(rng.perm(rank).slice(0, rng.int(2, rank)));
  }
  return out;
}

function reduceGroups(): KernelGroup[] {
  const ops = [
    ['sum', sum],
    ['max', max],
    ['min', min],
  ] as const;
  const groups: KernelGroup[] = ops.map(([op, fn]) => ({
    name: `reduce ${op} (single, multiple, all axes, keepDims)`,
    tol: 'basic',
    build: (rng, full) => {
      const cases: ForwardCase[] = [];
      const shapes: number[][] = [[7], [1, 5], [3, 1, 4], [2, 3, 4, 5], [17, 3], []];
      if (full) shapes.push(rng.shape(4, 1, 7), [65, 33]);
      for (const shape of shapes) {
        const x = op === 'sum' ? randomFloats(rng, shape) : randomFromSet(rng, shape, [-2, -1, 0, 0.5, 1, 3]);
        for (const axes of axisChoices(rng, shape.length)) {
          for (const keepDims of [false, true]) {
            cases.push({
              label: `${op} ${formatShape(shape)} axes ${JSON.stringify(axes)}${keepDims ? ' keepDims' : ''}`,
              inputs: [x],
              run: ([a]) => fn(a!, axes, keepDims),
              want: () => [reduceRef(op, x, axes, keepDims)],
              scale: () => [op === 'sum' ? reduceRef('sum', { ...x, data: x.data.map(Math.abs) }, axes, keepDims).data : undefined],
            });
          }
        }
      }
      const xi = randomInts(rng, [3, 4, 5], -100, 100);
      for (const axes of [undefined, 1, [0, 2]]) {
        cases.push({
          label: `${op} int32 [3, 4, 5] axes ${JSON.stringify(axes)}`,
          inputs: [xi],
          run: ([a]) => fn(a!, axes),
          want: () => [reduceRef(op, xi, axes)],
        });
      }
      // Empty inputs: a reduced 0-length axis gives the sum's identity; an empty output is legal for all.
      const e = randomFloats(rng, [3, 0]);
      if (op === 'sum') {
        cases.push({
          label: 'sum over an empty axis → 0',
          inputs: [e],
          run: ([a]) => sum(a!, 1),
          want: () => [hostTensor([3], 'float32', new Float64Array(3))],
        });
        cases.push({
          label: 'sum of an empty tensor (all axes) → 0',
          inputs: [e],
          run: ([a]) => sum(a!),
          want: () => [hostTensor([], 'float32', new Float64Array(1))],
        });
        cases.push({
          label: 'sum over an empty axis keepDims → [3, 1] of 0',
          inputs: [e],
          run: ([a]) => sum(a!, 1, true),
          want: () => [hostTensor([3, 1], 'float32', new Float64Array(3))],
        });
      }
      cases.push({
        label: `${op} [3, 0] over axis 0 → empty [0]`,
        inputs: [e],
        run: ([a]) => fn(a!, 0),
        want: () => [hostTensor([0], 'float32', new Float64Array(0))],
      });
      return cases;
    },
  }));
  groups.push({
    name: 'mean',
    tol: 'basic',
    build: (rng) => {
      const cases: ForwardCase[] = [];
      for (const shape of [[7], [3, 1, 4], [2, 3, 4, 5], [], [33]]) {
        const x = randomFloats(rng, shape);
        for (const axes of axisChoices(rng, shape.length)) {
          for (const keepDims of [false, true]) {
            cases.push({
              label: `mean ${formatShape(shape)} axes ${JSON.stringify(axes)}${keepDims ? ' keepDims' : ''}`,
              inputs: [x],
              run: ([a]) => mean(a!, axes, keepDims),
              want: () => [meanRef(x, axes, keepDims)],
            });
          }
        }
      }
      return cases;
    },
  });
  groups.push({
    name: 'argMax (first maximum on ties)',
    tol: 'exact',
    build: (rng) => {
      const cases: ForwardCase[] = [];
      for (const shape of [[7], [4, 9], [3, 4, 5], [1, 1], [2, 17, 3]]) {
        for (const x of [randomFromSet(rng, shape, [0, 1, 2, 2, -1]), randomFloats(rng, shape), randomInts(rng, shape, -2, 2)]) {
          for (let axis = -1; axis < shape.length; axis++) {
            cases.push({
              label: `argMax ${x.dtype} ${formatShape(shape)} axis ${axis}`,
              inputs: [x],
              run: ([a]) => argMax(a!, axis),
              want: () => [argMaxRef(x, axis)],
            });
          }
        }
      }
      const tie = fromValues([2, 4], [5, 5, 1, 5, -1, 3, 3, 3]);
      cases.push({
        label: 'argMax explicit ties',
        inputs: [tie],
        run: ([a]) => argMax(a!),
        want: () => [fromValues([2], [0, 1], 'int32')],
      });
      return cases;
    },
  });
  groups.push({
    name: 'signedArgMax (first maximum of [x, −x])',
    tol: 'exact',
    build: (rng) => {
      const cases: ForwardCase[] = [];
      // 64 and 37 take the vector path with and without a tail; ties within and across the halves
      for (const shape of [[7], [4, 9], [3, 4, 5], [1, 1], [5, 64], [2, 3, 37]]) {
        for (const x of [randomFromSet(rng, shape, [0, 1, 2, 2, -1, -2]), randomFloats(rng, shape)]) {
          cases.push({
            label: `signedArgMax ${formatShape(shape)}`,
            inputs: [x],
            run: ([a]) => signedArgMax(a!),
            want: () => [signedArgMaxRef(x)],
          });
        }
      }
      // ties between x and −x (the first half wins), ±0, ±∞, NaN and rows of only NaN
      const special = [3, -3, 1, 0, -3, 3, 1, 0, 0, -0, 0, -0, -0, 0, -0, 0, NaN, -1, NaN, 0.5, NaN, NaN, NaN, NaN];
      special.push(-Infinity, -Infinity, -Infinity, -Infinity, Infinity, -Infinity, 2, 1, -Infinity, NaN, 5, -5);
      const rows = fromValues([9, 4], special);
      cases.push({
        label: 'signedArgMax ties, ±0, ±∞, NaN',
        inputs: [rows],
        run: ([a]) => signedArgMax(a!),
        want: () => [signedArgMaxRef(rows)],
      });
      const wide = fromValues([3, 8], [1, 2, 3, 4, -4, 0, 4, -4, -5, 1, 2, 5, 0, 0, -5, 1, NaN, NaN, NaN, NaN, NaN, NaN, NaN, -1]);
      cases.push({
        label: 'signedArgMax lanes [3, 8]',
        inputs: [wide],
        run: ([a]) => signedArgMax(a!),
        want: () => [signedArgMaxRef(wide)],
      });
      return cases;
    },
  });
  groups.push({
    name: 'argSort (stable, last and non-last axis)',
    tol: 'exact',
    build: (rng, full) => {
      const cases: ForwardCase[] = [];
      const shapes = [[20], [3, 33], [4, 5, 6], [1, 1], [2, 0], [65]];
      if (full) shapes.push([2, 257]);
      for (const shape of shapes) {
        const xs = [randomFromSet(rng, shape, [0, 1, 2, -1]), randomFloats(rng, shape), randomInts(rng, shape, -3, 3)];
        for (const x of xs) {
          for (let axis = -1; axis < shape.length; axis++) {
            cases.push({
              label: `argSort ${x.dtype} ${formatShape(shape)} axis ${axis}`,
              inputs: [x],
              run: ([a]) => argSort(a!, axis),
              want: () => [argSortRef(x, axis)],
            });
          }
        }
      }
      const allEqual = fromValues([40], new Array<number>(40).fill(1.5));
      cases.push({
        label: 'argSort all keys equal → identity order',
        inputs: [allEqual],
        run: ([a]) => argSort(a!),
        want: () => [
          fromValues(
            [40],
            Array.from({ length: 40 }, (_, i) => i),
            'int32',
          ),
        ],
      });
      return cases;
    },
  });
  return groups;
}

// ---------------------------------------------------------------------------------------------
// Matmul
// ---------------------------------------------------------------------------------------------

function matmulShape(rows: number, cols: number, t: boolean, batch: number[] = []): number[] {
  return t ? [...batch, cols, rows] : [...batch, rows, cols];
}

function matmulGroup(): KernelGroup {
  return {
    name: 'matmul (transpose combos, odd sizes, broadcast batch)',
    tol: 'basic',
    build: (rng, full) => {
      const dims = [1, 3, 7, 17, 33, 65];
      const triples: [number, number, number][] = [
        [1, 1, 1],
        [65, 33, 17],
        [17, 65, 1],
        [1, 7, 65],
        [3, 3, 3],
      ];
      const randomCount = full ? 8 : 3;
      for (let i = 0; i < randomCount; i++) triples.push([rng.pick(dims), rng.pick(dims), rng.pick(dims)]);
      if (full) triples.push([129, 65, 127]);
      const cases: ForwardCase[] = [];
      const add = (a: HostTensor, b: HostTensor, ta: boolean, tb: boolean, what: string) =>
        cases.push({
          label: `matmul ${what} ${formatShape(a.shape)}${ta ? 'ᵀ' : ''} · ${formatShape(b.shape)}${tb ? 'ᵀ' : ''}`,
          inputs: [a, b],
          run: ([x, y]) => matmul(x!, y!, ta, tb),
          want: () => [matmulRef(a, b, ta, tb)],
          scale: () => [matmulRef(a, b, ta, tb, true).data],
        });
      for (const [m, k, n] of triples) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            add(randomFloats(rng, matmulShape(m, k, ta)), randomFloats(rng, matmulShape(k, n, tb)), ta, tb, `M${m} K${k} N${n}`);
          }
        }
      }
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          add(randomFloats(rng, matmulShape(3, 5, ta, [2, 1])), randomFloats(rng, matmulShape(5, 4, tb, [3])), ta, tb, 'batch [2,1]×[3]');
          add(randomFloats(rng, matmulShape(7, 3, ta)), randomFloats(rng, matmulShape(3, 2, tb, [2, 2])), ta, tb, 'batch []×[2,2]');
          add(
            randomFloats(rng, matmulShape(2, 17, ta, [2, 3])),
            randomFloats(rng, matmulShape(17, 3, tb, [2, 3])),
            ta,
            tb,
            'batch [2,3]×[2,3]',
          );
          add(
            randomFloats(rng, matmulShape(4, 3, ta, [1, 2])),
            randomFloats(rng, matmulShape(3, 5, tb, [3, 1])),
            ta,
            tb,
            'batch [1,2]×[3,1]',
          );
        }
      }
      add(randomFloats(rng, [2, 0]), randomFloats(rng, [0, 3]), false, false, 'empty inner dimension → zeros');
      add(randomFloats(rng, [0, 4]), randomFloats(rng, [4, 3]), false, false, 'empty rows');
      add(randomFloats(rng, [0, 2, 3]), randomFloats(rng, [3, 2]), false, false, 'empty batch');
      return cases;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

/** The layout kernels' cases, one group per kernel. */
function layoutGroups(): KernelGroup[] {
  return [
    transposeGroup(),
    sliceGroup(),
    concatGroup(),
    splitGroup(),
    padGroup(),
    broadcastToGroup(),
    reshapeGroup(),
    gatherGroup(),
    scatterAddGroup(),
  ];
}

/** Kernel cases: transpose (random perms up to rank 5). */
function transposeGroup(): KernelGroup {
  return {
    name: 'transpose (random perms up to rank 5)',
    tol: 'exact',
    build: (rng, full) => {
      const cases: ForwardCase[] = [];
      const count = full ? 24 : 10;
      for (let t = 0; t < count; t++) {
        const rank = rng.int(1, 5);
        const shape = rng.shape(rank, 1, rank >= 4 ? 3 : 5);
        const x = rng.chance(0.8) ? randomFloats(rng, shape) : randomInts(rng, shape, -99, 99);
        const perm = rng.perm(rank);
        cases.push({
          label: `transpose ${x.dtype} ${formatShape(shape)} perm ${formatShape(perm)}`,
          inputs: [x],
          run: ([a]) => transpose(a!, perm),
          want: () => [transposeRef(x, perm)],
        });
      }
      const e = randomFloats(rng, [2, 0, 3]);
      cases.push({
        label: 'transpose empty [2, 0, 3] perm [2, 0, 1]',
        inputs: [e],
        run: ([a]) => transpose(a!, [2, 0, 1]),
        want: () => [transposeRef(e, [2, 0, 1])],
      });
      const m = randomFloats(rng, [17, 33]);
      cases.push({
        label: 'transpose [17, 33] (default perm)',
        inputs: [m],
        run: ([a]) => transpose(a!),
        want: () => [transposeRef(m, [1, 0])],
      });
      const s = randomFloats(rng, [3, 1, 4]);
      cases.push({
        label: 'transpose negative axes [-1, 0, 1]',
        inputs: [s],
        run: ([a]) => transpose(a!, [-1, 0, 1]),
        want: () => [transposeRef(s, [2, 0, 1])],
      });
      return cases;
    },
  };
}

/** Kernel cases: slice (random boxes, size 0). */
function sliceGroup(): KernelGroup {
  return {
    name: 'slice (random boxes, size 0)',
    tol: 'exact',
    build: (rng, full) => {
      const cases: ForwardCase[] = [];
      const count = full ? 24 : 12;
      for (let t = 0; t < count; t++) {
        const shape = rng.shape(rng.int(1, 4), 1, 6);
        const x = rng.chance(0.8) ? randomFloats(rng, shape) : randomInts(rng, shape, -99, 99);
        const begin = shape.map((d) => rng.int(0, d - 1));
        const size = shape.map((d, i) => rng.int(t % 5 === 0 && i === 0 ? 0 : 1, d - begin[i]!));
        cases.push({
          label: `slice ${formatShape(shape)} begin ${formatShape(begin)} size ${formatShape(size)}`,
          inputs: [x],
          run: ([a]) => slice(a!, begin, size),
          want: () => [sliceRef(x, begin, size)],
        });
      }
      const x = randomFloats(rng, [4, 5]);
      cases.push({
        label: 'slice with size -1 (to the end)',
        inputs: [x],
        run: ([a]) => slice(a!, [1, 2], [-1, 2]),
        want: () => [sliceRef(x, [1, 2], [3, 2])],
      });
      cases.push({
        label: 'slice of size 0 at the end',
        inputs: [x],
        run: ([a]) => slice(a!, [4, 0], [0, 5]),
        want: () => [sliceRef(x, [4, 0], [0, 5])],
      });
      return cases;
    },
  };
}

/** Kernel cases: concat (several axes, empty pieces). */
function concatGroup(): KernelGroup {
  return {
    name: 'concat (several axes, empty pieces)',
    tol: 'exact',
    build: (rng) => {
      const cases: ForwardCase[] = [];
      for (let t = 0; t < 12; t++) {
        const rank = rng.int(1, 4);
        const shape = rng.shape(rank, 1, 4);
        const axis = rng.int(0, rank - 1);
        const n = rng.int(2, 4);
        const dtype = rng.chance(0.8) ? 'float32' : 'int32';
        const pieces = Array.from({ length: n }, (_, i) => {
          const s = [...shape];
          s[axis] = i === 1 && t % 3 === 0 ? 0 : rng.int(1, 4);
          return dtype === 'float32' ? randomFloats(rng, s) : randomInts(rng, s, -9, 9);
        });
        const ax = rng.chance(0.3) ? axis - rank : axis;
        cases.push({
          label: `concat ${dtype} ${pieces.map((p) => formatShape(p.shape)).join(' + ')} axis ${ax}`,
          inputs: pieces,
          run: (xs) => concat(xs, ax),
          want: () => [concatRef(pieces, axis)],
        });
      }
      return cases;
    },
  };
}

/** Kernel cases: split (equal pieces and size lists). */
function splitGroup(): KernelGroup {
  return {
    name: 'split (equal pieces and size lists)',
    tol: 'exact',
    build: (rng) => {
      const cases: ForwardCase[] = [];
      const x = randomFloats(rng, [6, 4, 5]);
      for (const [sizes, axis] of [
        [3, 0],
        [2, 1],
        [[1, 0, 4], 2],
        [[2, 2, 2], -3],
        [1, 1],
        [[4, 0], 1],
      ] as [number | number[], number][]) {
        const ax = axis < 0 ? axis + 3 : axis;
        const list = typeof sizes === 'number' ? new Array<number>(sizes).fill(x.shape[ax]! / sizes) : sizes;
        cases.push({
          label: `split [6, 4, 5] into ${JSON.stringify(sizes)} along ${axis}`,
          inputs: [x],
          run: ([a]) => split(a!, sizes, axis),
          want: () => {
            let off = 0;
            return list.map((n) => {
              const begin = x.shape.map((_, i) => (i === ax ? off : 0));
              const size = x.shape.map((d, i) => (i === ax ? n : d));
              off += n;
              return sliceRef(x, begin, size);
            });
          },
        });
      }
      return cases;
    },
  };
}

/** Kernel cases: pad. */
function padGroup(): KernelGroup {
  return {
    name: 'pad',
    tol: 'exact',
    build: (rng) => {
      const cases: ForwardCase[] = [];
      for (let t = 0; t < 10; t++) {
        const shape = rng.shape(rng.int(1, 4), t === 0 ? 0 : 1, 4);
        const x = rng.chance(0.8) ? randomFloats(rng, shape) : randomInts(rng, shape, -9, 9);
        const paddings = shape.map(() => [rng.int(0, 2), rng.int(0, 2)] as [number, number]);
        const value = x.dtype === 'int32' ? rng.int(-5, 5) : Math.fround(rng.uniform(-5, 5));
        cases.push({
          label: `pad ${x.dtype} ${formatShape(shape)} ${JSON.stringify(paddings)} value ${value}`,
          inputs: [x],
          run: ([a]) => pad(a!, paddings, value),
          want: () => [padRef(x, paddings, value)],
        });
      }
      const e = randomFloats(rng, [0, 3]);
      cases.push({
        label: 'pad empty [0, 3] → [2, 4]',
        inputs: [e],
        run: ([a]) =>
          pad(
            a!,
            [
              [1, 1],
              [0, 1],
            ],
            9,
          ),
        want: () => [
          padRef(
            e,
            [
              [1, 1],
              [0, 1],
            ],
            9,
          ),
        ],
      });
      return cases;
    },
  };
}

/** Kernel cases: broadcastTo. */
function broadcastToGroup(): KernelGroup {
  return {
    name: 'broadcastTo',
    tol: 'exact',
    build: (rng) =>
      (
        [
          [
            [3, 1],
            [2, 3, 4],
          ],
          [[], [2, 2]],
          [[1], [5]],
          [
            [2, 1, 3],
            [2, 4, 3],
          ],
          [[4], [4]],
          [
            [1, 3],
            [0, 3],
          ],
          [[17], [2, 17]],
        ] as [number[], number[]][]
      ).flatMap(([from, to]) => {
        const xs = [randomFloats(rng, from), randomInts(rng, from, -9, 9)];
        return xs.map(
          (x): ForwardCase => ({
            label: `broadcastTo ${x.dtype} ${formatShape(from)} → ${formatShape(to)}`,
            inputs: [x],
            run: ([a]) => broadcastTo(a!, to),
            want: () => [broadcastToRef(x, to)],
          }),
        );
      }),
  };
}

/** Kernel cases: reshape / expandDims / squeeze / stack. */
function reshapeGroup(): KernelGroup {
  return {
    name: 'reshape / expandDims / squeeze / stack',
    tol: 'exact',
    build: (rng) => {
      const x = randomFloats(rng, [2, 3, 4]);
      const s = randomFloats(rng, [1, 3, 1]);
      const parts = [randomFloats(rng, [2, 3]), randomFloats(rng, [2, 3]), randomFloats(rng, [2, 3])];
      return [
        { label: 'reshape [2, 3, 4] → [4, -1]', inputs: [x], run: ([a]) => reshape(a!, [4, -1]), want: () => [reshapeRef(x, [4, 6])] },
        { label: 'reshape [2, 3, 4] → [24]', inputs: [x], run: ([a]) => reshape(a!, [24]), want: () => [reshapeRef(x, [24])] },
        { label: 'expandDims axis 1', inputs: [x], run: ([a]) => expandDims(a!, 1), want: () => [reshapeRef(x, [2, 1, 3, 4])] },
        { label: 'expandDims axis -1', inputs: [x], run: ([a]) => expandDims(a!, -1), want: () => [reshapeRef(x, [2, 3, 4, 1])] },
        { label: 'squeeze all', inputs: [s], run: ([a]) => squeeze(a!), want: () => [reshapeRef(s, [3])] },
        { label: 'squeeze axis 2', inputs: [s], run: ([a]) => squeeze(a!, [2]), want: () => [reshapeRef(s, [1, 3])] },
        {
          label: 'stack axis 0',
          inputs: parts,
          run: (xs) => stack(xs, 0),
          want: () => [
            concatRef(
              parts.map((p) => reshapeRef(p, [1, 2, 3])),
              0,
            ),
          ],
        },
        {
          label: 'stack axis 2',
          inputs: parts,
          run: (xs) => stack(xs, 2),
          want: () => [
            concatRef(
              parts.map((p) => reshapeRef(p, [2, 3, 1])),
              2,
            ),
          ],
        },
      ];
    },
  };
}

/** Kernel cases: gather (batched along axis 0, 1, 2; repeated indices). */
function gatherGroup(): KernelGroup {
  return {
    name: 'gather (batched along axis 0, 1, 2; repeated indices)',
    tol: 'exact',
    build: (rng) => {
      const cases: ForwardCase[] = [];
      const x = randomFloats(rng, [4, 5, 3]);
      const xi = randomInts(rng, [4, 5, 3], -99, 99);
      for (const axis of [0, 1, 2]) {
        for (const n of [1, 7, 0]) {
          const idxShape = [...x.shape.slice(0, axis), n];
          const idx = randomInts(rng, idxShape, 0, x.shape[axis]! - 1);
          for (const src of [x, xi]) {
            cases.push({
              label: `gather ${src.dtype} [4, 5, 3] axis ${axis} indices ${formatShape(idxShape)}`,
              inputs: [src, idx],
              run: ([a, i]) => gather(a!, i!, axis),
              want: () => [gatherRef(src, idx, axis)],
            });
          }
        }
      }
      const rows = randomInts(rng, [2, 3], 0, 3);
      cases.push({
        label: 'gather axis 0 with 2-D indices (embedding lookup)',
        inputs: [x, rows],
        run: ([a, i]) => gather(a!, i!, 0),
        want: () => [reshapeRef(gatherRef(x, reshapeRef(rows, [6]), 0), [2, 3, 5, 3])],
      });
      const neg = randomInts(rng, [4, 2], 0, 2);
      cases.push({ label: 'gather axis -2', inputs: [x, neg], run: ([a, i]) => gather(a!, i!, -2), want: () => [gatherRef(x, neg, 1)] });
      return cases;
    },
  };
}

/** Kernel cases: scatterAdd (batched along axis 0, 1, 2; repeated indices accumulate). */
function scatterAddGroup(): KernelGroup {
  return {
    name: 'scatterAdd (batched along axis 0, 1, 2; repeated indices accumulate)',
    tol: 'basic',
    build: (rng) => {
      const cases: ForwardCase[] = [];
      for (const axis of [0, 1, 2]) {
        for (const n of [1, 9, 0]) {
          const updShape = [3, 4, 2];
          updShape[axis] = n;
          const upd = randomFloats(rng, updShape);
          const size = rng.int(1, 4);
          const idx = randomInts(rng, updShape.slice(0, axis + 1), 0, size - 1);
          cases.push({
            label: `scatterAdd updates ${formatShape(updShape)} axis ${axis} size ${size}`,
            inputs: [upd, idx],
            run: ([u, i]) => scatterAdd(u!, i!, axis, size),
            want: () => [scatterAddRef(upd, idx, axis, size)],
          });
        }
      }
      const ones4 = fromValues([4, 2], [1, 1, 1, 1, 1, 1, 1, 1]);
      const same = fromValues([4], [2, 2, 2, 0], 'int32');
      cases.push({
        label: 'scatterAdd all to one row',
        inputs: [ones4, same],
        run: ([u, i]) => scatterAdd(u!, i!, 0, 3),
        want: () => [fromValues([3, 2], [1, 1, 0, 0, 3, 3])],
      });
      return cases;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fused
// ---------------------------------------------------------------------------------------------

function softmaxGroups(): KernelGroup[] {
  const big = fromValues([3, 4], [1e4, -1e4, 0, 1e4 - 1, -1e4, -1e4 + 2, -1e4 + 1, -1e4, 3e4, 3e4, 3e4, 3e4]);
  return [
    {
      name: 'softmax (large values, non-last axis)',
      tol: 'transcendental',
      build: (rng) => {
        const cases: ForwardCase[] = [];
        for (const shape of [[3, 5], [2, 3, 17], [1], [4, 1], [65], [2, 0, 3]]) {
          const x = randomFloats(rng, shape, -5, 5);
          for (let axis = -1; axis < shape.length; axis++) {
            cases.push({
              label: `softmax ${formatShape(shape)} axis ${axis}`,
              inputs: [x],
              run: ([a]) => softmax(a!, axis),
              want: () => [softmaxRef(x, axis)],
            });
          }
        }
        cases.push({
          label: 'softmax rows of ±1e4 (no overflow)',
          inputs: [big],
          run: ([a]) => softmax(a!),
          want: () => [softmaxRef(big)],
        });
        cases.push({ label: 'softmax ±1e4 along axis 0', inputs: [big], run: ([a]) => softmax(a!, 0), want: () => [softmaxRef(big, 0)] });
        return cases;
      },
    },
    {
      name: 'logSumExp / logSoftmax (large values, non-last axis, keepDims)',
      tol: 'transcendental',
      build: (rng) => {
        const cases: ForwardCase[] = [];
        for (const shape of [[3, 5], [2, 3, 17], [1], [4, 1], [65]]) {
          const x = randomFloats(rng, shape, -5, 5);
          for (let axis = -1; axis < shape.length; axis++) {
            for (const keepDims of [false, true]) {
              cases.push({
                label: `logSumExp ${formatShape(shape)} axis ${axis}${keepDims ? ' keepDims' : ''}`,
                inputs: [x],
                run: ([a]) => logSumExp(a!, axis, keepDims),
                want: () => [logSumExpRef(x, axis, keepDims)],
              });
            }
            cases.push({
              label: `logSoftmax ${formatShape(shape)} axis ${axis}`,
              inputs: [x],
              run: ([a]) => logSoftmax(a!, axis),
              want: () => [logSoftmaxRef(x, axis)],
            });
          }
        }
        cases.push({
          label: 'logSumExp rows of ±1e4 (no overflow)',
          inputs: [big],
          run: ([a]) => logSumExp(a!),
          want: () => [logSumExpRef(big)],
        });
        cases.push({
          label: 'logSumExp ±1e4 along axis 0',
          inputs: [big],
          run: ([a]) => logSumExp(a!, 0),
          want: () => [logSumExpRef(big, 0)],
        });
        cases.push({ label: 'logSoftmax rows of ±1e4', inputs: [big], run: ([a]) => logSoftmax(a!), want: () => [logSoftmaxRef(big)] });
        const e = randomFloats(rng, [0, 3]);
        cases.push({
          label: 'logSumExp of [0, 3] rows → [0]',
          inputs: [e],
          run: ([a]) => logSumExp(a!),
          want: () => [hostTensor([0], 'float32', new Float64Array(0))],
        });
        return cases;
      },
    },
    {
      name: 'layerNorm forward and fused backward',
      tol: 'transcendental',
      build: (rng) => {
        const cases: ForwardCase[] = [];
        for (const [shape, eps] of [
          [[3, 8], 1e-5],
          [[2, 3, 17], 1e-12],
          [[5, 1], 1e-5],
          [[1, 64], 1e-6],
          [[4, 33], 1e-12],
        ] as [number[], number][]) {
          const d = shape[shape.length - 1]!;
          const x = randomFloats(rng, shape, -2, 3);
          const g = randomFloats(rng, [d], 0.5, 1.5);
          const b = randomFloats(rng, [d], -1, 1);
          const dy = randomFloats(rng, shape);
          cases.push({
            label: `layerNorm ${formatShape(shape)} eps ${eps}`,
            inputs: [x, g, b],
            run: ([xx, gg, bb]) => layerNorm(xx!, gg!, bb!, eps),
            want: () => [layerNormRef(x, g, b, eps).y],
          });
          cases.push({
            label: `layerNorm backward ${formatShape(shape)} eps ${eps} (dx, dGamma, dBeta)`,
            inputs: [x, g, b, dy],
            run: ([xx, gg, bb, dd]) => {
              const { value, grads } = gradients(() => layerNorm(xx!, gg!, bb!, eps), [xx!, gg!, bb!], dd!);
              value.dispose();
              return grads;
            },
            want: () => {
              const r = layerNormBackwardRef(dy, x, g, eps);
              return [r.dx, r.dGamma, r.dBeta];
            },
            // dx = rstd·(dy·γ − mean − x̂·mean) with O(1) terms here: absolute error scale 1.
            scale: () => [new Float64Array(x.data.length).fill(1), undefined, undefined],
          });
        }
        return cases;
      },
    },
    {
      name: 'relu / gelu forward and fused backward',
      tol: 'transcendental',
      build: (rng) => {
        const cases: ForwardCase[] = [];
        for (const shape of [[7], [3, 17], [0], [2, 3, 4]]) {
          const x = randomAwayFromZero(rng, shape, 0.01, 5);
          const dy = randomFloats(rng, shape);
          const dRelu = hostTensor(
            shape,
            'float32',
            x.data.map((v, i) => (v > 0 ? dy.data[i]! : 0)),
          );
          const dGelu = hostTensor(
            shape,
            'float32',
            x.data.map((v, i) => dy.data[i]! * geluGrad64(v)),
          );
          cases.push({
            label: `activationBackward relu ${formatShape(shape)}`,
            inputs: [x, dy],
            run: ([a, d]) => E.activationBackward('relu', a!, d!),
            want: () => [dRelu],
          });
          cases.push({
            label: `activationBackward gelu ${formatShape(shape)}`,
            inputs: [x, dy],
            run: ([a, d]) => E.activationBackward('gelu', a!, d!),
            want: () => [dGelu],
          });
          for (const [op, fn, want] of [
            ['relu', E.relu, dRelu],
            ['gelu', E.gelu, dGelu],
          ] as const) {
            cases.push({
              label: `${op} gradient through grad() ${formatShape(shape)}`,
              inputs: [x, dy],
              run: ([a, d]) => {
                const { value, grads } = gradients(() => fn(a!), [a!], d!);
                value.dispose();
                return grads;
              },
              want: () => [want],
            });
          }
        }
        return cases;
      },
    },
    {
      name: 'crossEntropy (ignoreIndex rows, all reductions) and its backward',
      tol: 'transcendental',
      build: (rng) => {
        const cases: ForwardCase[] = [];
        const configs: { shape: number[]; ignoreIndex: number; ignored: number }[] = [
          { shape: [6, 5], ignoreIndex: -100, ignored: 2 },
          { shape: [2, 3, 7], ignoreIndex: -100, ignored: 1 },
          { shape: [4, 3], ignoreIndex: 2, ignored: 0 },
          { shape: [3, 4], ignoreIndex: -100, ignored: 3 },
          { shape: [1, 1], ignoreIndex: -100, ignored: 0 },
          { shape: [5, 33], ignoreIndex: -1, ignored: 2 },
        ];
        for (const { shape, ignoreIndex, ignored } of configs) {
          const v = shape[shape.length - 1]!;
          const lead = shape.slice(0, -1);
          const logits = randomFloats(rng, shape, -4, 4);
          const labels = randomInts(rng, lead, 0, v - 1);
          const order = rng.perm(labels.data.length);
          for (let t = 0; t < ignored; t++) labels.data[order[t]!] = ignoreIndex;
          for (const reduction of ['none', 'sum', 'mean'] as const) {
            cases.push({
              label: `crossEntropy ${formatShape(shape)} ignoreIndex ${ignoreIndex} (${ignored} ignored) reduction ${reduction}`,
              inputs: [logits, labels],
              run: ([z, y]) => crossEntropy(z!, y!, { ignoreIndex, reduction }),
              want: () => [crossEntropyRef(logits, labels, ignoreIndex, reduction)],
            });
          }
          const dLoss = randomFloats(rng, lead);
          cases.push({
            label: `crossEntropy backward ${formatShape(shape)} ignoreIndex ${ignoreIndex} (${ignored} ignored)`,
            inputs: [logits, labels, dLoss],
            run: ([z, y, d]) => {
              const { value, grads } = gradients(() => crossEntropy(z!, y!, { ignoreIndex, reduction: 'none' }), [z!], d!);
              value.dispose();
              return grads;
            },
            want: () => [crossEntropyBackwardRef(logits, labels, { ...dLoss, shape: [dLoss.data.length] }, ignoreIndex)],
          });
        }
        const labels = fromValues([2], [-100, -100], 'int32');
        const logits = randomFloats(rng, [2, 3]);
        cases.push({
          label: 'crossEntropy mean with every row ignored → 0',
          inputs: [logits, labels],
          run: ([z, y]) => crossEntropy(z!, y!),
          want: () => [fromValues([], [0])],
        });
        return cases;
      },
    },
  ];
}

/** Every forward group of the suite. */
export function kernelGroups(): KernelGroup[] {
  return [
    creationGroup(),
    ...unaryGroups(),
    intUnaryGroup(),
    ...binaryGroups(),
    whereGroup(),
    castGroup(),
    ...reduceGroups(),
    matmulGroup(),
    ...layoutGroups(),
    ...softmaxGroups(),
    dropoutGroup(),
    randomGroup(),
  ];
}

/** Disposes what a case returned (helper for custom runners). */
export function disposeAll(ts: Tensor | Tensor[]): void {
  dispose(ts);
}
