// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances
// disagreeing about the Tensor class (x.cast() then fails with "opHandler is null").
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@megabyte/nn/gradients';
import { createModel, idsTensor, type ModelConfigInput } from '@megabyte/core';
import {
  type BackendRun,
  microMegabyteConfig,
  microTransformerConfig,
  relativeError,
  runOnActiveBackend,
  sampleIds,
} from '@megabyte/core/testing';
import { CAUSAL_ATTENTION_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL } from '@megabyte/nn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swiftShaderMissing, useSwiftShader } from '../test/helpers.js';
import {
  CAUSAL_ATTENTION_GRAD_KERNEL,
  createWebGpuRuntime,
  registerMegabyteKernels,
  SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL,
  shutdown,
  unregisterMegabyteKernels,
  WebGpuDeviceLostError,
  type WebGpuRuntime,
  WebGpuSyncReadError,
} from './node.js';

const STEPS = 3;
const TOLERANCE = 1e-4;

// initStd 0.5 (not 0.02) so that logits and gradients are far from zero and the comparison
// measures the kernels, not rounding noise around zero.
const MODELS: Record<string, ModelConfigInput> = {
  megabyte: microMegabyteConfig({ initStd: 0.5 }),
  transformer: microTransformerConfig({ initStd: 0.5 }),
};

const measure = (config: ModelConfigInput) => runOnActiveBackend(config, { steps: STEPS });

/** Names of the kernels one loss-and-gradients step of a fresh model runs. */
async function kernelsOfStep(config: ModelConfigInput): Promise<Set<string>> {
  const model = createModel(config, { seed: 7 });
  const ids = idsTensor(sampleIds(2, 16, 3), 2, 16);
  const profile = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(
      () => model.loss(ids),
      model.parameters().map((p) => p.variable),
    );
    tf.dispose([value, grads]);
  });
  ids.dispose();
  model.dispose();
  return new Set(profile.kernels.map((k) => k.name));
}

