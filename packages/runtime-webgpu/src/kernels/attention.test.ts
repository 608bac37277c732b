// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/* before it leaves two tfjs-core module instances
// disagreeing about the Tensor class (x.cast() then fails with "opHandler is null").
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@megabyte/nn/gradients';
import { relativeError } from '@megabyte/core/testing';
import {
  CAUSAL_ATTENTION_KERNEL,
  causalAttention,
  causalMask,
  compositeCausalAttention,
  Dropout,
  hasKernel,
} from '@megabyte/nn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swiftShaderMissing, useSwiftShader } from '../../test/helpers.js';
import { createWebGpuRuntime, shutdown } from '../node.js';
import {
  CAUSAL_ATTENTION_GRAD_KERNEL,
  registerMegabyteKernels,
  unregisterMegabyteKernels,
} from './register-kernels.js';

interface Case {
  name: string;
  batch: number;
  heads: number;
  length: number;
  headDim: number;
  past: number;
}

// Lengths that are not multiples of the workgroup (64 rows) or the key tile (up to 32 keys),
// several tiles and workgroups per head, a KV cache (past > 0). Heads stay at most 32 wide: the
// WGSL is the same for any width, and SwiftShader takes long to compile the 64-wide programs.
const CASES: Case[] = [
  { name: 'one head, T=5', batch: 1, heads: 1, length: 5, headDim: 4, past: 0 },
  { name: 'batch 2, 3 heads, T=7, Dh=8', batch: 2, heads: 3, length: 7, headDim: 8, past: 0 },
  { name: 'T=70 (two workgroups, three key tiles)', batch: 1, heads: 2, length: 70, headDim: 4, past: 0 },
  {
    name: 'Dh=32, T=37 (two key tiles, the second partial)',
    batch: 1,
    heads: 1,
    length: 37,
    headDim: 32,
    past: 0,
  },
  { name: 'KV cache: past=6, T=3', batch: 2, heads: 2, length: 3, headDim: 8, past: 6 },
  { name: 'decoding: past=40, T=1', batch: 1, heads: 2, length: 1, headDim: 16, past: 40 },
];
const TOLERANCE = 1e-4;

/** Inputs as plain arrays, so each backend builds its own tensors. */
interface Inputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** Weights of the scalar whose gradient is taken: sum(out * w), so dOut is random too. */
  w: Float32Array;
}

interface Outputs {
  out: Float32Array;
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
}

function makeInputs(c: Case, seed: number): Inputs {
  const keys = c.past + c.length;
  const normal = (shape: number[], s: number) =>
    tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed * 10 + s).dataSync() as Float32Array);
  return {
    q: normal([c.batch, c.heads, c.length, c.headDim], 1),
    k: normal([c.batch, c.heads, keys, c.headDim], 2),
    v: normal([c.batch, c.heads, keys, c.headDim], 3),
    w: normal([c.batch, c.heads, c.length, c.headDim], 4),
  };
}

async function run(c: Case, inputs: Inputs): Promise<Outputs> {
  const keys = c.past + c.length;
  const q = tf.tensor4d(inputs.q, [c.batch, c.heads, c.length, c.headDim]);
  const k = tf.tensor4d(inputs.k, [c.batch, c.heads, keys, c.headDim]);
  const v = tf.tensor4d(inputs.v, [c.batch, c.heads, keys, c.headDim]);
  const w = tf.tensor4d(inputs.w, [c.batch, c.heads, c.length, c.headDim]);
  const attend = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
    causalAttention(a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor4D, { past: c.past });
  const out = attend(q, k, v);
  const [dq, dk, dv] = tf.grads((a, b, d) => tf.sum(tf.mul(attend(a, b, d), w)))([q, k, v]);
  const read = async (x: tf.Tensor) => (await x.data()) as Float32Array;
  const result = { out: await read(out), dq: await read(dq!), dk: await read(dk!), dv: await read(dv!) };
  tf.dispose([q, k, v, w, out, dq!, dk!, dv!]);
  return result;
}

/**
 * Gradients of sum(out * w) + sum(logsumexp * w[..., 0]) with respect to q, k, v: through the
 * kernel's two outputs on webgpu, through the composite ops on cpu.
 */
async function logsumexpGradients(c: Case, inputs: Inputs): Promise<Float32Array[]> {
  const keys = c.past + c.length;
  const q = tf.tensor4d(inputs.q, [c.batch, c.heads, c.length, c.headDim]);
  const k = tf.tensor4d(inputs.k, [c.batch, c.heads, keys, c.headDim]);
  const v = tf.tensor4d(inputs.v, [c.batch, c.heads, keys, c.headDim]);
  const w = tf.tensor4d(inputs.w, [c.batch, c.heads, c.length, c.headDim]);
  const u = tf.reshape(tf.slice(w, [0, 0, 0, 0], [c.batch, c.heads, c.length, 1]), [
    c.batch,
    c.heads,
    c.length,
  ]);
  const fused = hasKernel(CAUSAL_ATTENTION_KERNEL);
  const objective = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => {
    const [qa, kb, vd] = [a, b, d] as tf.Tensor4D[];
    let out: tf.Tensor;
    let lse: tf.Tensor;
    if (fused) {
      [out, lse] = tf.engine().runKernel(
        CAUSAL_ATTENTION_KERNEL,
        { q: qa!, k: kb!, v: vd! },
        {
          past: c.past,
        },
      ) as tf.Tensor[] as [tf.Tensor, tf.Tensor];
    } else {
      out = compositeCausalAttention(qa!, kb!, vd!, c.past);
      const scores = tf.mul(tf.matMul(qa!, kb!, false, true), 1 / Math.sqrt(c.headDim));
      lse = tf.logSumExp(tf.add(scores, causalMask(c.length, c.past)), -1);
    }
    return tf.add(tf.sum(tf.mul(out, w)), tf.sum(tf.mul(lse, u)));
  };
  const grads = tf.grads(objective)([q, k, v]);
  const result = await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array));
  tf.dispose([q, k, v, w, u, ...grads]);
  return result;
}

