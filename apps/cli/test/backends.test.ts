// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@megabyte/nn/gradients';
import {
  type AnyModel,
  createModel,
  decodeModel,
  type EncodedCheckpoint,
  encodeModel,
  generate,
  idsTensor,
  type ModelConfigInput,
} from '@megabyte/core';
import {
  microMegabyteConfig,
  microTransformerConfig,
  relativeError,
  sampleIds,
} from '@megabyte/core/testing';
import { Corpus } from '@megabyte/patching';
import { createRuntime } from '@megabyte/runtime-node';
import { createWebGpuRuntime, shutdown } from '@megabyte/runtime-webgpu/node';
import { Trainer } from '@megabyte/trainer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swiftShaderMissing, useSwiftShader } from '../../../packages/runtime-webgpu/test/helpers.js';

/**
 * The backends the CLI offers must agree: the same checkpoint gives the same logits, the same
 * seeded generation and the same training curve on cpu, wasm and webgpu (SwiftShader here).
 */

const BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
type Backend = (typeof BACKENDS)[number];

// initStd 0.5 so the next-byte distributions are far from uniform: sampling then depends on the
// logits, and a wrong backend would change the bytes.
const MODELS: Record<string, ModelConfigInput> = {
  megabyte: microMegabyteConfig({ initStd: 0.5 }),
  transformer: microTransformerConfig({ initStd: 0.5 }),
};
const GENERATED_BYTES = 40; // past the 16-byte context: the sliding window re-encodes too
const SAMPLING = { prompt: 'ab', maxBytes: GENERATED_BYTES, temperature: 1, topP: 0.95, seed: 3 };
const TRAINING = {
  steps: 3,
  batchSize: 2,
  warmupSteps: 1,
  lr: 1e-2,
  evalEvery: 0,
  evalWindows: 2,
  checkpointEvery: 0,
  seed: 1,
};
const CORPUS_TEXT = 'the quick brown fox jumps over the lazy dog; '.repeat(8);

interface Observed {
  logits: Float32Array;
  bytes: number[];
  losses: number[];
  validation: number;
  /** The trained weights as a checkpoint written on that backend. */
  trained: EncodedCheckpoint;
}

async function activate(backend: Backend): Promise<void> {
  if (backend === 'cpu') await tf.setBackend('cpu');
  else if (backend === 'wasm') await createRuntime({ backend: 'wasm' });
  else await createWebGpuRuntime();
  expect(tf.getBackend()).toBe(backend);
}

async function observe(checkpoint: EncodedCheckpoint): Promise<Observed> {
  const load = (): AnyModel =>
    decodeModel({ config: JSON.parse(checkpoint.configJson), weights: checkpoint.weights });
  const model = load();
  try {
    const ids = idsTensor(sampleIds(2, 16, 5), 2, 16);
    const logitsTensor = model.forward(ids);
    const logits = (await logitsTensor.data()) as Float32Array;
    tf.dispose([ids, logitsTensor]);

    const bytes: number[] = [];
    for await (const byte of generate(model, SAMPLING)) bytes.push(byte);

    const trainer = new Trainer(
      model,
      { train: Corpus.fromDocuments([CORPUS_TEXT]), validation: Corpus.fromDocuments([CORPUS_TEXT]) },
      TRAINING,
    );
    const losses: number[] = [];
    for (let step = 0; step < TRAINING.steps; step++) losses.push((await trainer.trainStep()).loss);
    const validation = (await trainer.validate())!;
    trainer.dispose();
    return { logits, bytes, losses, validation, trained: await encodeModel(model) };
  } finally {
    model.dispose();
  }
}

describe.skipIf(swiftShaderMissing !== undefined)(
  `cpu, wasm and webgpu (SwiftShader) agree${swiftShaderMissing ? `; skipped: ${swiftShaderMissing}` : ''}`,
  () => {
    const results = new Map<string, Map<Backend, Observed>>();
    const report: Record<string, Record<string, number>> = {};

    beforeAll(async () => {
      useSwiftShader();
      for (const [name, config] of Object.entries(MODELS)) {
        await tf.setBackend('cpu');
        const model = createModel(config, { seed: 9 });
        const checkpoint = await encodeModel(model);
        model.dispose();
        const byBackend = new Map<Backend, Observed>();
        for (const backend of BACKENDS) {
          await activate(backend);
          // Every op of these tiny models on a WebGPU kernel, not on tfjs's CPU forwarding.
          if (backend === 'webgpu') tf.env().set('WEBGPU_CPU_FORWARD', false);
          byBackend.set(backend, await observe(checkpoint));
        }
        results.set(name, byBackend);
      }
    });

    afterAll(async () => {
      if (Object.keys(report).length > 0) console.log('relative error against cpu', report);
      shutdown();
      await tf.setBackend('cpu');
    });

    for (const name of Object.keys(MODELS)) {
      for (const backend of ['wasm', 'webgpu'] as const) {
        it(`${name} on ${backend}: logits, seeded generation, a training curve and the trained weights match cpu`, async () => {
          const cpu = results.get(name)!.get('cpu')!;
          const other = results.get(name)!.get(backend)!;
          const cpuWeights = await weightsOf(cpu.trained);
          const otherWeights = await weightsOf(other.trained);
          const errors = {
            logits: relativeError(other.logits, cpu.logits),
            losses: relativeError(other.losses, cpu.losses),
            validation: relativeError([other.validation], [cpu.validation]),
            weights: relativeError(otherWeights, cpuWeights),
          };
          report[`${name} on ${backend}`] = errors;
          expect(errors.logits).toBeLessThan(1e-4);
          // Sampling compares a uniform draw with cumulative probabilities, so differences of
          // ~1e-6 in them flip a byte only when a draw lands that close to a boundary.
          expect(other.bytes).toEqual(cpu.bytes);
          expect(other.bytes).toHaveLength(GENERATED_BYTES);
          expect(errors.losses).toBeLessThan(1e-4);
          expect(errors.validation).toBeLessThan(1e-4);
          expect(errors.weights).toBeLessThan(1e-4);
          // And the steps learned something.
          expect(other.losses.at(-1)!).toBeLessThan(other.losses[0]!);
        });
      }
    }
  },
);

/** Every parameter of a checkpoint, concatenated in file order. */
async function weightsOf(checkpoint: EncodedCheckpoint): Promise<Float32Array> {
  const model = decodeModel({ config: JSON.parse(checkpoint.configJson), weights: checkpoint.weights });
  try {
    const parts = await Promise.all(
      model.parameters().map((p) => p.variable.data() as Promise<Float32Array>),
    );
    const all = new Float32Array(parts.reduce((n, part) => n + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      all.set(part, offset);
      offset += part.length;
    }
    return all;
  } finally {
    model.dispose();
  }
}
