// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/* before it leaves two tfjs-core module instances
// disagreeing about the Tensor class (x.cast() then fails with "opHandler is null").
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@megabyte/nn/gradients';
import { relativeError } from '@megabyte/core/testing';
import { hasKernel, SOFTMAX_CROSS_ENTROPY_KERNEL, softmaxCrossEntropy } from '@megabyte/nn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swiftShaderMissing, useSwiftShader } from '../../test/helpers.js';
import { createWebGpuRuntime, shutdown } from '../node.js';
import { SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL } from './register-kernels.js';

interface Case {
  name: string;
  rows: number;
  vocab: number;
}

// The models' vocabulary (258: not a multiple of the 64-wide workgroup), a vocabulary smaller
// than the workgroup, and one row.
const CASES: Case[] = [
  { name: '6 rows of 258', rows: 6, vocab: 258 },
  { name: '5 rows of 7', rows: 5, vocab: 7 },
  { name: '1 row of 300', rows: 1, vocab: 300 },
];
const TOLERANCE = 1e-4;

interface Inputs {
  logits: Float32Array;
  targets: Int32Array;
  /** Weights of the scalar whose gradient is taken, so dNats differs per row. */
  w: Float32Array;
}

interface Outputs {
  nats: Float32Array;
  dLogits: Float32Array;
}

function makeInputs(c: Case, seed: number): Inputs {
  return tf.tidy(() => ({
    // std 3: peaked rows, where a wrong max or sum would show.
    logits: tf.randomNormal([c.rows, c.vocab], 0, 3, 'float32', seed).dataSync() as Float32Array,
    targets: Int32Array.from({ length: c.rows }, (_, i) => (i * 97 + seed) % c.vocab),
    w: tf.randomNormal([c.rows], 0, 1, 'float32', seed + 1).dataSync() as Float32Array,
  }));
}

async function run(c: Case, inputs: Inputs): Promise<Outputs> {
  const logits = tf.tensor2d(inputs.logits, [c.rows, c.vocab]);
  const targets = tf.tensor1d(inputs.targets, 'int32');
  const w = tf.tensor1d(inputs.w);
  const nats = softmaxCrossEntropy(logits, targets);
  const dLogits = tf.grad((x: tf.Tensor) =>
    tf.sum(tf.mul(softmaxCrossEntropy(x as tf.Tensor2D, targets), w)),
  )(logits);
  const result = {
    nats: (await nats.data()) as Float32Array,
    dLogits: (await dLogits.data()) as Float32Array,
  };
  tf.dispose([logits, targets, w, nats, dLogits]);
  return result;
}

/** Gradient of sum(nats * w) + sum(logsumexp * w): through the kernel's two outputs, or composite ops. */
async function logsumexpGradient(c: Case, inputs: Inputs): Promise<Float32Array> {
  const logits = tf.tensor2d(inputs.logits, [c.rows, c.vocab]);
  const targets = tf.tensor1d(inputs.targets, 'int32');
  const w = tf.tensor1d(inputs.w);
  const fused = hasKernel(SOFTMAX_CROSS_ENTROPY_KERNEL);
  const grad = tf.grad((x: tf.Tensor) => {
    const [nats, lse] = fused
      ? (tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, { logits: x, targets }) as tf.Tensor[])
      : [softmaxCrossEntropy(x as tf.Tensor2D, targets), tf.logSumExp(x, -1)];
    return tf.sum(tf.mul(tf.add(nats!, lse!), w));
  })(logits);
  const result = (await grad.data()) as Float32Array;
  tf.dispose([logits, targets, w, grad]);
  return result;
}

describe.skipIf(swiftShaderMissing !== undefined)(
  `fused softmax cross-entropy on WebGPU (SwiftShader) vs the composite on cpu${
    swiftShaderMissing ? `; skipped: ${swiftShaderMissing}` : ''
  }`,
  () => {
    const inputs = CASES.map((c, i) => makeInputs(c, i + 1));
    const onCpu: Outputs[] = [];
    let lseOnCpu: Float32Array;
    const errors: Record<string, Record<string, number>> = {};

    beforeAll(async () => {
      await tf.setBackend('cpu');
      for (const [i, c] of CASES.entries()) onCpu.push(await run(c, inputs[i]!));
      lseOnCpu = await logsumexpGradient(CASES[0]!, inputs[0]!);
      useSwiftShader();
      await createWebGpuRuntime();
    });

    afterAll(() => {
      console.log('fused softmax cross-entropy vs composite on cpu, relative error', errors);
      shutdown();
    });

    for (const [i, c] of CASES.entries()) {
      it(`${c.name}: nats and their gradient match to ${TOLERANCE}`, async () => {
        let gpu: Outputs | undefined;
        const profile = await tf.profile(async () => {
          gpu = await run(c, inputs[i]!);
        });
        const kernels = new Set(profile.kernels.map((k) => k.name));
        expect(kernels).toContain(SOFTMAX_CROSS_ENTROPY_KERNEL);
        expect(kernels).toContain(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL);
        expect(kernels).not.toContain('LogSoftmax');

        const cpu = onCpu[i]!;
        const report = {
          nats: relativeError(gpu!.nats, cpu.nats),
          dLogits: relativeError(gpu!.dLogits, cpu.dLogits),
        };
        expect(report.nats).toBeLessThan(TOLERANCE);
        expect(report.dLogits).toBeLessThan(TOLERANCE);
        errors[c.name] = report;
      });
    }

    it('the logsumexp output has a gradient too', async () => {
      const gpu = await logsumexpGradient(CASES[0]!, inputs[0]!);
      expect(relativeError(gpu, lseOnCpu)).toBeLessThan(TOLERANCE);
    });

    it('a target outside the vocabulary (e.g. a padding id) adds no loss and no gradient', async () => {
      const logits = tf.tensor2d([
        [1, 2, 3],
        [3, 2, 1],
      ]);
      const targets = tf.tensor1d([2, 5], 'int32');
      const nats = await softmaxCrossEntropy(logits, targets).data();
      expect(nats[0]).toBeCloseTo(Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3, 5);
      expect(nats[1]).toBe(0);
      const grad = tf.grad((x: tf.Tensor) => tf.sum(softmaxCrossEntropy(x as tf.Tensor2D, targets)))(logits);
      expect(Array.from((await grad.data()).slice(3))).toEqual([0, 0, 0]);
      tf.dispose([logits, targets, grad]);
    });

    it('leaves no tensor behind across forward and backward passes', async () => {
      await run(CASES[0]!, inputs[0]!);
      const count = tf.memory().numTensors;
      for (let step = 0; step < 2; step++) await run(CASES[0]!, inputs[0]!);
      expect(tf.memory().numTensors).toBe(count);
    });
  },
);
