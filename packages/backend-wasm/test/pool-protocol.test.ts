/**
 * The claim counter of the kernel threads' protocol, interleaved by hand: a thread that read the
 * counter of a finished job (and, late, the next job's task count) cannot claim a task of the next job
 * — with a plain atomic add it would have run that task before the job was open and a second time
 * after, counting it twice — and every task of a job is claimed exactly once, in order.
 */
import { describe, expect, it } from 'vitest';
import { CONTROL_BYTES, closeJob, HEADER_BYTES, NEXT, NTASKS, nextTicket, openJob, takeTicket } from '../src/pool-protocol.js';

/** Claims every task left in the open job, as one thread would. */
function claimAll(ints: Int32Array): number[] {
  const claimed: number[] = [];
  for (let ticket = nextTicket(ints); ticket !== undefined; ticket = nextTicket(ints)) {
    const t = takeTicket(ints, ticket);
    if (t >= 0) claimed.push(t);
  }
  return claimed;
}

describe('the claim counter of the thread pool', () => {
  it('a ticket read before a job closed claims nothing in the next job; each task is claimed once', () => {
    const ints = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES), 0, HEADER_BYTES / 4);
    closeJob(ints);
    Atomics.store(ints, NTASKS, 2);
    openJob(ints, 1);
    const first = nextTicket(ints)!;
    expect(takeTicket(ints, first)).toBe(0);
    expect(takeTicket(ints, first), 'the same ticket twice').toBe(-1);
    expect(claimAll(ints)).toEqual([1]);
    // A slow thread read the counter of job 1 (all claimed) just before the caller closed it ...
    const stale = Atomics.load(ints, NEXT);
    closeJob(ints);
    expect(nextTicket(ints), 'nothing to claim while the caller writes a job').toBeUndefined();
    // ... and read job 2's task count (5, more than the task index it holds) once the caller wrote it.
    Atomics.store(ints, NTASKS, 5);
    expect(takeTicket(ints, stale)).toBe(-1);
    openJob(ints, 2);
    expect(takeTicket(ints, stale)).toBe(-1);
    expect(claimAll(ints)).toEqual([0, 1, 2, 3, 4]);
    expect(nextTicket(ints)).toBeUndefined();
  });

  it('job tags wrap around without reaching the closed value', () => {
    const ints = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES), 0, HEADER_BYTES / 4);
    Atomics.store(ints, NTASKS, 3);
    for (const job of [1, 2 ** 19 - 1, 2 ** 19, 2 ** 31 - 1]) {
      openJob(ints, job);
      expect(Atomics.load(ints, NEXT), `job ${job}`).toBeGreaterThanOrEqual(0);
      expect(claimAll(ints), `job ${job}`).toEqual([0, 1, 2]);
    }
  });
});
