/**
 * Workgroup-wide reductions, the one mechanism every reducing kernel uses (generic reductions, the
 * row statistics of softmax/logsumexp/cross-entropy, layer norm and its backward), and the shell of a
 * row kernel (one workgroup per row of length `D`).
 *
 * A kernel declares the reductions it needs ({@link workgroupReducers}) and calls them as WGSL
 * functions, e.g. `let total = wgSum(partial);`, from uniform control flow; every invocation gets the
 * workgroup's result. How they reduce is the kernel's {@link ReduceMode} (part of its pipeline key):
 *
 * - `tree`: a tree reduction in workgroup memory (log2(wg) + 2 barriers). Works everywhere.
 * - `subgroup`: `subgroupAdd`/`subgroupMax`/`subgroupMin` within each subgroup, then one elected lane
 *   per subgroup writes its result to slot `subgroup_id` in workgroup memory, and every invocation
 *   combines the slots in order 0..num_subgroups−1 (2 barriers). Needs the `subgroups` feature and
 *   WGSL's `subgroup_id` language feature.
 * - `subgroupSlots`: the same without `subgroup_id` (WGSL does not guarantee that subgroups are
 *   contiguous ranges of `local_invocation_index`): the elected lane of each subgroup claims a slot with
 *   an atomic counter and stores its result with the subgroup's smallest `local_invocation_index` as
 *   key; the first invocations rank the slots by key, so the partial results are combined in the same
 *   order whatever order the slots were claimed in (3 barriers).
 *
 * All three give results that are deterministic run to run on the same adapter (a subgroup's
 * membership and its `subgroupAdd` order are fixed by the hardware; the cross-subgroup order is fixed
 * by the scheme).
 */

/** Workgroup size for a reduction of `n` values per workgroup. */
export function reduceWorkgroup(n: number): number {
  if (n <= 16) return 16;
  if (n <= 128) return 64;
  return 256;
}

/**
 * WGSL tree reduction over a workgroup of `wg` invocations: `step(s)` is the statement that folds
 * slot `lid + s` into slot `lid` (run for lid < s, halving s); the result ends in slot 0.
 */
export function treeReduce(wg: number, step: (s: number) => string): string {
  const lines: string[] = ['workgroupBarrier();'];
  for (let s = wg / 2; s >= 1; s /= 2) lines.push(`if (lid < ${s}u) { ${step(s)} }`, 'workgroupBarrier();');
  return lines.join('\n  ');
}

/** How a kernel reduces across its workgroup (see the module comment). */
export type ReduceMode = 'tree' | 'subgroup' | 'subgroupSlots';

/** The WGSL `enable` directives a kernel of `mode` needs. */
export function modeEnables(mode: ReduceMode): string[] {
  return mode === 'tree' ? [] : ['subgroups'];
}

/** The smallest subgroup size WebGPU allows: bounds the number of subgroups in a workgroup. */
const MIN_SUBGROUP = 4;

/** One reduction function: `name(v: type) -> type`. */
export interface Reducer {
  name: string;
  type: 'f32' | 'i32';
  /** `sum`; `max`/`min` (NaN-propagating when `nanSafe`, else WGSL's max/min). */
  op: 'sum' | 'max' | 'min';
  nanSafe?: boolean;
}

/** The standard reducers of row kernels: `wgSum` and `wgMax` over f32. */
export const ROW_REDUCERS: readonly Reducer[] = [
  { name: 'wgSum', type: 'f32', op: 'sum' },
  { name: 'wgMax', type: 'f32', op: 'max' },
];

/** WGSL combining two partial results of reducer `r` (`maxNan`/`minNan` of the prelude when `nanSafe`). */
export function combiner(r: Pick<Reducer, 'type' | 'op' | 'nanSafe'>): (a: string, b: string) => string {
  if (r.op === 'sum') return (a, b) => `${a} + ${b}`;
  const f = r.nanSafe && r.type === 'f32' ? `${r.op}Nan` : r.op;
  return (a, b) => `${f}(${a}, ${b})`;
}

/**
 * WGSL declarations of the reducers for a workgroup of `wg` invocations in `mode`: workgroup memory,
 * the private copies of the builtins they use (set by {@link entryPoint}'s prologue), and one function
 * per reducer. Each function starts with a barrier (so the previous call's reads of workgroup memory
 * are done before it writes) and calls can follow each other directly. (A barrier at the end of the
 * function instead is not enough on Mesa's llvmpipe: the next call's writes overtook it.)
 */
export function workgroupReducers(wg: number, mode: ReduceMode, reducers: readonly Reducer[]): string {
  const n = Math.max(1, wg / MIN_SUBGROUP);
  const types = [...new Set(reducers.map((r) => r.type))];
  const out: string[] = ['var<private> LID: u32;'];
  if (mode === 'tree') {
    for (const t of types) out.push(`var<workgroup> RED_${t}: array<${t}, ${wg}>;`);
  } else {
    out.push('var<private> SG_ID: u32;', 'var<private> SG_N: u32;');
    for (const t of types) out.push(`var<workgroup> RED_${t}: array<${t}, ${n}>;`);
    if (mode === 'subgroupSlots') {
      out.push('var<workgroup> SG_COUNT: atomic<u32>;', `var<workgroup> SG_KEY: array<u32, ${n}>;`);
      for (const t of types) out.push(`var<workgroup> RED_ORD_${t}: array<${t}, ${n}>;`);
    }
  }
  for (const r of reducers) out.push(reducerFn(wg, mode, r));
  return out.join('\n');
}