describe.skipIf(swiftShaderMissing !== undefined)(
  `WebGPU on SwiftShader in Node (needs Debian chromium's SwiftShader Vulkan driver and libvulkan1${
    swiftShaderMissing ? `; skipped: ${swiftShaderMissing}` : ''
  })`,
  () => {
    const onCpu = new Map<string, BackendRun>();
    const onGpu = new Map<string, BackendRun>();
    const errors: Record<string, Record<string, number>> = {};
    let runtime: WebGpuRuntime;
    const lost: WebGpuDeviceLostError[] = [];
    const uncaptured: string[] = [];

    beforeAll(async () => {
      // References first, on the cpu backend of the same tfjs-core instance.
      await tf.setBackend('cpu');
      for (const [name, config] of Object.entries(MODELS)) onCpu.set(name, await measure(config));

      useSwiftShader();
      runtime = await createWebGpuRuntime({
        onDeviceLost: (error) => lost.push(error),
        onUncapturedError: (message) => uncaptured.push(message),
      });
      // tfjs runs ops on small tensors whose values are still on the CPU with its CPU kernels;
      // turn that off so that every op of these tiny models runs a WebGPU kernel.
      tf.env().set('WEBGPU_CPU_FORWARD', false);
    });

    afterAll(() => {
      if (Object.keys(errors).length > 0) console.log('cpu vs webgpu, relative error', errors);
      shutdown();
    });

    it('reports the adapter, its limits and the backend it runs', () => {
      expect(runtime.tf).toBe(tf);
      expect(runtime.backend).toBe('webgpu');
      expect(tf.getBackend()).toBe('webgpu');
      expect(runtime.adapter).toMatchObject({
        vendor: 'google',
        architecture: 'swiftshader',
        isFallbackAdapter: true,
      });
      expect(runtime.adapter.description).toMatch(/SwiftShader/);
      const { limits } = runtime.adapter;
      expect(limits.maxBufferSize).toBeGreaterThanOrEqual(256 * 2 ** 20);
      expect(limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
      expect(limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
      expect(limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
      expect(runtime.adapter.features).toContain('timestamp-query');
      expect(runtime.description).toMatch(
        /^webgpu: @tensorflow\/tfjs-backend-webgpu 4\.22\.0 on google swiftshader \(SwiftShader driver [\d.]+\), fallback adapter; max buffer [\d.]+ [KMG]iB.*; fused kernels on$/,
      );
      expect(runtime.fusedKernels).toBe(true);
      expect(runtime.deviceLost).toBeUndefined();
    });

    for (const name of Object.keys(MODELS)) {
      it(`${name}: logits, loss, gradients and 3 SGD steps with the fused kernels match the cpu backend to ${TOLERANCE} relative`, async () => {
        const config = MODELS[name]!;
        const kernels = await kernelsOfStep(config);
        for (const kernel of [
          CAUSAL_ATTENTION_KERNEL,
          CAUSAL_ATTENTION_GRAD_KERNEL,
          SOFTMAX_CROSS_ENTROPY_KERNEL,
          SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL,
        ]) {
          expect(kernels, `${kernel} runs`).toContain(kernel);
        }
        const cpu = onCpu.get(name)!;
        const gpu = await measure(config);
        onGpu.set(name, gpu);

        const report: Record<string, number> = {
          logits: relativeError(gpu.logits, cpu.logits),
          loss: relativeError([gpu.loss], [cpu.loss]),
          curve: relativeError(gpu.curve, cpu.curve),
        };
        let worstGrad = 0;
        expect([...gpu.grads.keys()]).toEqual([...cpu.grads.keys()]);
        for (const [param, expected] of cpu.grads) {
          const error = relativeError(gpu.grads.get(param)!, expected);
          worstGrad = Math.max(worstGrad, error);
          expect(error, `gradient of ${param}`).toBeLessThan(TOLERANCE);
        }
        report.grads = worstGrad;
        errors[name] = report;

        expect(report.logits).toBeLessThan(TOLERANCE);
        expect(report.loss).toBeLessThan(TOLERANCE);
        expect(report.curve).toBeLessThan(TOLERANCE);
        // The steps learn (the curve falls) and leak no tensors.
        expect(gpu.curve.at(-1)!).toBeLessThan(gpu.curve[0]!);
        expect(new Set(gpu.tensorsPerStep).size).toBe(1);
      });
    }

    it(`transformer without the fused kernels (composite ops on webgpu) matches the cpu backend to ${TOLERANCE}`, async () => {
      unregisterMegabyteKernels();
      try {
        const config = MODELS.transformer!;
        expect(await kernelsOfStep(config)).not.toContain(CAUSAL_ATTENTION_KERNEL);
        const cpu = onCpu.get('transformer')!;
        const gpu = await measure(config);
        expect(relativeError(gpu.logits, cpu.logits)).toBeLessThan(TOLERANCE);
        expect(relativeError(gpu.curve, cpu.curve)).toBeLessThan(TOLERANCE);
        for (const [param, expected] of cpu.grads) {
          expect(relativeError(gpu.grads.get(param)!, expected), `gradient of ${param}`).toBeLessThan(
            TOLERANCE,
          );
        }
      } finally {
        registerMegabyteKernels();
      }
    });

    it('a synchronous read in Node throws WebGpuSyncReadError, which says to await data()', async () => {
      const product = tf.matMul(tf.ones([2, 2]), tf.ones([2, 2]));
      expect(() => product.dataSync()).toThrow(WebGpuSyncReadError);
      expect(() => product.arraySync()).toThrow(/await tensor\.data\(\)/);
      expect(Array.from(await product.data())).toEqual([2, 2, 2, 2]);
      product.dispose();
    });

    it('passes WebGPU errors that no error scope caught to onUncapturedError', async () => {
      expect(uncaptured).toEqual([]);
      // An invalid buffer (no usage flags): Dawn reports a validation error, asynchronously.
      const device = runtime.device as unknown as { createBuffer(descriptor: object): { destroy(): void } };
      device.createBuffer({ size: 4, usage: 0 }).destroy();
      for (let i = 0; i < 100 && uncaptured.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(uncaptured.join('\n')).toMatch(/usage/i);
      uncaptured.length = 0;
    });

    it('after a device loss, calls onDeviceLost and throws WebGpuDeviceLostError on the next op; a new runtime works', async () => {
      const before = tf.tensor1d([1, 2, 3]);
      runtime.device.destroy();
      for (let i = 0; i < 100 && !runtime.deviceLost; i++) await new Promise((r) => setTimeout(r, 10));

      expect(runtime.deviceLost).toBeInstanceOf(WebGpuDeviceLostError);
      expect(lost).toEqual([runtime.deviceLost]);
      expect(runtime.deviceLost!.reason).toBe('destroyed');
      expect(runtime.deviceLost!.message).toMatch(/device was lost \(destroyed.*createWebGpuRuntime\(\)/s);
      expect(() => tf.matMul(tf.ones([2, 2]), tf.ones([2, 2]))).toThrow(WebGpuDeviceLostError);
      await expect(before.data()).rejects.toThrow(WebGpuDeviceLostError);

      const again = await createWebGpuRuntime();
      expect(again.device).not.toBe(runtime.device);
      expect(tf.getBackend()).toBe('webgpu');
      const product = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
      expect(Array.from(await product.data())).toEqual([11]);
      product.dispose();
      // The loss of the old device is not reported again by the new runtime.
      expect(again.deviceLost).toBeUndefined();
      runtime = again;
    });
  },
);
