/**
 * GPU buffer pool. Buffers are recycled by size class (powers of two, with four steps per octave
 * above 64 KiB) up to a cap on pooled bytes; beyond the cap the oldest idle buffers are destroyed.
 * Every pooled buffer has the same usage (storage, uniform, copy source and destination), so a
 * buffer freed by one kernel can serve any other.
 */

/**
 * The `GPUBufferUsage` flags this package uses, by name, with the WebGPU specification's values (as
 * numbers: the `GPU*` globals may not exist when this module loads in Node).
 */
export const GPU_BUFFER_USAGE = {
  MAP_READ: 0x01,
  COPY_SRC: 0x04,
  COPY_DST: 0x08,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  QUERY_RESOLVE: 0x200,
} as const;

const U = GPU_BUFFER_USAGE;
/** The usage of every buffer the backend allocates for tensors and parameters. */
export const BUFFER_USAGE = U.STORAGE | U.UNIFORM | U.COPY_SRC | U.COPY_DST;
/** Staging buffers that GPU results are copied into and mapped for reading. */
export const READBACK_USAGE = U.MAP_READ | U.COPY_DST;
/** `GPUMapMode.READ` (the argument of `mapAsync`, not a buffer usage). */
export const MAP_READ = 0x01;

/** Smallest allocation (a zero-element tensor still gets a bindable buffer). */
const MIN_BYTES = 16;

/** The allocation size of a request of `bytes`: its size class. */
export function sizeClass(bytes: number): number {
  const b = Math.max(MIN_BYTES, Math.ceil(bytes / 16) * 16);
  const p = 2 ** Math.ceil(Math.log2(b));
  if (p <= 65536) return p;
  // Four steps per octave: p/2 · {1.25, 1.5, 1.75, 2}.
  const half = p / 2;
  for (const f of [1.25, 1.5, 1.75]) if (b <= half * f) return half * f;
  return p;
}

/** Recycles GPU buffers by size class. */
export class BufferPool {
  private readonly idle = new Map<number, GPUBuffer[]>();
  /** Idle buffers in release order (a Map keeps insertion order; deletes are O(1)). */
  private readonly order = new Map<GPUBuffer, true>();
  private pooled = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Most bytes kept idle in the pool. */
    readonly capBytes: number,
  ) {}

  /** Bytes of idle buffers held for reuse. */
  get pooledBytes(): number {
    return this.pooled;
  }

  /** A buffer of at least `bytes` (its `size` is the size class). */
  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.idle.get(size);
    const buf = list?.pop();
    if (buf) {
      this.pooled -= size;
      this.order.delete(buf);
      return buf;
    }
    return this.device.createBuffer({ size, usage: BUFFER_USAGE });
  }

  /** Returns a buffer for reuse (destroying the oldest idle ones beyond the cap). */
  release(buf: GPUBuffer): void {
    const size = buf.size;
    if (size > this.capBytes) {
      buf.destroy();
      return;
    }
    let list = this.idle.get(size);
    if (!list) {
      list = [];
      this.idle.set(size, list);
    }
    list.push(buf);
    this.order.set(buf, true);
    this.pooled += size;
    while (this.pooled > this.capBytes && this.order.size > 0) {
      const old = this.order.keys().next().value!;
      this.order.delete(old);
      const l = this.idle.get(old.size)!;
      l.splice(l.indexOf(old), 1);
      this.pooled -= old.size;
      old.destroy();
    }
  }

  /** Destroys every idle buffer. */
  clear(): void {
    for (const list of this.idle.values()) for (const b of list) b.destroy();
    this.idle.clear();
    this.order.clear();
    this.pooled = 0;
  }
}
