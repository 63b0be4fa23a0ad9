/**
 * Gradient cases of every differentiable op, for the random-direction finite-difference check of
 * `harness.ts` (`checkGradient`): the device computes ∇f by the library's autograd, the host
 * differentiates the float64 oracle numerically. Inputs stay away from kinks and discontinuities
 * (|x| > 0.1 for abs/relu/sign, off-grid values for floor/ceil/round, positive bases for pow/log).
 */
import type { ArithmeticOp, UnaryOp } from '../backend.js';
import { cast, where } from '../ops/elementwise.js';
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
import { logSoftmax, logSumExp, max, mean, min, softmax, sum } from '../ops/reduce.js';
import { uniformValues } from '../random.js';
import { formatShape } from '../types.js';
import { randomAwayFromZero, randomFloats, randomFromSet, randomInts, randomOffGrid, type Rng } from './cases.js';
import type { GradCase } from './harness.js';
import { BINARY_FNS, UNARY_FNS } from './kernels.js';
import {
  binaryRef,
  broadcastShape,
  broadcastIndex,
  broadcastToRef,
  concatRef,
  crossEntropyRef,
  dropoutRef,
  gatherRef,
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
  unravel,
  whereRef,
  type HostTensor,
} from './oracles.js';

/** A named list of gradient cases. */
export interface GradGroup {
  name: string;
  build: (rng: Rng) => GradCase[];
}

/** Inputs of a unary op for finite differences: inside its domain and away from its kinks. */
function unaryGradInput(op: UnaryOp, rng: Rng, shape: number[]): HostTensor {
  switch (op) {
    case 'log':
    case 'sqrt':
    case 'rsqrt':
      return randomFloats(rng, shape, 0.2, 5);
    case 'reciprocal':
      return randomAwayFromZero(rng, shape, 0.3, 3);
    case 'abs':
    case 'relu':
    case 'sign':
      return randomAwayFromZero(rng, shape, 0.1, 3);
    case 'floor':
    case 'ceil':
    case 'round':
      return randomOffGrid(rng, shape, 4, 0.05);
    default:
      return randomFloats(rng, shape, -3, 3);
  }
}

/** Two operands whose broadcast pairs are at least `gap` apart (maximum/minimum have a kink at a = b). */
function separated(rng: Rng, sa: number[], sb: number[], gap: number): [HostTensor, HostTensor] {
  for (;;) {
    const a = randomFloats(rng, sa, -3, 3);
    const b = randomFloats(rng, sb, -3, 3);
    const shape = broadcastShape(sa, sb);
    let ok = true;
    for (let i = 0; i < sizeOf(shape) && ok; i++) {
      const idx = unravel(i, shape);
      if (Math.abs(a.data[broadcastIndex(idx, sa)]! - b.data[broadcastIndex(idx, sb)]!) < gap) ok = false;
    }
    if (ok) return [a, b];
  }
}

function binaryGradInputs(op: ArithmeticOp, rng: Rng, sa: number[], sb: number[]): [HostTensor, HostTensor] {
  switch (op) {
    case 'div':
      return [randomFloats(rng, sa, -3, 3), randomAwayFromZero(rng, sb, 0.5, 2)];
    case 'pow':
      return [randomFloats(rng, sa, 0.5, 2), randomFloats(rng, sb, -1.5, 1.5)];
    case 'maximum':
    case 'minimum':
      return separated(rng, sa, sb, 0.02);
    case 'mod':
    case 'floorDiv': {
      // Odd multiples of 1/16 over {±0.5, ±0.75, ±1, ±2}: a/b stays ≥ 1/48 from an integer, far more
      // than the finite-difference step moves it.
      const a = randomInts(rng, sa, -48, 47, 'float32');
      for (let i = 0; i < a.data.length; i++) a.data[i] = (2 * a.data[i]! + 1) / 16;
      return [a, randomFromSet(rng, sb, [0.5, 0.75, 1, 2, -0.5, -0.75, -1, -2])];
    }
    default:
      return [randomFloats(rng, sa, -3, 3), randomFloats(rng, sb, -3, 3)];
  }
}

