/**
 * The allocator of the backend's one WebAssembly memory: blocks aligned to {@link ALIGN} bytes, taken
 * from segregated free lists (one bin per power of two, best fit inside the bin) or from the top of the
 * heap, and coalesced with their free neighbours when released. The memory grows in whole 64 KiB pages
 * when the top passes its end, up to `limitBytes`.
 */
import { WasmMemoryLimitError } from './errors.js';

/** Alignment of every block: a cache line, and a multiple of the 16 bytes of a v128 load. */
export const ALIGN = 64;
/** Bytes of a WebAssembly page. */
export const PAGE = 65536;
/** The most a wasm32 memory can hold: 65536 pages. */
export const WASM32_LIMIT = 2 ** 32;

/** Rounds `bytes` up to a multiple of {@link ALIGN} (at least one block). */
function blockSize(bytes: number): number {
  return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
}

/** The bin of a free block of `size` bytes: ⌊log2 size⌋. */
function binOf(size: number): number {
  return 31 - Math.clz32(Math.min(size, 2 ** 31));
}

/** A free-list allocator over the bytes `[base, limit)` of `memory`. */
export class WasmAllocator {
  /** Start → size of each free block below the top. */
  private readonly freeByStart = new Map<number, number>();
  /** End → start of each free block below the top. */
  private readonly freeByEnd = new Map<number, number>();
  /** Free block starts by bin (size class). */
  private readonly bins: Set<number>[] = Array.from({ length: 33 }, () => new Set<number>());
  /** Start → size of each allocated block. */
  private readonly used = new Map<number, number>();
  /** First byte never handed out. */
  private top: number;
  /** Bytes of allocated blocks (rounded up to the alignment). */
  private usedBytes = 0;

  /**
   * @param memory - the memory to allocate in (grown on demand).
   * @param base - first byte the allocator may hand out (below it: the module's static data).
   * @param limitBytes - the memory never grows past this many bytes (at most 4 GiB).
   * @param onGrow - called after every growth (typed-array views of the old buffer are stale then).
   */
  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
    private readonly limitBytes: number,
    private readonly onGrow: () => void,
  ) {
    this.top = Math.ceil(base / ALIGN) * ALIGN;
  }

  /** Bytes the allocator spans: allocated blocks, free blocks below the top. */
  get heapBytes(): number {
    return this.top;
  }

  /** Bytes of allocated blocks (each rounded up to the alignment). */
  get reservedBytes(): number {
    return this.usedBytes;
  }

  /** Bytes in free blocks below the top. */
  get freeBytes(): number {
    let s = 0;
    for (const size of this.freeByStart.values()) s += size;
    return s;
  }

  /** The byte offset of a new block of at least `bytes` bytes, aligned to {@link ALIGN}. */
  alloc(bytes: number): number {
    const size = blockSize(bytes);
    const start = this.takeFree(size) ?? this.takeTop(size, bytes);
    this.used.set(start, size);
    this.usedBytes += size;
    return start;
  }

  /** Releases the block at `ptr` (a pointer that is not allocated is ignored). */
  free(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) return;
    this.used.delete(ptr);
    this.usedBytes -= size;
    let start = ptr;
    let end = ptr + size;
    const before = this.freeByEnd.get(start);
    if (before !== undefined) {
      this.removeFree(before);
      start = before;
    }
    const afterSize = this.freeByStart.get(end);
    if (afterSize !== undefined) {
      this.removeFree(end);
      end += afterSize;
    }
    if (end === this.top) {
      this.top = start; // the block touches the top: give it back to the top
      return;
    }
    this.addFree(start, end - start);
  }

  /** Best fit in the smallest bin that can hold `size`, else any block of a larger bin. */
  private takeFree(size: number): number | undefined {
    for (let bin = binOf(size); bin < this.bins.length; bin++) {
      let best: number | undefined;
      let bestSize = Infinity;
      for (const start of this.bins[bin]!) {
        const s = this.freeByStart.get(start)!;
        if (s >= size && s < bestSize) {
          best = start;
          bestSize = s;
          if (s === size || bin > binOf(size)) break;
        }
      }
      if (best === undefined) continue;
      this.removeFree(best);
      if (bestSize > size) this.addFree(best + size, bestSize - size);
      return best;
    }
    return undefined;
  }

  /** A block at the top of the heap, growing the memory when needed. */
  private takeTop(size: number, asked: number): number {
    const start = this.top;
    const end = start + size;
    if (end > this.limitBytes) throw new WasmMemoryLimitError(asked, this.top, this.limitBytes);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      // Grow by at least an eighth of the current size (fewer, larger growths), within the limit.
      const maxPages = Math.floor((this.limitBytes - have) / PAGE);
      const want = Math.min(maxPages, Math.max(pages, Math.ceil(have / PAGE / 8)));
      try {
        this.memory.grow(want);
      } catch {
        try {
          this.memory.grow(pages);
        } catch {
          throw new WasmMemoryLimitError(asked, this.top, Math.min(this.limitBytes, have));
        }
      }
      this.onGrow();
    }
    this.top = end;
    return start;
  }

  private addFree(start: number, size: number): void {
    this.freeByStart.set(start, size);
    this.freeByEnd.set(start + size, start);
    this.bins[binOf(size)]!.add(start);
  }

  private removeFree(start: number): void {
    const size = this.freeByStart.get(start)!;
    this.freeByStart.delete(start);
    this.freeByEnd.delete(start + size);
    this.bins[binOf(size)]!.delete(start);
  }
}
