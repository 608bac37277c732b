/**
 * Learning-rate schedules: a linear warm-up, then constant, cosine or polynomial decay.
 *
 * `step` counts optimizer updates already applied, so `learningRateAt(0, …)` is the rate of the
 * first update. Warm-up rises linearly from `warmupStartFactor * lr` at step 0 to `lr` at step
 * `warmupSteps` (the Hugging Face `get_*_schedule_with_warmup` convention); decay then runs from
 * `lr` at `warmupSteps` to `minLr` at `totalSteps` and stays at `minLr` after that, so a run that
 * goes past its planned length keeps a sane rate instead of failing.
 */

interface WarmupConfig {
  /** Peak learning rate, reached at the end of warm-up. */
  lr: number;
  /** Updates spent warming up; 0 (the default) starts at `lr`. */
  warmupSteps?: number;
  /** Fraction of `lr` at step 0, in [0, 1]; default 0. */
  warmupStartFactor?: number;
}

export interface ConstantSchedule extends WarmupConfig {
  kind: 'constant';
}

export interface CosineSchedule extends WarmupConfig {
  kind: 'cosine';
  /** The step at which the rate reaches `minLr`. */
  totalSteps: number;
  /** Floor of the decay; default 0. */
  minLr?: number;
}

export interface PolynomialSchedule extends WarmupConfig {
  kind: 'polynomial';
  /** The step at which the rate reaches `minLr`. */
  totalSteps: number;
  /** Floor of the decay; default 0. */
  minLr?: number;
  /** Exponent of the decay: 1 (the default) is linear, 2 quadratic. */
  power?: number;
}

export type ScheduleConfig = ConstantSchedule | CosineSchedule | PolynomialSchedule;

export const SCHEDULE_KINDS = ['constant', 'cosine', 'polynomial'] as const;

function fail(field: string, expected: string, got: unknown): never {
  throw new RangeError(`schedule.${field} must be ${expected}, got ${String(got)}`);
}

function checkNonNegative(field: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) fail(field, 'a finite number >= 0', value);
}

function checkCount(field: string, value: number, min: number): void {
  if (!(Number.isInteger(value) && value >= min)) fail(field, `an integer >= ${min}`, value);
}

/** Throws a RangeError naming the first bad field (`schedule.<field>`), expected and got. */
export function validateSchedule(config: ScheduleConfig): void {
  if (!SCHEDULE_KINDS.includes(config.kind)) fail('kind', `one of ${SCHEDULE_KINDS.join(', ')}`, config.kind);
  checkNonNegative('lr', config.lr);
  const warmupSteps = config.warmupSteps ?? 0;
  checkCount('warmupSteps', warmupSteps, 0);
  const startFactor = config.warmupStartFactor ?? 0;
  if (!(startFactor >= 0 && startFactor <= 1)) fail('warmupStartFactor', 'a number in [0, 1]', startFactor);
  if (config.kind === 'constant') return;
  checkCount('totalSteps', config.totalSteps, 1);
  if (warmupSteps > config.totalSteps) {
    fail('warmupSteps', `<= schedule.totalSteps (${config.totalSteps})`, warmupSteps);
  }
  const minLr = config.minLr ?? 0;
  checkNonNegative('minLr', minLr);
  if (minLr > config.lr) fail('minLr', `<= schedule.lr (${config.lr})`, minLr);
  if (config.kind === 'polynomial') {
    const power = config.power ?? 1;
    if (!(Number.isFinite(power) && power > 0)) fail('power', 'a finite number > 0', power);
  }
}

/** The learning rate for the update that follows `step` completed updates. */
export function learningRateAt(step: number, config: ScheduleConfig): number {
  if (!(Number.isInteger(step) && step >= 0)) {
    throw new RangeError(`learningRateAt: step must be an integer >= 0, got ${step}`);
  }
  validateSchedule(config);
  const warmupSteps = config.warmupSteps ?? 0;
  if (step < warmupSteps) {
    const startFactor = config.warmupStartFactor ?? 0;
    return config.lr * (startFactor + ((1 - startFactor) * step) / warmupSteps);
  }
  if (config.kind === 'constant') return config.lr;
  const minLr = config.minLr ?? 0;
  const decaySteps = config.totalSteps - warmupSteps;
  // With no room left to decay (warmupSteps === totalSteps) the floor applies right away.
  const progress = decaySteps === 0 ? 1 : Math.min(1, (step - warmupSteps) / decaySteps);
  const remaining =
    config.kind === 'cosine'
      ? 0.5 * (1 + Math.cos(Math.PI * progress))
      : (1 - progress) ** (config.power ?? 1);
  return minLr + (config.lr - minLr) * remaining;
}