describe.skipIf(swiftShaderMissing !== undefined)(
  `fused causal attention on WebGPU (SwiftShader) vs the composite on cpu${
    swiftShaderMissing ? `; skipped: ${swiftShaderMissing}` : ''
  }`,
  () => {
    const inputs = CASES.map((c, i) => makeInputs(c, i + 1));
    const onCpu: Outputs[] = [];
    const LSE_CASE = CASES[4]!;
    let lseOnCpu: Float32Array[];
    const errors: Record<string, Record<string, number>> = {};

    beforeAll(async () => {
      await tf.setBackend('cpu');
      for (const [i, c] of CASES.entries()) onCpu.push(await run(c, inputs[i]!));
      lseOnCpu = await logsumexpGradients(LSE_CASE, inputs[4]!);
      useSwiftShader();
      await createWebGpuRuntime();
    });

    afterAll(() => {
      console.log('fused attention vs composite on cpu, relative error', errors);
      shutdown();
    });

    for (const [i, c] of CASES.entries()) {
      it(`${c.name}: output and dq, dk, dv match to ${TOLERANCE}`, async () => {
        expect(hasKernel(CAUSAL_ATTENTION_KERNEL)).toBe(true);
        let gpu: Outputs | undefined;
        const profile = await tf.profile(async () => {
          gpu = await run(c, inputs[i]!);
        });
        const kernels = new Set(profile.kernels.map((k) => k.name));
        expect(kernels).toContain(CAUSAL_ATTENTION_KERNEL);
        expect(kernels).toContain(CAUSAL_ATTENTION_GRAD_KERNEL);
        expect(kernels).not.toContain('Softmax');

        const cpu = onCpu[i]!;
        const report: Record<string, number> = {};
        for (const key of ['out', 'dq', 'dk', 'dv'] as const) {
          report[key] = relativeError(gpu![key], cpu[key]);
          expect(report[key], key).toBeLessThan(TOLERANCE);
        }
        errors[c.name] = report;
      });
    }

    it('the logsumexp output has a gradient too (dq, dk, dv match the composite)', async () => {
      const gpu = await logsumexpGradients(LSE_CASE, inputs[4]!);
      for (const [i, name] of ['dq', 'dk', 'dv'].entries()) {
        expect(relativeError(gpu[i]!, lseOnCpu[i]!), name).toBeLessThan(TOLERANCE);
      }
    });

    it('is causal: changing keys and values after position t leaves outputs up to t unchanged', async () => {
      const [batch, heads, length, headDim, t] = [1, 2, 9, 8, 4];
      const shape: [number, number, number, number] = [batch, heads, length, headDim];
      const q = tf.randomNormal(shape, 0, 1, 'float32', 11) as tf.Tensor4D;
      const k = tf.randomNormal(shape, 0, 1, 'float32', 12) as tf.Tensor4D;
      const v = tf.randomNormal(shape, 0, 1, 'float32', 13) as tf.Tensor4D;
      // 0 up to position t, 1 after it: only future keys and values change.
      const future = tf.concat([tf.zeros([1, 1, t + 1, 1]), tf.ones([1, 1, length - t - 1, 1])], 2);
      const k2 = tf.add(k, tf.mul(future, 5)) as tf.Tensor4D;
      const v2 = tf.add(v, tf.mul(future, 5)) as tf.Tensor4D;
      const before = (await causalAttention(q, k, v).array()) as number[][][][];
      const after = (await causalAttention(q, k2, v2).array()) as number[][][][];
      for (let h = 0; h < heads; h++) {
        expect(after[0]![h]!.slice(0, t + 1)).toEqual(before[0]![h]!.slice(0, t + 1));
        expect(after[0]![h]![t + 1]).not.toEqual(before[0]![h]![t + 1]);
      }
      tf.dispose([q, k, v, future, k2, v2]);
    });

    it('leaves no tensor behind across forward and backward passes', async () => {
      const c = CASES[1]!;
      await run(c, inputs[1]!);
      const count = tf.memory().numTensors;
      for (let step = 0; step < 2; step++) await run(c, inputs[1]!);
      expect(tf.memory().numTensors).toBe(count);
    });

    it('falls back to the composite with attention dropout or without the kernels registered', async () => {
      const c = CASES[0]!;
      const composite = async (f: () => tf.Tensor) => {
        const profile = await tf.profile(async () => {
          const out = f();
          await out.data();
          out.dispose();
        });
        return profile.kernels.map((k) => k.name);
      };
      const q = tf.randomNormal([1, 1, c.length, c.headDim], 0, 1, 'float32', 21) as tf.Tensor4D;
      const dropout = new Dropout(0.5, 1);
      expect(await composite(() => causalAttention(q, q, q, { dropout }))).not.toContain(
        CAUSAL_ATTENTION_KERNEL,
      );
      unregisterMegabyteKernels();
      try {
        expect(hasKernel(CAUSAL_ATTENTION_KERNEL)).toBe(false);
        expect(await composite(() => causalAttention(q, q, q))).toContain('Softmax');
      } finally {
        registerMegabyteKernels();
        q.dispose();
      }
      expect(hasKernel(CAUSAL_ATTENTION_KERNEL)).toBe(true);
    });
  },
);
