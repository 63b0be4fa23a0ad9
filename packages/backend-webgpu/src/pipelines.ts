/**
 * Compute pipelines: the uniform-parameter convention shared by every kernel, and the cache of
 * compiled pipelines keyed by (kernel, dtypes, ranks, workgroup size, ...).
 *
 * Every kernel binds its parameters at binding 0 as a uniform array of `vec4<u32>` words and its
 * storage buffers at bindings 1..n, in the order the kernel lists them. Scalars are read with
 * `pu(i)` (u32), `pi(i)` (i32) and `pf(i)` (f32) from word `i`; {@link Params} packs them on the host.
 * A kernel with many parameters names its words with {@link ParamSlots} (`pu(ATTN_FLAGS)`, not `pu(6u)`).
 */

/** Where a storage binding is read only or written. */
export type Access = 'read' | 'read_write';

/** A storage binding of a kernel: its WGSL element type and access. */
export interface BindingSpec {
  name: string;
  type: string;
  access: Access;
}

/** A compiled kernel: its WGSL source (built once per key) and its bindings. */
export interface KernelDef {
  /** Unique cache key: kernel name plus everything the source is specialised on. */
  key: string;
  bindings: readonly BindingSpec[];
  /** The body after the generated prelude and binding declarations (must declare `@compute fn main`). */
  source: () => string;
  /** WGSL extensions the source uses (`enable ...;` directives, e.g. `subgroups`); device features they need. */
  enables?: readonly string[];
}

/** A cache of kernel definitions by key: `def()` builds one only on a miss. */
export function defCache(): (key: string, def: () => Omit<KernelDef, 'key'>) => KernelDef {
  const defs = new Map<string, KernelDef>();
  return (key, make) => {
    let def = defs.get(key);
    if (!def) {
      def = { key, ...make() };
      defs.set(key, def);
    }
    return def;
  };
}

/** Packs kernel parameters into 32-bit words. */
export class Params {
  private readonly words: number[] = [];
  private readonly f = new Float32Array(1);
  private readonly u = new Uint32Array(this.f.buffer);

  /** Appends an unsigned integer; returns its word index. */
  u32(v: number): number {
    this.words.push(v >>> 0);
    return this.words.length - 1;
  }
  /** Appends a signed integer (two's complement). */
  i32(v: number): number {
    this.words.push((v | 0) >>> 0);
    return this.words.length - 1;
  }
  /** Appends a float32. */
  f32(v: number): number {
    this.f[0] = v;
    this.words.push(this.u[0]!);
    return this.words.length - 1;
  }
  /** Appends raw bits. */
  bits(v: number): number {
    this.words.push(v >>> 0);
    return this.words.length - 1;
  }
  /** Appends a list of unsigned integers; returns the index of the first. */
  list(vs: readonly number[]): number {
    const at = this.words.length;
    for (const v of vs) this.words.push(v >>> 0);
    return at;
  }
  /** The packed words, padded to whole vec4s (at least one). */
  data(): Uint32Array {
    const n = Math.max(4, Math.ceil(this.words.length / 4) * 4);
    const out = new Uint32Array(n);
    out.set(this.words);
    return out;
  }
}

/** The WGSL type a parameter word holds (which of `pu`, `pi`, `pf` reads it). */
export type ParamType = 'u32' | 'i32' | 'f32';

