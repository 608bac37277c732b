import type { ByteModel } from '@megabyte/core';
import { type Corpus, RandomWindowSampler, type RandomWindowSamplerState } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import type { AdamWState } from './adamw.js';
import { type MicroBatch, TfjsEngine, type TrainingEngine, type TrainingEngineFactory } from './engine.js';
import { evaluateStream } from './evaluate.js';
import { learningRateAt, type ScheduleConfig, validateSchedule } from './schedule.js';

export interface TrainingOptions {
  readonly steps: number;
  /** Windows per optimizer step (split into `accumulationSteps` micro-batches). */
  readonly batchSize: number;
  readonly accumulationSteps: number;
  /** Peak learning rate; the schedule warms up to it then decays. */
  readonly lr: number;
  readonly schedule: 'cosine' | 'polynomial' | 'constant';
  readonly warmupSteps: number;
  /** The decay's floor as a fraction of `lr`. */
  readonly minLrRatio: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Global gradient-norm clip; 0 disables clipping. */
  readonly clip: number;
  /** Validation every N steps (0: only at the end). */
  readonly evalEvery: number;
  /** Validation windows scored each time (the first ones of the split, so every evaluation sees the same bytes). */
  readonly evalWindows: number;
  readonly logEvery: number;
  readonly checkpointEvery: number;
  readonly seed: number;
  /** Training windows start at multiples of this many bytes (e.g. one image's); 1: anywhere. */
  readonly windowAlignment: number;
  /**
   * A step whose loss is more than this many times the mean of the recent steps stops the run as
   * diverged (0: only non-finite losses do). See {@link divergenceReason}.
   */
  readonly spikeFactor: number;
}

/** The paper's recipe where it applies (Adam betas 0.9/0.98, clip 1.0, weight decay 0.1). */
export const DEFAULT_TRAINING_OPTIONS: TrainingOptions = {
  steps: 1000,
  batchSize: 8,
  accumulationSteps: 1,
  lr: 2e-3,
  schedule: 'cosine',
  warmupSteps: 100,
  minLrRatio: 0.1,
  beta1: 0.9,
  beta2: 0.98,
  eps: 1e-8,
  weightDecay: 0.1,
  clip: 1,
  evalEvery: 200,
  evalWindows: 32,
  logEvery: 10,
  checkpointEvery: 500,
  seed: 0,
  windowAlignment: 1,
  spikeFactor: 4,
};

/** Steps whose mean loss a new loss is compared with. */
const RECENT_STEPS = 20;
/** A loss less than this many nats above the recent mean is never a spike (tiny losses vary by large factors). */
const SPIKE_MIN_NATS = 1;

export interface StepMetrics {
  readonly step: number;
  readonly loss: number;
  readonly bitsPerByte: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly bytesPerSecond: number;
  readonly seconds: number;
  readonly tensors: number;
  readonly tensorBytes: number;
}

export type TrainerEvent =
  | { readonly type: 'step'; readonly metrics: StepMetrics }
  | { readonly type: 'eval'; readonly step: number; readonly bitsPerByte: number; readonly best: boolean }
  | { readonly type: 'checkpoint'; readonly step: number; readonly reason: CheckpointReason }
  | { readonly type: 'done'; readonly step: number; readonly validationBitsPerByte: number | undefined };

export type CheckpointReason = 'interval' | 'best' | 'final' | 'interrupted';

/** Everything needed to continue a run exactly where it stopped. */
export interface TrainingState {
  readonly step: number;
  readonly sampler: RandomWindowSamplerState;
  readonly optimizer: AdamWState;
  readonly bestValidationBitsPerByte: number | undefined;
  readonly options: TrainingOptions;
}

/** Where checkpoints go: a run directory in Node, memory or a download in the browser. */
export interface CheckpointSink {
  save(model: ByteModel, state: TrainingState, reason: CheckpointReason): Promise<void>;
}

