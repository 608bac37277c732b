import * as tf from '@tensorflow/tfjs-core';
import { idsTensor } from '../byte-model.js';
import type { ModelConfigInput } from '../config.js';
import { generate } from '../generation/index.js';
import { type AnyModel, createModel } from '../models.js';
import { sampleIds } from './compare.js';

/** What one model computes on the active backend, read back to plain arrays. */
export interface BackendRun {
  logits: Float32Array;
  loss: number;
  /** Gradient of the loss per parameter name. */
  grads: Map<string, Float32Array>;
  /** Loss before each of the SGD steps, then after the last. */
  curve: number[];
  /** tf.memory().numTensors before each SGD step. */
  tensorsPerStep: number[];
  /** Greedy continuation of the prompt by the fresh model (before the SGD steps), if asked for. */
  generated: number[];
}

export interface BackendRunOptions {
  readonly batch?: number;
  readonly length?: number;
  readonly seed?: number;
  readonly steps?: number;
  readonly learningRate?: number;
  /** Greedy bytes to generate first; none by default. */
  readonly greedy?: { readonly prompt: string; readonly bytes: number };
}

/**
 * Builds a seeded model on the active backend (initialisation is seeded in JavaScript, so every
 * backend gets the same weights) and records its logits, loss, gradients and a few plain SGD
 * steps: what backend-vs-backend tests compare. Every read is asynchronous, as GPU backends in
 * Node need.
 */
export async function runOnActiveBackend(
  config: ModelConfigInput,
  options: BackendRunOptions = {},
): Promise<BackendRun> {
  const { batch = 2, length = 16, seed = 7, steps = 3, learningRate = 0.5, greedy } = options;
  const model: AnyModel = createModel(config, { seed });
  const ids = idsTensor(sampleIds(batch, length, 3), batch, length);
  try {
    const generated: number[] = [];
    if (greedy) {
      for await (const byte of generate(model, {
        prompt: greedy.prompt,
        maxBytes: greedy.bytes,
        temperature: 0,
      }))
        generated.push(byte);
    }

    const logitsTensor = model.forward(ids);
    const logits = (await logitsTensor.data()) as Float32Array;
    logitsTensor.dispose();

    const params = model.parameters();
    const variables = params.map((p) => p.variable);
    const { value, grads } = tf.variableGrads(() => model.loss(ids), variables);
    const loss = (await value.data())[0]!;
    const gradsByName = new Map<string, Float32Array>();
    for (const p of params) gradsByName.set(p.name, (await grads[p.variable.name]!.data()) as Float32Array);
    value.dispose();
    tf.dispose(grads);

    const curve: number[] = [];
    const tensorsPerStep: number[] = [];
    for (let step = 0; step < steps; step++) {
      tensorsPerStep.push(tf.memory().numTensors);
      const { value: stepLoss, grads: stepGrads } = tf.variableGrads(() => model.loss(ids), variables);
      curve.push((await stepLoss.data())[0]!);
      tf.tidy(() => {
        for (const p of params)
          p.variable.assign(tf.sub(p.variable, tf.mul(stepGrads[p.variable.name]!, learningRate)));
      });
      stepLoss.dispose();
      tf.dispose(stepGrads);
    }
    const last = model.loss(ids);
    curve.push((await last.data())[0]!);
    last.dispose();
    return { logits, loss, grads: gradsByName, curve, tensorsPerStep, generated };
  } finally {
    ids.dispose();
    model.dispose();
  }
}
