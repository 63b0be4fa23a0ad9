/** Named parameter words (`ParamSlots`, `wgslConstants`): names, WGSL declarations and packing order. */
import { describe, expect, it } from 'vitest';
import { ParamSlots, wgslConstants } from '../src/pipelines.js';

describe('ParamSlots', () => {
  const slots = new ParamSlots('ATTN', { batch: 'u32', keepScale: 'f32', shift: 'i32', seqLength: 'u32' });

  it('names each field PREFIX_SNAKE_CASE and declares its word index in WGSL', () => {
    expect(slots.name).toEqual({ batch: 'ATTN_BATCH', keepScale: 'ATTN_KEEP_SCALE', shift: 'ATTN_SHIFT', seqLength: 'ATTN_SEQ_LENGTH' });
    expect(slots.wgsl.split('\n')).toEqual([
      'const ATTN_BATCH: u32 = 0u;',
      'const ATTN_KEEP_SCALE: u32 = 1u;',
      'const ATTN_SHIFT: u32 = 2u;',
      'const ATTN_SEQ_LENGTH: u32 = 3u;',
    ]);
  });

  it('packs the values in declaration order, each as its type, whatever the order they are given in', () => {
    const words = slots.pack({ seqLength: 4096, shift: -3, keepScale: 1.25, batch: 2 }).data();
    const f = new Float32Array([1.25]);
    expect(Array.from(words)).toEqual([2, new Uint32Array(f.buffer)[0]!, 2 ** 32 - 3, 4096]);
  });
});

describe('wgslConstants', () => {
  it('declares u32 constants with their values', () => {
    const { names, wgsl } = wgslConstants('FLAG', { causal: 1, excludeSelf: 2, keyMask: 8 });
    expect(names).toEqual({ causal: 'FLAG_CAUSAL', excludeSelf: 'FLAG_EXCLUDE_SELF', keyMask: 'FLAG_KEY_MASK' });
    expect(wgsl).toBe('const FLAG_CAUSAL: u32 = 1u;\nconst FLAG_EXCLUDE_SELF: u32 = 2u;\nconst FLAG_KEY_MASK: u32 = 8u;');
  });
});