function elementwiseGroups(): GradGroup[] {
  const unary = (Object.keys(UNARY_FNS) as UnaryOp[]).map(
    (op): GradGroup => ({
      name: `gradient of ${op}`,
      build: (rng) =>
        [[3, 4], [7], []].map((shape) => {
          const x = unaryGradInput(op, rng, shape);
          return {
            label: `${op} ${formatShape(shape)}`,
            inputs: [x],
            wrt: [0],
            run: ([a]) => UNARY_FNS[op](a!),
            ref: ([a]) => [unaryRef(op, a!)],
          };
        }),
    }),
  );
  const arith: ArithmeticOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'mod', 'floorDiv'];
  const binary = arith.map(
    (op): GradGroup => ({
      name: `gradient of ${op} (both inputs, broadcasting)`,
      build: (rng) =>
        (
          [
            [
              [3, 4],
              [3, 4],
            ],
            [
              [3, 1],
              [1, 4],
            ],
            [[2, 3], [3]],
            [[], [2, 2]],
          ] as [number[], number[]][]
        ).map(([sa, sb]) => {
          const [a, b] = binaryGradInputs(op, rng, sa, sb);
          return {
            label: `${op} ${formatShape(sa)} ${formatShape(sb)}`,
            inputs: [a, b],
            wrt: [0, 1],
            run: ([x, y]) => BINARY_FNS[op](x!, y!),
            ref: ([x, y]) => [binaryRef(op, x!, y!)],
          };
        }),
    }),
  );
  const others: GradGroup[] = [
    {
      name: 'gradient of where (both branches, broadcasting)',
      build: (rng) =>
        (
          [
            [
              [3, 4],
              [3, 4],
              [3, 4],
            ],
            [[3, 1], [1, 4], []],
            [[2, 3], [3], [2, 1]],
          ] as [number[], number[], number[]][]
        ).map(([sc, sa, sb]) => {
          const c = randomFromSet(rng, sc, [0, 1], 'int32');
          return {
            label: `where cond ${formatShape(sc)} a ${formatShape(sa)} b ${formatShape(sb)}`,
            inputs: [c, randomFloats(rng, sa), randomFloats(rng, sb)],
            wrt: [1, 2],
            run: ([cc, x, y]) => where(cc!, x!, y!),
            ref: ([cc, x, y]) => [whereRef(cc!, x!, y!)],
          };
        }),
    },
    {
      name: 'gradient of cast (float32 → float32)',
      build: (rng) => [
        { label: 'cast float32', inputs: [randomFloats(rng, [5])], wrt: [0], run: ([x]) => cast(x!, 'float32'), ref: ([x]) => [x!] },
      ],
    },
  ];
  return [...unary, ...binary, ...others];
}

