/**
 * Optional features on the two Node adapters. Mesa's llvmpipe through OpenGL ES has neither
 * `subgroups` nor `shader-f16`: every reducing kernel compiles and runs its workgroup-memory (tree)
 * variant, even when subgroups are asked for. Lavapipe through Vulkan has both: the subgroup variants
 * (with WGSL's `subgroup_id`, and the atomically claimed slots used where it is missing) run, and give
 * the tree path's results — max/min/argMax and int32 bit for bit, float sums up to summation order —
 * and the CPU backend's.
 */
import {
  argMax,
  cast,
  crossEntropy,
  gradients,
  layerNorm,
  logSumExp,
  max,
  min,
  mul,
  randomNormal,
  randomUniform,
  scalar,
  seedScope,
  softmax,
  sum,
  tidy,
  type Tensor,
} from '@reformer/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { cpu, expectClose, host, onBackend } from './helpers.js';
import { createTestBackend } from './setup.js';

const rn = (shape: number[], seed: number) => seedScope(seed, () => randomNormal(shape));

/** Names of the outputs of {@link run}; the first `EXACT` must agree bit for bit between the paths. */
const EXACT = ['max', 'min', 'argMax', 'int32 sum', 'int32 max'];

/** Every reducing kernel: generic reductions (f32 and i32), softmax, logsumexp, layer norm and cross-entropy with gradients. */
function run(): Tensor[] {
  return tidy(() => {
    const x = rn([6, 300], 1);
    const xi = cast(
      mul(
        seedScope(9, () => randomUniform([6, 300], { min: -1, max: 1 })),
        scalar(1000),
      ),
      'int32',
    );
    const g = rn([300], 2);
    const b = rn([300], 3);
    const ln = gradients(() => layerNorm(x, g, b, 1e-5), [x, g, b], rn([6, 300], 4));
    const z = rn([5, 40], 5);
    const y = cast(
      mul(
        seedScope(6, () => randomUniform([5])),
        scalar(40),
      ),
      'int32',
    );
    const ce = gradients(() => crossEntropy(z, y), [z]);
    return [
      max(x, 1),
      min(x, 1),
      argMax(x, 1),
      sum(xi, 1),
      max(xi, 1),
      sum(x, 1),
      softmax(z),
      logSumExp(x, -1),
      ln.value,
      ...ln.grads,
      ce.value,
      ...ce.grads,
    ];
  });
}

/** Reads {@link run}'s outputs on `gpu` as float arrays. */
const runOn = (gpu: WebGPUBackend) => onBackend(gpu, async () => host(run()));

const REDUCING_KERNELS = [
  'reduce:sum:f32',
  'reduce:max:f32',
  'reduce:sum:i32',
  'softmax',
  'logSumExp',
  'layerNorm',
  'layerNormDx',
  'layerNormDGamma',
  'crossEntropy',
];

describe('opengles (llvmpipe)', () => {
  let gpu: WebGPUBackend;
  beforeAll(async () => {
    // Subgroups explicitly requested: still the tree path, since the device lacks the feature.
    gpu = await createTestBackend('opengles', { useSubgroups: true });
  });
  afterAll(() => gpu?.dispose());

  it('reports subgroups and shader-f16 as unavailable', () => {
    expect(gpu.features.has('subgroups')).toBe(false);
    expect(gpu.features.has('shader-f16')).toBe(false);
    expect(gpu.kernelFeatures).toEqual({
      subgroupsAvailable: false,
      shaderF16Available: false,
      matmulPrecision: 'f32',
      reduceMode: 'tree',
    });
  });

  it('runs the tree variants of every reducing kernel (no subgroup pipeline, no subgroup dispatch)', async () => {
    const want = await onBackend(cpu, async () => host(run()));
    expectClose(await runOn(gpu), want, 1e-4, 'tree path against the CPU backend');
    expect(gpu.runtime.subgroupDispatches).toBe(0);
    const keys = gpu.runtime.pipelines.keys();
    for (const kernel of REDUCING_KERNELS)
      expect(
        keys.some((k) => k.startsWith(`${kernel}:`) && k.endsWith(':tree')),
        kernel,
      ).toBe(true);
    expect(keys.filter((k) => k.includes(':subgroup'))).toEqual([]);
  });
});

describe('vulkan (lavapipe)', () => {
  const paths: Record<'tree' | 'subgroup' | 'subgroupSlots', WebGPUBackend | undefined> = {
    tree: undefined,
    subgroup: undefined,
    subgroupSlots: undefined,
  };
  beforeAll(async () => {
    paths.tree = await createTestBackend('vulkan', { useSubgroups: false });
    paths.subgroup = await createTestBackend('vulkan');
    paths.subgroupSlots = await createTestBackend('vulkan', { useSubgroupId: false });
  });
  afterAll(() => Object.values(paths).forEach((g) => g?.dispose()));

  it('reports subgroups, shader-f16 and timestamp queries, and the reduce mode of each path', () => {
    const { tree, subgroup, subgroupSlots } = paths as Record<string, WebGPUBackend>;
    for (const f of ['subgroups', 'shader-f16', 'timestamp-query']) expect(subgroup!.features.has(f), f).toBe(true);
    expect(subgroup!.hasTimestamps).toBe(true);
    expect(subgroup!.kernelFeatures).toEqual({
      subgroupsAvailable: true,
      shaderF16Available: true,
      matmulPrecision: 'f32',
      reduceMode: 'subgroup',
    });
    expect(subgroupSlots!.kernelFeatures.reduceMode).toBe('subgroupSlots');
    expect(tree!.kernelFeatures.reduceMode).toBe('tree');
  });

  it("the subgroup paths give the tree path's and the CPU backend's results", async () => {
    const want = await onBackend(cpu, async () => host(run()));
    const got: Partial<Record<keyof typeof paths, Float32Array[]>> = {};
    for (const [path, gpu] of Object.entries(paths) as [keyof typeof paths, WebGPUBackend][]) {
      got[path] = await runOn(gpu);
      expectClose(got[path]!, want, 1e-4, `${path} path against the CPU backend`);
    }
    for (const path of ['subgroup', 'subgroupSlots'] as const) {
      EXACT.forEach((name, i) => expect(Array.from(got[path]![i]!), `${path}: ${name}`).toEqual(Array.from(got.tree![i]!)));
      // Float sums differ from the tree only in summation order.
      expectClose(got[path]!.slice(EXACT.length), got.tree!.slice(EXACT.length), 2e-6, `${path} against the tree path`);
    }
  });

  it('each path compiled and dispatched its own variants', () => {
    expect(paths.tree!.runtime.subgroupDispatches).toBe(0);
    for (const path of ['subgroup', 'subgroupSlots'] as const) {
      const gpu = paths[path]!;
      expect(gpu.runtime.subgroupDispatches, path).toBeGreaterThan(0);
      const keys = gpu.runtime.pipelines.keys();
      for (const kernel of REDUCING_KERNELS)
        expect(
          keys.some((k) => k.startsWith(`${kernel}:`) && k.endsWith(`:${path}`)),
          `${path}: ${kernel}`,
        ).toBe(true);
    }
  });
});