function reducerFn(wg: number, mode: ReduceMode, r: Reducer): string {
  const t = r.type;
  const sh = `RED_${t}`;
  const combine = combiner(r);
  if (mode === 'tree') {
    return `fn ${r.name}(v: ${t}) -> ${t} {
  let lid = LID;
  workgroupBarrier();
  ${sh}[lid] = v;
  ${treeReduce(wg, (s) => `${sh}[lid] = ${combine(`${sh}[lid]`, `${sh}[lid + ${s}u]`)};`)}
  return ${sh}[0];
}`;
  }
  // Within the subgroup: NaN-propagating max/min check for a NaN lane (subgroupMax leaves NaN unspecified).
  const sgOp = r.op === 'sum' ? 'subgroupAdd' : r.op === 'max' ? 'subgroupMax' : 'subgroupMin';
  const inSubgroup = r.nanSafe && r.type === 'f32' && r.op !== 'sum' ? `select(${sgOp}(v), f32Nan(), subgroupAny(isNan(v)))` : `${sgOp}(v)`;
  const fold = (arr: string) => `var total = ${arr}[0];
  for (var j = 1u; j < count; j = j + 1u) { total = ${combine('total', `${arr}[j]`)}; }`;
  if (mode === 'subgroup') {
    return `fn ${r.name}(v: ${t}) -> ${t} {
  workgroupBarrier();
  let part = ${inSubgroup};
  if (subgroupElect()) { ${sh}[SG_ID] = part; }
  workgroupBarrier();
  let count = SG_N;
  ${fold(sh)}
  return total;
}`;
  }
  return `fn ${r.name}(v: ${t}) -> ${t} {
  workgroupBarrier();
  let part = ${inSubgroup};
  let key = subgroupMin(LID);
  if (subgroupElect()) { let slot = atomicAdd(&SG_COUNT, 1u); SG_KEY[slot] = key; ${sh}[slot] = part; }
  workgroupBarrier();
  let count = atomicLoad(&SG_COUNT);
  if (LID < count) {
    var rank = 0u;
    for (var j = 0u; j < count; j = j + 1u) { rank = rank + select(0u, 1u, SG_KEY[j] < SG_KEY[LID]); }
    RED_ORD_${t}[rank] = ${sh}[LID];
  }
  workgroupBarrier();
  if (LID == 0u) { atomicStore(&SG_COUNT, 0u); }
  ${fold(`RED_ORD_${t}`)}
  return total;
}`;
}

/**
 * `@compute fn main` of a kernel that uses reducers: its signature (workgroup id, number of
 * workgroups, `lid`, and the subgroup builtins `mode` needs) and the prologue that stores the
 * builtins for the reducers. The caller appends the body and the closing brace.
 */
export function entryPoint(wg: number, mode: ReduceMode): string {
  const builtins = [
    '@builtin(workgroup_id) wid: vec3<u32>',
    '@builtin(num_workgroups) nwg: vec3<u32>',
    '@builtin(local_invocation_index) lid: u32',
  ];
  const init = ['LID = lid;'];
  if (mode === 'subgroup') {
    builtins.push('@builtin(subgroup_id) sgId: u32', '@builtin(num_subgroups) sgCount: u32');
    init.push('SG_ID = sgId;', 'SG_N = sgCount;');
  }
  return `@compute @workgroup_size(${wg})
fn main(${builtins.join(', ')}) {
  ${init.join(' ')}`;
}

/**
 * A row kernel: one workgroup per row of length `D` (word 1) of `rows` rows (word 0), starting at
 * `base = row · D`; `body` runs with `row`, `D`, `base`, `lid` and the reducers of `reducers`
 * (default `wgSum`, `wgMax`) in scope. `decls` go before the entry point.
 */
export function rowKernel(wg: number, mode: ReduceMode, body: string, decls = '', reducers: readonly Reducer[] = ROW_REDUCERS): string {
  return `
${decls}
${workgroupReducers(wg, mode, reducers)}
${entryPoint(wg, mode)}
  let row = flatGroup(wid, nwg);
  if (row >= pu(0u)) { return; }
  let D = pu(1u);
  let base = row * D;
  ${body}
}`;
}

/**
 * WGSL (inside a {@link rowKernel}) that leaves the row max in `rowMax` and Σ exp(x − rowMax) in
 * `rowSum` for the row of `x` at `base` (max-shifted, so ±1e4 rows do not overflow).
 */
export function rowStatsWgsl(wg: number, x: string): string {
  return `
  var m = (-f32Inf());
  for (var i = lid; i < D; i = i + ${wg}u) { m = max(m, ${x}[base + i]); }
  let mAll = wgMax(m);
  let rowMax = select(mAll, 0.0, mAll == (-f32Inf()));
  var s = 0.0;
  for (var i = lid; i < D; i = i + ${wg}u) { s = s + exp(${x}[base + i] - rowMax); }
  let rowSum = wgSum(s);`;
}