function reductionGroups(): GradGroup[] {
  const axesList: (number | number[] | undefined)[] = [undefined, 0, -1, [0, 2], [1]];
  const shape = [2, 3, 4];
  const groups: GradGroup[] = (
    [
      ['sum', sum],
      ['max', max],
      ['min', min],
    ] as const
  ).map(([op, fn]) => ({
    name: `gradient of ${op}`,
    build: (rng) =>
      axesList.flatMap((axes) =>
        [false, true].map(
          (keepDims): GradCase => ({
            label: `${op} ${formatShape(shape)} axes ${JSON.stringify(axes)}${keepDims ? ' keepDims' : ''}`,
            // Distinct values (a random permutation of a grid) so that the extremum is unique and
            // stays so under the finite-difference step.
            inputs: [op === 'sum' ? randomFloats(rng, shape) : permutedGrid(rng, shape)],
            wrt: [0],
            run: ([x]) => fn(x!, axes, keepDims),
            ref: ([x]) => [reduceRef(op, x!, axes, keepDims)],
          }),
        ),
      ),
  }));
  groups.push({
    name: 'gradient of mean',
    build: (rng) =>
      axesList.map((axes) => ({
        label: `mean ${formatShape(shape)} axes ${JSON.stringify(axes)}`,
        inputs: [randomFloats(rng, shape)],
        wrt: [0],
        run: ([x]) => mean(x!, axes, true),
        ref: ([x]) => [meanRef(x!, axes, true)],
      })),
  });
  groups.push({
    name: 'gradient of logSumExp / softmax / logSoftmax',
    build: (rng) => {
      const cases: GradCase[] = [];
      for (const axis of [-1, 0, 1]) {
        cases.push({
          label: `logSumExp [3, 4, 5] axis ${axis}`,
          inputs: [randomFloats(rng, [3, 4, 5], -3, 3)],
          wrt: [0],
          run: ([x]) => logSumExp(x!, axis),
          ref: ([x]) => [logSumExpRef(x!, axis)],
        });
        cases.push({
          label: `logSumExp [3, 4, 5] axis ${axis} keepDims`,
          inputs: [randomFloats(rng, [3, 4, 5], -3, 3)],
          wrt: [0],
          run: ([x]) => logSumExp(x!, axis, true),
          ref: ([x]) => [logSumExpRef(x!, axis, true)],
        });
        cases.push({
          label: `softmax [3, 4, 5] axis ${axis}`,
          inputs: [randomFloats(rng, [3, 4, 5], -3, 3)],
          wrt: [0],
          run: ([x]) => softmax(x!, axis),
          ref: ([x]) => [softmaxRef(x!, axis)],
        });
        cases.push({
          label: `logSoftmax [3, 4, 5] axis ${axis}`,
          inputs: [randomFloats(rng, [3, 4, 5], -3, 3)],
          wrt: [0],
          run: ([x]) => logSoftmax(x!, axis),
          ref: ([x]) => [logSoftmaxRef(x!, axis)],
        });
      }
      return cases;
    },
  });
  return groups;
}

/** Distinct float32 values: a shuffled grid with spacing 0.1 (so max/min are unique, gaps ≫ the FD step). */
function permutedGrid(rng: Rng, shape: number[]): HostTensor {
  const n = sizeOf(shape);
  const perm = rng.perm(n);
  const data = Float64Array.from(perm, (p) => Math.fround((p - n / 2) * 0.1 + 0.013));
  return { shape, dtype: 'float32', data };
}

function matmulGroup(): GradGroup {
  return {
    name: 'gradient of matmul (4 transpose combos, broadcast batch)',
    build: (rng) => {
      const cases: GradCase[] = [];
      const shapes: [number[], number[], number, number, number][] = [
        [[], [], 3, 4, 5],
        [[2, 1], [3], 2, 3, 4],
        [[], [2], 3, 1, 2],
      ];
      for (const [ba, bb, m, k, n] of shapes) {
        for (const ta of [false, true]) {
          for (const tb of [false, true]) {
            const sa = [...ba, ...(ta ? [k, m] : [m, k])];
            const sb = [...bb, ...(tb ? [n, k] : [k, n])];
            cases.push({
              label: `matmul ${formatShape(sa)}${ta ? 'ᵀ' : ''} · ${formatShape(sb)}${tb ? 'ᵀ' : ''}`,
              inputs: [randomFloats(rng, sa), randomFloats(rng, sb)],
              wrt: [0, 1],
              run: ([a, b]) => matmul(a!, b!, ta, tb),
              ref: ([a, b]) => [matmulRef(a!, b!, ta, tb)],
            });
          }
        }
      }
      return cases;
    },
  };
}