export class TrainingDivergedError extends Error {
  constructor(
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
    /** Why the step counts as diverged, e.g. "the loss is not finite". */
    readonly reason = 'the loss or the gradient norm is not finite',
  ) {
    super(
      `training diverged at step ${step}: ${reason} (loss ${loss}, gradient norm ${gradNorm}); the step was not applied. ` +
        'Resume from the last checkpoint before it with a lower learning rate (--lr) or a longer warm-up (--warmup).',
    );
    this.name = 'TrainingDivergedError';
  }
}

/**
 * The loss above which a step is a spike: more than `spikeFactor` times the mean loss of the
 * recent steps and more than a nat above it. Infinity without recent steps or with the check off.
 */
export function spikeThreshold(recent: readonly number[], spikeFactor: number): number {
  if (spikeFactor === 0 || recent.length === 0) return Number.POSITIVE_INFINITY;
  const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
  return Math.max(spikeFactor * mean, mean + SPIKE_MIN_NATS);
}

/**
 * Why a step's loss means the run has diverged, or undefined. Non-finite values always do; so does
 * a loss over {@link spikeThreshold}, which exploding weights show from their first steps, long
 * before the loss overflows: checkpoints written until then would keep them.
 */
export function divergenceReason(
  loss: number,
  gradNorm: number,
  recent: readonly number[],
  spikeFactor: number,
): string | undefined {
  if (!Number.isFinite(loss) || !Number.isFinite(gradNorm))
    return 'the loss or the gradient norm is not finite';
  if (loss > spikeThreshold(recent, spikeFactor)) {
    const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
    return `the loss spiked to more than ${spikeFactor} x the mean of the last ${recent.length} steps (${mean.toFixed(3)})`;
  }
  return undefined;
}

export interface TrainerData {
  readonly train: Corpus;
  readonly validation?: Corpus | undefined;
}

export interface TrainerHooks {
  readonly onEvent?: (event: TrainerEvent) => void;
  readonly checkpoints?: CheckpointSink;
  /** Where the steps run: the model's tfjs backend by default (see `TrainingEngine`). */
  readonly engine?: TrainingEngineFactory;
}

/**
 * Trains a byte model on random windows of a corpus with AdamW, a warm-up + decay schedule,
 * global-norm clipping and gradient accumulation; evaluates and checkpoints on a schedule.
 */
export class Trainer {
  readonly options: TrainingOptions;
  private readonly sampler: RandomWindowSampler;
  /** Where the steps run; the tfjs engine unless the hooks name another. */
  readonly engine: TrainingEngine;
  private weightsInEngine = false;
  private readonly schedule: ScheduleConfig;
  private readonly validationIds: Int32Array | undefined;
  private stepCount = 0;
  private best: number | undefined;
  /** Losses of the last RECENT_STEPS steps, for the spike check. */
  private readonly recentLosses: number[] = [];

  constructor(
    readonly model: ByteModel,
    data: TrainerData,
    options: Partial<TrainingOptions> = {},
    private readonly hooks: TrainerHooks = {},
  ) {
    this.options = validateOptions({ ...DEFAULT_TRAINING_OPTIONS, ...options });
    const { steps, lr, warmupSteps, minLrRatio, schedule } = this.options;
    this.schedule =
      schedule === 'constant'
        ? { kind: 'constant', lr, warmupSteps }
        : {
            kind: schedule,
            lr,
            warmupSteps: Math.min(warmupSteps, steps),
            totalSteps: steps,
            minLr: lr * minLrRatio,
          };
    validateSchedule(this.schedule);
    const context = model.config.contextLength;
    if (data.train.length < context) {
      // The models shift their input inside, so a training window is exactly T ids (not T + 1).
      throw new RangeError(
        `the training data has ${data.train.length} bytes but one window of the model's context needs ${context}: ` +
          'use more data or a preset with a shorter context',
      );
    }
    this.sampler = new RandomWindowSampler(data.train, {
      windowLength: model.config.contextLength,
      seed: this.options.seed,
      alignment: this.options.windowAlignment,
    });
    const optimizer = {
      lr,
      beta1: this.options.beta1,
      beta2: this.options.beta2,
      eps: this.options.eps,
      weightDecay: this.options.weightDecay,
    };
    this.engine = (hooks.engine ?? ((m, o) => new TfjsEngine(m, o)))(model, optimizer);
    this.validationIds = data.validation
      ? validationStream(data.validation, model.config.contextLength, this.options.evalWindows)
      : undefined;
  }