/** `PREFIX_FIELD_NAME`: the WGSL constant name of a camelCase field. */
function constName(prefix: string, field: string): string {
  return `${prefix}_${field.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/**
 * Named WGSL `u32` constants: `names[key]` is the constant's name to write into a kernel's source,
 * `wgsl` declares them all (`const PREFIX_KEY = <value>u;`), for a kernel to include once.
 */
export function wgslConstants<K extends string>(
  prefix: string,
  values: Readonly<Record<K, number>>,
): { names: Readonly<Record<K, string>>; wgsl: string } {
  const names = {} as Record<K, string>;
  const lines: string[] = [];
  for (const key of Object.keys(values) as K[]) {
    names[key] = constName(prefix, key);
    lines.push(`const ${names[key]}: u32 = ${values[key] >>> 0}u;`);
  }
  return { names, wgsl: lines.join('\n') };
}

/**
 * A kernel's parameter block with named words: fields in declaration order, one word each. The
 * kernel's source includes `wgsl` and reads a field as `pu(${slots.name.field})` (or `pf`/`pi` for its
 * type), i.e. `pu(PREFIX_FIELD)` in WGSL; the host packs the values with `pack`, in the same order.
 */
export class ParamSlots<F extends string> {
  /** The WGSL constant holding each field's word index. */
  readonly name: Readonly<Record<F, string>>;
  /** The WGSL declarations of those constants. */
  readonly wgsl: string;
  private readonly fields: readonly F[];

  constructor(
    prefix: string,
    private readonly types: Readonly<Record<F, ParamType>>,
  ) {
    this.fields = Object.keys(types) as F[];
    const index = {} as Record<F, number>;
    this.fields.forEach((f, i) => (index[f] = i));
    const { names, wgsl } = wgslConstants(prefix, index);
    this.name = names;
    this.wgsl = wgsl;
  }

  /** The parameter words of one dispatch: every field's value, as its type. */
  pack(values: Readonly<Record<F, number>>): Params {
    const p = new Params();
    for (const f of this.fields) p[this.types[f]](values[f]);
    return p;
  }
}

/** `GPUShaderStage.COMPUTE` (numeric: the globals may not exist when this module loads in Node). */
const COMPUTE_STAGE = 4;

/** Number of vec4 words the uniform array declares (the binding may be smaller; we size it per dispatch). */
export const MAX_PARAM_VEC4 = 32;

/** The WGSL prelude: the parameter block, its accessors, and the flat invocation index. */
export function prelude(bindings: readonly BindingSpec[]): string {
  const decls = bindings
    .map((b, i) => {
      const space = b.access === 'read' ? 'storage, read' : 'storage, read_write';
      return `@group(0) @binding(${i + 1}) var<${space}> ${b.name}: array<${b.type}>;`;
    })
    .join('\n');
  return `
struct ParamBlock { v: array<vec4<u32>, ${MAX_PARAM_VEC4}> }
@group(0) @binding(0) var<uniform> P: ParamBlock;
fn pu(i: u32) -> u32 { return P.v[i >> 2u][i & 3u]; }
fn pi(i: u32) -> i32 { return bitcast<i32>(pu(i)); }
fn pf(i: u32) -> f32 { return bitcast<f32>(pu(i)); }
fn flatGroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }
// Private variables, not constants: WGSL constant evaluation rejects infinities and NaN.
var<private> INF_BITS: u32 = 0x7f800000u;
fn f32Inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn f32Nan() -> f32 { return bitcast<f32>(INF_BITS | 0x400000u); }
// NaN by its bits: compilers may fold x != x to false (Mesa's lavapipe does); they must keep the bits.
fn isNan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > INF_BITS; }
// max/min that propagate NaN (WGSL's max/min leave NaN unspecified).
fn maxNan(a: f32, b: f32) -> f32 { return select(select(b, a, a > b), f32Nan(), isNan(a) || isNan(b)); }
fn minNan(a: f32, b: f32) -> f32 { return select(select(b, a, a < b), f32Nan(), isNan(a) || isNan(b)); }
${decls}
`;
}

/** Compiles and caches pipelines (one per kernel key) with explicit bind group layouts. */
export class PipelineCache {
  private readonly cache = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();

  constructor(private readonly device: GPUDevice) {}

  /** Number of compiled pipelines. */
  get size(): number {
    return this.cache.size;
  }

  /** Keys of the compiled pipelines (the kernel variants in use, e.g. `softmax:wg64:subgroup`). */
  keys(): string[] {
    return [...this.cache.keys()];
  }

  /** The pipeline of `def`, compiled on first use. */
  get(def: KernelDef): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const hit = this.cache.get(def.key);
    if (hit) return hit;
    const enables = (def.enables ?? []).map((e) => `enable ${e};\n`).join('');
    const code = enables + prelude(def.bindings) + def.source();
    const module = this.device.createShaderModule({ code, label: def.key });
    const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: COMPUTE_STAGE, buffer: { type: 'uniform' } }];
    def.bindings.forEach((b, i) =>
      entries.push({
        binding: i + 1,
        visibility: COMPUTE_STAGE,
        buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
      }),
    );
    const layout = this.device.createBindGroupLayout({ entries, label: def.key });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
      label: def.key,
    });
    const entry = { pipeline, layout };
    this.cache.set(def.key, entry);
    return entry;
  }
}

/**
 * Generated WGSL that turns a flat index `idx` over a shape (`rank` extents at word `shapeAt`) into
 * offsets: for each operand j, `o{j} = word(baseAt[j]) + Σ coord_d · word(strideAt[j] + d)`.
 */
export function stridedOffsets(
  rank: number,
  shapeAt: string,
  operands: { base: string; strides: string; name: string }[],
  idx = 'idx',
): string {
  const lines: string[] = [`var rem: u32 = ${idx};`];
  for (const o of operands) lines.push(`var ${o.name}: u32 = pu(${o.base});`);
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`{ let s = pu(${shapeAt} + ${d}u); let c = rem % s; rem = rem / s;`);
    for (const o of operands) lines.push(`  ${o.name} = ${o.name} + c * pu(${o.strides} + ${d}u);`);
    lines.push('}');
  }
  return lines.join('\n');
}
