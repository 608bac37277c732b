import { type ByteModel, idsTensor } from '@megabyte/core';
import * as tf from '@tensorflow/tfjs-core';
import '@megabyte/nn/gradients';
import { AdamW, type AdamWOptions, type AdamWState } from './adamw.js';
import {
  accumulateGradients,
  clipByGlobalNorm,
  disposeGradients,
  type Gradients,
  globalNorm,
  scaleGradients,
} from './clip.js';

/** B windows of T ids, row-major, and the seed of this micro-batch's dropout masks. */
export interface MicroBatch {
  readonly ids: Int32Array;
  readonly batch: number;
  readonly length: number;
  readonly dropoutSeed: number;
}

/** What an optimizer step needs besides the data. */
export interface StepSettings {
  /** This step's learning rate (the schedule's). */
  readonly lr: number;
  /** Global-norm clip; 0: none. */
  readonly clip: number;
  /** A loss above this is a divergence (a spike): the step is not applied. Default: no bound. */
  readonly maxLoss?: number;
}

/** Whether an engine applies a step: its loss and norm are finite and the loss is not a spike. */
export function stepApplies(loss: number, gradNorm: number, settings: StepSettings): boolean {
  return Number.isFinite(loss) && Number.isFinite(gradNorm) && !(loss > (settings.maxLoss ?? Infinity));
}

export interface EngineStep {
  /** Mean loss of the micro-batches, in nats per byte. */
  readonly loss: number;
  /** Global norm of the mean gradient, before clipping. */
  readonly gradNorm: number;
}

/** The optimizer settings an engine is made with (AdamW's, every field given). */
export type OptimizerSettings = Required<AdamWOptions>;

/**
 * Where training steps run. An engine computes the loss and gradients of micro-batches, averages
 * them, measures and clips their global norm and applies AdamW; it owns the optimizer's moments.
 * Where the loss or the norm is not finite, or the loss is over `maxLoss`, it changes nothing (the
 * trainer then stops the run).
 *
 * The model's tfjs variables are the weights of record for checkpoints and evaluation: an engine
 * that keeps its own copy reads them in `pullWeights` and writes them back in `pushWeights`.
 */
export interface TrainingEngine {
  /** What runs the steps, for logs: "tfjs (wasm)", "onnxruntime-node (cpu, 2 threads)". */
  readonly name: string;
  step(batches: readonly MicroBatch[], settings: StepSettings): Promise<EngineStep>;
  /**
   * Per-byte nats of windows on the engine's current weights, where the engine scores them itself
   * (see `evaluateStream`'s `nats`); absent, evaluation runs on the model's tfjs backend.
   */
  nats?(ids: Int32Array, batch: number, length: number): Promise<Float32Array>;
  /** A snapshot of the optimizer (tensors are copies the caller disposes). */
  optimizerState(): AdamWState;
  /** Restores a snapshot, checked against the model's parameters; the caller keeps the tensors. */
  loadOptimizerState(state: AdamWState): void;
  /** Makes the engine's weights the model's variables' (after weights were loaded into the model). */
  pullWeights(): Promise<void>;
  /** Writes the engine's weights into the model's variables. */
  pushWeights(): Promise<void>;
  dispose(): void;
}

/** Makes the engine a trainer runs on, from its model and optimizer settings. */
export type TrainingEngineFactory = (model: ByteModel, optimizer: OptimizerSettings) => TrainingEngine;

/** Training on the model's own tfjs variables, on whatever tfjs backend is active. */
export class TfjsEngine implements TrainingEngine {
  readonly name: string;
  private readonly optimizer: AdamW;

  constructor(
    private readonly model: ByteModel,
    optimizer: OptimizerSettings,
  ) {
    this.optimizer = new AdamW(optimizer);
    this.name = `tfjs (${tf.getBackend()})`;
  }

  async step(batches: readonly MicroBatch[], settings: StepSettings): Promise<EngineStep> {
    const parameters = this.model.parameters();
    const byVariable = new Map(parameters.map((p) => [p.variable.name, p.name]));
    let summed: Map<string, tf.Tensor> | undefined;
    let lossSum: tf.Scalar = tf.scalar(0);
    for (const batch of batches) {
      const ids = idsTensor(batch.ids, batch.batch, batch.length);
      const { value, grads } = tf.variableGrads(
        () => this.model.loss(ids, { training: true, dropoutSeed: batch.dropoutSeed }),
        parameters.map((p) => p.variable),
      );
      ids.dispose();
      const total = tf.add(lossSum, value) as tf.Scalar;
      tf.dispose([lossSum, value]);
      lossSum = total;
      const named = new Map(Object.entries(grads).map(([variable, g]) => [byVariable.get(variable)!, g]));
      summed = accumulateGradients(summed, named);
    }
    const mean = scaleGradients(summed!, 1 / batches.length);
    disposeGradients(summed!);
    // The norm is measured even without clipping: it is logged, and a non-finite gradient must
    // stop the run before it poisons the weights.
    const { grads, norm: normTensor }: { grads: Gradients; norm: tf.Scalar } =
      settings.clip > 0 ? clipByGlobalNorm(mean, settings.clip) : { grads: mean, norm: globalNorm(mean) };
    if (settings.clip > 0) disposeGradients(mean);
    const [lossTotal = Number.NaN, gradNorm = Number.NaN] = await readScalars(lossSum, normTensor);
    tf.dispose([lossSum, normTensor]);
    const loss = lossTotal / batches.length;
    if (stepApplies(loss, gradNorm, settings)) this.optimizer.step(parameters, grads, settings.lr);
    disposeGradients(grads);
    return { loss, gradNorm };
  }

  optimizerState(): AdamWState {
    return this.optimizer.state();
  }

  loadOptimizerState(state: AdamWState): void {
    this.optimizer.loadState(state, this.model.parameters());
  }

  async pullWeights(): Promise<void> {}

  async pushWeights(): Promise<void> {}

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** Scalars read back to numbers in one asynchronous transfer. */
async function readScalars(...scalars: tf.Scalar[]): Promise<number[]> {
  const packed = tf.stack(scalars);
  try {
    return Array.from(await packed.data());
  } finally {
    packed.dispose();
  }
}