  get step(): number {
    return this.stepCount;
  }

  /**
   * One optimizer step over `batchSize` windows; rejects with TrainingDivergedError before applying
   * a non-finite update. The loss and the gradient norm are read back together, once per step, and
   * asynchronously: GPU backends in Node cannot read synchronously.
   */
  async trainStep(): Promise<StepMetrics> {
    const started = performance.now();
    const { batchSize, accumulationSteps, clip } = this.options;
    const micro = batchSize / accumulationSteps;
    if (!this.weightsInEngine) {
      await this.engine.pullWeights();
      this.weightsInEngine = true;
    }
    const batches: MicroBatch[] = Array.from({ length: accumulationSteps }, (_, m) => {
      const { ids, length } = this.sampler.nextBatch(micro);
      const dropoutSeed = this.options.seed * 1_000_003 + this.stepCount * accumulationSteps + m;
      return { ids, batch: micro, length, dropoutSeed };
    });
    const lr = learningRateAt(this.stepCount, this.schedule);
    const maxLoss = spikeThreshold(this.recentLosses, this.options.spikeFactor);
    const { loss, gradNorm } = await this.engine.step(batches, { lr, clip, maxLoss });
    const diverged = divergenceReason(loss, gradNorm, this.recentLosses, this.options.spikeFactor);
    if (diverged !== undefined) throw new TrainingDivergedError(this.stepCount + 1, loss, gradNorm, diverged);
    this.recentLosses.push(loss);
    if (this.recentLosses.length > RECENT_STEPS) this.recentLosses.shift();
    this.stepCount += 1;
    const seconds = (performance.now() - started) / 1000;
    const memory = tf.memory();
    return {
      step: this.stepCount,
      loss,
      bitsPerByte: loss / Math.LN2,
      lr,
      gradNorm,
      bytesPerSecond: (batchSize * this.model.config.contextLength) / seconds,
      seconds,
      tensors: memory.numTensors,
      tensorBytes: memory.numBytes,
    };
  }

  /**
   * Makes the model's variables hold the latest weights. Steps on an engine with weights of its
   * own (onnxruntime) leave the variables behind until this runs; checkpoints and evaluation call it.
   */
  async syncModel(): Promise<void> {
    if (this.weightsInEngine) await this.engine.pushWeights();
  }

  /** Bits per byte on the fixed validation windows, or undefined without validation data. */
  async validate(): Promise<number | undefined> {
    if (!this.validationIds) return undefined;
    // An engine that scores windows itself evaluates its own weights; otherwise tfjs scores the model's.
    const nats = this.weightsInEngine ? this.engine.nats?.bind(this.engine) : undefined;
    if (!nats) await this.syncModel();
    const result = await evaluateStream(this.model, this.validationIds, {
      batchSize: this.options.batchSize,
      ...(nats && { nats }),
    });
    return result.bitsPerByte;
  }

