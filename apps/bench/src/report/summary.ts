/**
 * The findings the report states, computed from the records of one run: where LSH starts beating full
 * attention, how time per token and peak memory grow with length, and our attention against the peer
 * baselines.
 *
 * @module
 */
import type { MeasurementRecord, Pass } from '../types.js';

const ok = (r: MeasurementRecord) => r.status === 'ok' && r.medianMs !== null;

/** The measured record of (backend, variant, length, pass), if any. */
export function find(
  records: readonly MeasurementRecord[],
  backend: string,
  variant: string,
  length: number,
  pass: Pass,
): MeasurementRecord | undefined {
  return records.find((r) => ok(r) && r.backend === backend && r.variant === variant && r.length === length && r.pass === pass);
}

/** Crossover of a variant against full attention on one backend and pass. */
export interface Crossover {
  backend: string;
  variant: string;
  pass: Pass;
  /** Smallest measured length from which the variant is faster at every measured length where both ran; null if never. */
  length: number | null;
  /** Lengths where both were measured. */
  compared: number[];
}

/**
 * The smallest length L such that `variant` is faster than `full` at L and at every longer length
 * where both were measured.
 */
export function crossover(records: readonly MeasurementRecord[], backend: string, variant: string, pass: Pass): Crossover {
  const lengths = [...new Set(records.filter((r) => r.backend === backend).map((r) => r.length))].sort((a, b) => a - b);
  const compared: number[] = [];
  const faster: boolean[] = [];
  for (const L of lengths) {
    const a = find(records, backend, variant, L, pass);
    const f = find(records, backend, 'full', L, pass);
    if (a && f) {
      compared.push(L);
      faster.push(a.medianMs! < f.medianMs!);
    }
  }
  let length: number | null = null;
  for (let i = compared.length - 1; i >= 0 && faster[i]; i--) length = compared[i]!;
  return { backend, variant, pass, length, compared };
}

/** How a quantity grows from the shortest to the longest measured length. */
export interface Growth {
  backend: string;
  variant: string;
  pass: Pass;
  fromLength: number;
  toLength: number;
  from: number;
  to: number;
  /** to / from. */
  ratio: number;
}

/** Growth of `field` (e.g. µs per token, peak bytes) of a variant over its measured lengths. */
export function growth(
  records: readonly MeasurementRecord[],
  backend: string,
  variant: string,
  pass: Pass,
  field: 'usPerToken' | 'peakBytes',
): Growth | undefined {
  const rs = records
    .filter((r) => ok(r) && r.backend === backend && r.variant === variant && r.pass === pass && r[field] !== null)
    .sort((a, b) => a.length - b.length);
  const first = rs[0];
  const last = rs[rs.length - 1];
  if (!first || !last || first === last) return undefined;
  const from = first[field]!;
  const to = last[field]!;
  return { backend, variant, pass, fromLength: first.length, toLength: last.length, from, to, ratio: to / from };
}

/** A speed ratio of a peer baseline and one of our variants at one length. */
export interface PeerRatio {
  length: number;
  pass: Pass;
  ours: MeasurementRecord;
  peer: MeasurementRecord;
  /** peer time / our time (> 1: ours is faster). */
  speedup: number;
}

/** peer / ours time ratios at every length where both were measured. */
export function peerRatios(
  records: readonly MeasurementRecord[],
  ours: { backend: string; variant: string },
  peer: { backend: string; variant: string },
  pass: Pass,
): PeerRatio[] {
  const out: PeerRatio[] = [];
  for (const o of records) {
    if (!ok(o) || o.backend !== ours.backend || o.variant !== ours.variant || o.pass !== pass) continue;
    const p = find(records, peer.backend, peer.variant, o.length, pass);
    if (p) out.push({ length: o.length, pass, ours: o, peer: p, speedup: p.medianMs! / o.medianMs! });
  }
  return out.sort((a, b) => a.length - b.length);
}
