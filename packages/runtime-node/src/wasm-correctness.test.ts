// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances
// disagreeing about the Tensor class (x.cast() then fails with "opHandler is null").
import * as tf from '@tensorflow/tfjs-core';
import '@megabyte/nn/gradients';
import { type AnyModel, createModel, generate, idsTensor, type ModelConfig } from '@megabyte/core';
import {
  microMegabyteConfig,
  microTransformerConfig,
  relativeError,
  sampleIds,
} from '@megabyte/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from './index.js';

/** What one model computes on one backend, read back to plain arrays. */
interface Measured {
  logits: Float32Array;
  loss: number;
  /** Gradient of the loss per parameter name. */
  grads: Map<string, Float32Array>;
  /** Loss before each of the SGD steps, then after the last. */
  curve: number[];
  /** tf.memory().numTensors before each SGD step. */
  tensorsPerStep: number[];
  /** Greedy continuation of PROMPT, computed on a fresh model (before the SGD steps). */
  generated: number[];
}

const BATCH = 2;
const LENGTH = 16;
const SEED = 7;
const STEPS = 3;
const LEARNING_RATE = 0.5;
const TOLERANCE = 1e-4;
const PROMPT = 'ab';
const GENERATED_BYTES = 32;

// initStd 0.5 (not the micro configs' 0.02) so that logits and gradients are far from zero and the
// comparison measures the kernels, not rounding noise around zero; it also keeps the greedy
// argmax away from near-ties between bytes.
const MODELS: Record<string, ModelConfig> = {
  megabyte: microMegabyteConfig({ initStd: 0.5 }),
  transformer: microTransformerConfig({ initStd: 0.5 }),
};

async function greedy(model: AnyModel): Promise<number[]> {
  const bytes: number[] = [];
  for await (const byte of generate(model, { prompt: PROMPT, maxBytes: GENERATED_BYTES, temperature: 0 })) {
    bytes.push(byte);
  }
  return bytes;
}

/** Runs everything on the active backend; initialisation is seeded in JS, so every backend gets the same model. */
async function measure(config: ModelConfig): Promise<Measured> {
  const model: AnyModel = createModel(config, { seed: SEED });
  const ids = idsTensor(sampleIds(BATCH, LENGTH, 3), BATCH, LENGTH);
  try {
    const generated = await greedy(model);

    const logitsTensor = model.forward(ids);
    const logits = (await logitsTensor.data()) as Float32Array;
    logitsTensor.dispose();

    const params = model.parameters();
    const variables = params.map((p) => p.variable);
    const { value, grads } = tf.variableGrads(() => model.loss(ids), variables);
    const loss = (await value.data())[0]!;
    const gradsByName = new Map<string, Float32Array>();
    for (const p of params) {
      gradsByName.set(p.name, (await grads[p.variable.name]!.data()) as Float32Array);
    }
    value.dispose();
    tf.dispose(grads);

    // Plain SGD by hand.
    const curve: number[] = [];
    const tensorsPerStep: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      tensorsPerStep.push(tf.memory().numTensors);
      const { value: stepLoss, grads: stepGrads } = tf.variableGrads(() => model.loss(ids), variables);
      curve.push((await stepLoss.data())[0]!);
      tf.tidy(() => {
        for (const p of params)
          p.variable.assign(tf.sub(p.variable, tf.mul(stepGrads[p.variable.name]!, LEARNING_RATE)));
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

describe('the wasm backend computes what the cpu backend computes', () => {
  const onCpu = new Map<string, Measured>();
  const onWasm = new Map<string, Measured>();

  beforeAll(async () => {
    // References first, on the cpu backend of the same tfjs-core instance, then switch to wasm.
    const cpu = await createRuntime({ backend: 'cpu' });
    expect(cpu.tf).toBe(tf);
    for (const [name, config] of Object.entries(MODELS)) onCpu.set(name, await measure(config));

    const wasm = await createRuntime({ backend: 'wasm' });
    expect(wasm.tf).toBe(tf);
    expect(tf.getBackend()).toBe('wasm');
    for (const [name, config] of Object.entries(MODELS)) onWasm.set(name, await measure(config));
  });

  it('runs the wasm-specific paths of @megabyte/nn: no UnsortedSegmentSum kernel (dense one-hot embedding gradient)', () => {
    // packages/nn/src/embedding.ts falls back to a one-hot matmul gradient where this kernel is
    // missing, and packages/nn/src/matmul.ts transposes operands explicitly on wasm.
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
    expect(tf.getKernel('UnsortedSegmentSum', 'cpu')).toBeDefined();
  });

  for (const name of Object.keys(MODELS)) {
    it(`${name}: logits, loss, gradients and ${STEPS} SGD steps match the cpu backend to ${TOLERANCE} relative`, () => {
      const cpu = onCpu.get(name)!;
      const wasm = onWasm.get(name)!;

      const report: Record<string, number | string> = {
        logits: relativeError(wasm.logits, cpu.logits),
        loss: relativeError([wasm.loss], [cpu.loss]),
        curve: relativeError(wasm.curve, cpu.curve),
      };
      let worstGrad = 0;
      let worstParam = '';
      expect([...wasm.grads.keys()]).toEqual([...cpu.grads.keys()]);
      const failures: string[] = [];
      for (const [param, expected] of cpu.grads) {
        const error = relativeError(wasm.grads.get(param)!, expected);
        if (error >= worstGrad) {
          worstGrad = error;
          worstParam = param;
        }
        if (!(error < TOLERANCE)) failures.push(`${param}: ${error}`);
      }
      report.grads = worstGrad;
      report.worstGradParam = worstParam;
      console.log(`cpu vs wasm, ${name}, max relative error:`, report, 'loss curve (wasm):', wasm.curve);

      expect(failures, 'gradients over tolerance').toEqual([]);
      expect(report.logits).toBeLessThan(TOLERANCE);
      expect(report.loss).toBeLessThan(TOLERANCE);
      expect(report.curve).toBeLessThan(TOLERANCE);
      // The steps learn (the curve falls) and leak no tensors.
      expect(wasm.curve.at(-1)!).toBeLessThan(wasm.curve[0]!);
      expect(new Set(wasm.tensorsPerStep).size).toBe(1);
    });

    it(`${name}: greedy generation of ${GENERATED_BYTES} bytes gives the same bytes on cpu and wasm`, () => {
      const cpu = onCpu.get(name)!.generated;
      const wasm = onWasm.get(name)!.generated;
      console.log(`greedy bytes, ${name}: cpu [${cpu.join(',')}], wasm [${wasm.join(',')}]`);
      expect(cpu).toHaveLength(GENERATED_BYTES);
      expect(wasm).toEqual(cpu);
    });
  }
});
