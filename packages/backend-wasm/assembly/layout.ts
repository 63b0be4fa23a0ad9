// Strided copies of 4-byte elements: the one kernel behind transpose, slice, concat and pad.
// `dims` holds `rank` triples (size, source stride, destination stride) in elements, outermost first;
// the host has already merged axes that are contiguous in both.

/** Copies the box described by `dims` from `src` to `dst`. */
export function stridedCopy(src: usize, dst: usize, rank: i32, dims: usize): void {
  if (rank == 0) {
    store<i32>(dst, load<i32>(src));
    return;
  }
  const last = dims + <usize>((rank - 1) * 12);
  const n = load<i32>(last);
  const ss = load<i32>(last, 4);
  const ds = load<i32>(last, 8);
  // The outer axes, walked by a flat counter.
  let outer = 1;
  for (let a = 0; a < rank - 1; a++) outer *= load<i32>(dims + <usize>(a * 12));
  for (let o = 0; o < outer; o++) {
    let rem = o;
    let so = 0;
    let dof = 0;
    for (let a = rank - 2; a >= 0; a--) {
      const at = dims + <usize>(a * 12);
      const size = load<i32>(at);
      const idx = rem % size;
      rem /= size;
      so += idx * load<i32>(at, 4);
      dof += idx * load<i32>(at, 8);
    }
    const s = src + (<usize>so << 2);
    const d = dst + (<usize>dof << 2);
    if (ss == 1 && ds == 1) {
      memory.copy(d, s, <usize>n << 2);
    } else {
      for (let i = 0; i < n; i++) store<i32>(d + (<usize>(i * ds) << 2), load<i32>(s + (<usize>(i * ss) << 2)));
    }
  }
}

/** Fills `n` 4-byte elements at `dst` with the bits `value`. */
export function fill32(dst: usize, value: i32, n: i32): void {
  const v = i32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v);
  for (; i < n; i++) store<i32>(dst + (<usize>i << 2), value);
}