function layoutGroups(): GradGroup[] {
  return [
    {
      name: 'gradient of reshape / expandDims / squeeze',
      build: (rng) => [
        {
          label: 'reshape [2, 3, 4] → [4, 6]',
          inputs: [randomFloats(rng, [2, 3, 4])],
          wrt: [0],
          run: ([x]) => reshape(x!, [4, 6]),
          ref: ([x]) => [reshapeRef(x!, [4, 6])],
        },
        {
          label: 'expandDims [2, 3] axis 1',
          inputs: [randomFloats(rng, [2, 3])],
          wrt: [0],
          run: ([x]) => expandDims(x!, 1),
          ref: ([x]) => [reshapeRef(x!, [2, 1, 3])],
        },
        {
          label: 'squeeze [1, 3, 1]',
          inputs: [randomFloats(rng, [1, 3, 1])],
          wrt: [0],
          run: ([x]) => squeeze(x!),
          ref: ([x]) => [reshapeRef(x!, [3])],
        },
      ],
    },
    {
      name: 'gradient of transpose',
      build: (rng) =>
        [
          [
            [2, 3, 4],
            [2, 0, 1],
          ],
          [
            [3, 5],
            [1, 0],
          ],
          [
            [2, 1, 3, 2, 2],
            [4, 2, 0, 3, 1],
          ],
        ].map(([shape, perm]) => ({
          label: `transpose ${formatShape(shape!)} perm ${formatShape(perm!)}`,
          inputs: [randomFloats(rng, shape!)],
          wrt: [0],
          run: ([x]) => transpose(x!, perm!),
          ref: ([x]) => [transposeRef(x!, perm!)],
        })),
    },
    {
      name: 'gradient of slice / pad',
      build: (rng) => [
        {
          label: 'slice [4, 5] begin [1, 2] size [2, 3]',
          inputs: [randomFloats(rng, [4, 5])],
          wrt: [0],
          run: ([x]) => slice(x!, [1, 2], [2, 3]),
          ref: ([x]) => [sliceRef(x!, [1, 2], [2, 3])],
        },
        {
          label: 'slice [2, 3, 4] begin [0, 1, 1] size [2, 1, 3]',
          inputs: [randomFloats(rng, [2, 3, 4])],
          wrt: [0],
          run: ([x]) => slice(x!, [0, 1, 1], [2, 1, 3]),
          ref: ([x]) => [sliceRef(x!, [0, 1, 1], [2, 1, 3])],
        },
        {
          label: 'pad [2, 3] [[1, 0], [2, 1]]',
          inputs: [randomFloats(rng, [2, 3])],
          wrt: [0],
          run: ([x]) =>
            pad(
              x!,
              [
                [1, 0],
                [2, 1],
              ],
              0.5,
            ),
          ref: ([x]) => [
            padRef(
              x!,
              [
                [1, 0],
                [2, 1],
              ],
              0.5,
            ),
          ],
        },
      ],
    },
    {
      name: 'gradient of concat / split / stack',
      build: (rng) => [
        {
          label: 'concat [2, 3] + [1, 3] + [3, 3] axis 0',
          inputs: [randomFloats(rng, [2, 3]), randomFloats(rng, [1, 3]), randomFloats(rng, [3, 3])],
          wrt: [0, 1, 2],
          run: (xs) => concat(xs, 0),
          ref: (xs) => [concatRef(xs, 0)],
        },
        {
          label: 'concat [2, 1, 4] + [2, 3, 4] axis 1',
          inputs: [randomFloats(rng, [2, 1, 4]), randomFloats(rng, [2, 3, 4])],
          wrt: [0, 1],
          run: (xs) => concat(xs, 1),
          ref: (xs) => [concatRef(xs, 1)],
        },
        {
          label: 'split [3, 6] into [1, 2, 3] along axis 1',
          inputs: [randomFloats(rng, [3, 6])],
          wrt: [0],
          run: ([x]) => split(x!, [1, 2, 3], 1),
          ref: ([x]) => [sliceRef(x!, [0, 0], [3, 1]), sliceRef(x!, [0, 1], [3, 2]), sliceRef(x!, [0, 3], [3, 3])],
        },
        {
          label: 'stack 3 × [2, 2] axis 1',
          inputs: [randomFloats(rng, [2, 2]), randomFloats(rng, [2, 2]), randomFloats(rng, [2, 2])],
          wrt: [0, 1, 2],
          run: (xs) => stack(xs, 1),
          ref: (xs) => [
            concatRef(
              xs.map((x) => reshapeRef(x, [2, 1, 2])),
              1,
            ),
          ],
        },
      ],
    },
    {
      name: 'gradient of broadcastTo',
      build: (rng) =>
        [
          [
            [3, 1],
            [2, 3, 4],
          ],
          [[], [2, 2]],
          [[4], [3, 4]],
        ].map(([from, to]) => ({
          label: `broadcastTo ${formatShape(from!)} → ${formatShape(to!)}`,
          inputs: [randomFloats(rng, from!)],
          wrt: [0],
          run: ([x]) => broadcastTo(x!, to!),
          ref: ([x]) => [broadcastToRef(x!, to!)],
        })),
    },
    {
      name: 'gradient of gather / scatterAdd (repeated indices)',
      build: (rng) => {
        const cases: GradCase[] = [];
        for (const axis of [0, 1, 2]) {
          const shape = [3, 4, 2];
          const idx = randomInts(rng, [...shape.slice(0, axis), 6], 0, shape[axis]! - 1);
          cases.push({
            label: `gather [3, 4, 2] axis ${axis} indices ${formatShape(idx.shape)}`,
            inputs: [randomFloats(rng, shape), idx],
            wrt: [0],
            run: ([x, i]) => gather(x!, i!, axis),
            ref: ([x, i]) => [gatherRef(x!, i!, axis)],
          });
          const upd = [3, 4, 2];
          upd[axis] = 5;
          const sidx = randomInts(rng, upd.slice(0, axis + 1), 0, 2);
          cases.push({
            label: `scatterAdd updates ${formatShape(upd)} axis ${axis} size 3`,
            inputs: [randomFloats(rng, upd), sidx],
            wrt: [0],
            run: ([u, i]) => scatterAdd(u!, i!, axis, 3),
            ref: ([u, i]) => [scatterAddRef(u!, i!, axis, 3)],
          });
        }
        return cases;
      },
    },
  ];
}

