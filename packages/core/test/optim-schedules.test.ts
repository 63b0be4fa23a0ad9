import { describe, expect, it } from 'vitest';
import { constantSchedule, cosineSchedule, InvalidArgumentError, warmupRsqrtSchedule } from '../src/index.js';

describe('learning-rate schedules', () => {
  it('constantSchedule returns its rate at every step', () => {
    const f = constantSchedule(3e-4);
    expect([1, 2, 1000].map(f)).toEqual([3e-4, 3e-4, 3e-4]);
    expect(() => constantSchedule(-1)).toThrow(InvalidArgumentError);
  });

  it('warmupRsqrtSchedule warms up linearly, peaks at warmupSteps, then decays as 1/√step', () => {
    const peak = 1e-3;
    const warmup = 100;
    const f = warmupRsqrtSchedule({ peak, warmupSteps: warmup });
    // peak·min(step/warmup, √(warmup/step)), worked by hand:
    expect(f(1)).toBeCloseTo(1e-5, 15); // 1e-3 · 1/100
    expect(f(50)).toBeCloseTo(5e-4, 15); // 1e-3 · 1/2
    expect(f(100)).toBeCloseTo(1e-3, 15); // both factors 1
    expect(f(400)).toBeCloseTo(5e-4, 15); // 1e-3 · √(1/4)
    expect(f(10_000)).toBeCloseTo(1e-4, 15); // 1e-3 · √(1/100)
    expect(() => warmupRsqrtSchedule({ peak, warmupSteps: 0 })).toThrow(InvalidArgumentError);
  });

  it('cosineSchedule warms up, then follows a half cosine down to minLr and stays there', () => {
    const f = cosineSchedule({ peak: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
    expect(f(5)).toBeCloseTo(0.5, 12); // 5/10
    expect(f(10)).toBeCloseTo(1, 12); // start of the decay: cos 0
    expect(f(35)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.SQRT1_2), 12); // a quarter in: cos(π/4)
    expect(f(60)).toBeCloseTo(0.55, 12); // half-way: cos(π/2) = 0
    expect(f(110)).toBeCloseTo(0.1, 12); // cos π = −1
    expect(f(500)).toBeCloseTo(0.1, 12);
    const noWarmup = cosineSchedule({ peak: 2, warmupSteps: 0, totalSteps: 4 });
    expect(noWarmup(2)).toBeCloseTo(1, 12); // 2 · ½(1 + cos(π/2))
    expect(() => cosineSchedule({ peak: 1, warmupSteps: 10, totalSteps: 10 })).toThrow(InvalidArgumentError);
  });
});