  /** Runs until `steps` (or the signal aborts: then an `interrupted` checkpoint is written). */
  async run(
    signal?: AbortSignal,
  ): Promise<{ step: number; validationBitsPerByte: number | undefined; interrupted: boolean }> {
    const { steps, logEvery, evalEvery, checkpointEvery } = this.options;
    let lastValidation: number | undefined;
    while (this.stepCount < steps) {
      if (signal?.aborted) {
        await this.saveCheckpoint('interrupted');
        return { step: this.stepCount, validationBitsPerByte: lastValidation, interrupted: true };
      }
      const metrics = await this.trainStep();
      if (this.stepCount % logEvery === 0 || this.stepCount === steps) this.emit({ type: 'step', metrics });
      const last = this.stepCount === steps;
      if ((evalEvery > 0 && this.stepCount % evalEvery === 0) || last) {
        lastValidation = await this.validate();
        if (lastValidation !== undefined && !Number.isFinite(lastValidation)) {
          // Nothing is saved from here: the weights of this step already score as broken.
          throw new TrainingDivergedError(
            this.stepCount,
            metrics.loss,
            metrics.gradNorm,
            `validation bits per byte is ${lastValidation}`,
          );
        }
        if (lastValidation !== undefined) {
          const best = this.best === undefined || lastValidation < this.best;
          if (best) this.best = lastValidation;
          this.emit({ type: 'eval', step: this.stepCount, bitsPerByte: lastValidation, best });
          // Also at the last step: the final evaluation is often the best one.
          if (best) await this.saveCheckpoint('best');
        }
      }
      if (last) await this.saveCheckpoint('final');
      else if (checkpointEvery > 0 && this.stepCount % checkpointEvery === 0)
        await this.saveCheckpoint('interval');
      // Yield to the event loop so signals (Ctrl-C) and UI updates get through between steps.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    this.emit({ type: 'done', step: this.stepCount, validationBitsPerByte: lastValidation });
    return { step: this.stepCount, validationBitsPerByte: lastValidation, interrupted: false };
  }

  /** A snapshot for checkpoints; the optimizer tensors are copies the caller disposes. */
  state(): TrainingState {
    return {
      step: this.stepCount,
      sampler: this.sampler.state(),
      optimizer: this.engine.optimizerState(),
      bestValidationBitsPerByte: this.best,
      options: this.options,
    };
  }

  /** Continues from a snapshot taken by `state()` (model weights are restored separately). */
  restore(state: Omit<TrainingState, 'options'>): void {
    this.sampler.restore(state.sampler);
    this.engine.loadOptimizerState(state.optimizer);
    // The model's variables now hold the checkpoint's weights; the engine reads them before its next step.
    this.weightsInEngine = false;
    this.stepCount = state.step;
    this.best = state.bestValidationBitsPerByte;
  }

  dispose(): void {
    this.engine.dispose();
  }

  private async saveCheckpoint(reason: CheckpointReason): Promise<void> {
    if (!this.hooks.checkpoints) return;
    await this.syncModel();
    const state = this.state();
    try {
      await this.hooks.checkpoints.save(this.model, state, reason);
    } finally {
      tf.dispose([...state.optimizer.tensors.values()]);
    }
    this.emit({ type: 'checkpoint', step: this.stepCount, reason });
  }

  private emit(event: TrainerEvent): void {
    this.hooks.onEvent?.(event);
  }
}

/** The first `windows` context-length windows of the validation split, as one id stream. */
function validationStream(validation: Corpus, contextLength: number, windows: number): Int32Array {
  const length = Math.min(validation.length, contextLength * windows);
  return validation.readIds(0, length);
}

function validateOptions(options: TrainingOptions): TrainingOptions {
  const problems: string[] = [];
  const positiveInteger = (name: keyof TrainingOptions, min = 1) => {
    const value = options[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
      problems.push(`${name}: expected an integer >= ${min}, got ${value}`);
  };
  positiveInteger('steps');
  positiveInteger('batchSize');
  positiveInteger('accumulationSteps');
  positiveInteger('evalWindows');
  positiveInteger('windowAlignment');
  positiveInteger('logEvery');
  positiveInteger('warmupSteps', 0);
  positiveInteger('evalEvery', 0);
  positiveInteger('checkpointEvery', 0);
  if (!(options.spikeFactor === 0 || options.spikeFactor > 1))
    problems.push(`spikeFactor: expected 0 (off) or a number > 1, got ${options.spikeFactor}`);
  if (options.batchSize % options.accumulationSteps !== 0) {
    problems.push(
      `batchSize ${options.batchSize} must be a multiple of accumulationSteps ${options.accumulationSteps}`,
    );
  }
  if (!(options.lr > 0)) problems.push(`lr: expected a number > 0, got ${options.lr}`);
  if (!(options.clip >= 0)) problems.push(`clip: expected a number >= 0, got ${options.clip}`);
  if (!(options.minLrRatio >= 0 && options.minLrRatio <= 1))
    problems.push(`minLrRatio: expected a number in [0, 1], got ${options.minLrRatio}`);
  if (problems.length > 0) throw new RangeError(`invalid training options:\n  - ${problems.join('\n  - ')}`);
  return options;
}
