import { describe, expect, it } from 'vitest';
import { learningRateAt, type ScheduleConfig, validateSchedule } from './schedule.js';

describe('learningRateAt', () => {
  const cosine: ScheduleConfig = {
    kind: 'cosine',
    lr: 1e-3,
    warmupSteps: 100,
    totalSteps: 1100,
    minLr: 1e-4,
  };

  it('warms up linearly from 0 to lr', () => {
    expect(learningRateAt(0, cosine)).toBe(0);
    expect(learningRateAt(25, cosine)).toBeCloseTo(2.5e-4, 12);
    expect(learningRateAt(100, cosine)).toBeCloseTo(1e-3, 12);
  });

  it('warms up from a start factor', () => {
    const config: ScheduleConfig = { kind: 'constant', lr: 2, warmupSteps: 10, warmupStartFactor: 0.5 };
    expect(learningRateAt(0, config)).toBe(1);
    expect(learningRateAt(5, config)).toBe(1.5);
    expect(learningRateAt(10, config)).toBe(2);
    expect(learningRateAt(1_000_000, config)).toBe(2);
  });

  it('decays by a half cosine to minLr and stays there', () => {
    // Midpoint of the decay: minLr + (lr - minLr) / 2.
    expect(learningRateAt(600, cosine)).toBeCloseTo(5.5e-4, 12);
    // A quarter of the way: minLr + (lr - minLr) * (1 + cos(pi / 4)) / 2.
    expect(learningRateAt(350, cosine)).toBeCloseTo(1e-4 + (9e-4 * (1 + Math.SQRT1_2)) / 2, 12);
    expect(learningRateAt(1100, cosine)).toBeCloseTo(1e-4, 15);
    expect(learningRateAt(5000, cosine)).toBeCloseTo(1e-4, 15);
  });

  it('decays polynomially; power 1 is linear', () => {
    const linear: ScheduleConfig = { kind: 'polynomial', lr: 1, totalSteps: 10 };
    expect(learningRateAt(0, linear)).toBe(1);
    expect(learningRateAt(5, linear)).toBe(0.5);
    expect(learningRateAt(10, linear)).toBe(0);
    expect(learningRateAt(11, linear)).toBe(0);
    const quadratic: ScheduleConfig = { ...linear, power: 2, warmupSteps: 2, minLr: 0.2 };
    // Step 6 is halfway through the 8 decay steps: 0.2 + 0.8 * 0.5^2.
    expect(learningRateAt(6, quadratic)).toBeCloseTo(0.4, 12);
    expect(learningRateAt(1, quadratic)).toBe(0.5);
  });

  it('drops to minLr at once when warm-up fills the whole run', () => {
    const config: ScheduleConfig = { kind: 'cosine', lr: 1, warmupSteps: 4, totalSteps: 4, minLr: 0.1 };
    expect(learningRateAt(3, config)).toBe(0.75);
    expect(learningRateAt(4, config)).toBe(0.1);
  });

  it('rejects a bad step', () => {
    expect(() => learningRateAt(-1, cosine)).toThrow('step must be an integer >= 0, got -1');
    expect(() => learningRateAt(1.5, cosine)).toThrow(/step/);
  });
});

describe('validateSchedule', () => {
  const bad: Array<[string, unknown]> = [
    [
      'schedule.warmupSteps must be <= schedule.totalSteps (10), got 20',
      { kind: 'cosine', lr: 1, warmupSteps: 20, totalSteps: 10 },
    ],
    ['schedule.lr must be a finite number >= 0, got -0.1', { kind: 'constant', lr: -0.1 }],
    ['schedule.lr must be a finite number >= 0, got NaN', { kind: 'constant', lr: Number.NaN }],
    ['schedule.minLr must be <= schedule.lr (1), got 2', { kind: 'cosine', lr: 1, totalSteps: 10, minLr: 2 }],
    [
      'schedule.minLr must be a finite number >= 0, got -1',
      { kind: 'cosine', lr: 1, totalSteps: 10, minLr: -1 },
    ],
    ['schedule.totalSteps must be an integer >= 1, got 0', { kind: 'polynomial', lr: 1, totalSteps: 0 }],
    ['schedule.warmupSteps must be an integer >= 0, got 1.5', { kind: 'constant', lr: 1, warmupSteps: 1.5 }],
    [
      'schedule.warmupStartFactor must be a number in [0, 1], got 2',
      { kind: 'constant', lr: 1, warmupStartFactor: 2 },
    ],
    [
      'schedule.power must be a finite number > 0, got 0',
      { kind: 'polynomial', lr: 1, totalSteps: 5, power: 0 },
    ],
    ['schedule.kind must be one of constant, cosine, polynomial, got linear', { kind: 'linear', lr: 1 }],
  ];
  it.each(bad)('%s', (message, config) => {
    expect(() => validateSchedule(config as ScheduleConfig)).toThrow(message);
  });

  it('accepts a valid schedule', () => {
    expect(() =>
      validateSchedule({ kind: 'cosine', lr: 3e-4, warmupSteps: 500, totalSteps: 10_000 }),
    ).not.toThrow();
  });
});