function fusedGroups(): GradGroup[] {
  return [
    {
      name: 'gradient of layerNorm (x, gamma, beta)',
      build: (rng) =>
        [
          [[3, 8], 1e-5],
          [[2, 2, 5], 1e-12],
        ].map(([shape, eps]) => {
          const s = shape as number[];
          const d = s[s.length - 1]!;
          return {
            label: `layerNorm ${formatShape(s)} eps ${eps}`,
            inputs: [randomFloats(rng, s, -2, 2), randomFloats(rng, [d], 0.5, 1.5), randomFloats(rng, [d])],
            wrt: [0, 1, 2],
            run: ([x, g, b]) => layerNorm(x!, g!, b!, eps as number),
            ref: ([x, g, b]) => [layerNormRef(x!, g!, b!, eps as number).y],
          };
        }),
    },
    {
      name: 'gradient of crossEntropy (ignored rows, every reduction)',
      build: (rng) =>
        (['mean', 'sum', 'none'] as const).map((reduction) => {
          const labels = randomInts(rng, [5], 0, 3);
          labels.data[1] = -100;
          labels.data[3] = -100;
          return {
            label: `crossEntropy [5, 4] reduction ${reduction} (2 ignored)`,
            inputs: [randomFloats(rng, [5, 4], -2, 2), labels],
            wrt: [0],
            run: ([z, y]) => crossEntropy(z!, y!, { reduction }),
            ref: ([z, y]) => [crossEntropyRef(z!, y!, -100, reduction)],
          };
        }),
    },
    {
      name: 'gradient of dropout (fixed seed)',
      build: (rng) => {
        const seed = 4242;
        return [
          {
            label: `dropout [4, 6] rate 0.4 seed ${seed}`,
            inputs: [randomFloats(rng, [4, 6])],
            wrt: [0],
            run: ([x]) => dropout(x!, 0.4, seed),
            ref: ([x]) => [dropoutRef(x!, 0.4, uniformValues(seed, x!.data.length))],
          },
        ];
      },
    },
  ];
}

/** Every gradient group (chunked attention has its own tests in `attention.ts` / the suite). */
export function gradGroups(): GradGroup[] {
  return [...elementwiseGroups(), ...reductionGroups(), matmulGroup(), ...layoutGroups(), ...fusedGroups()];
}
