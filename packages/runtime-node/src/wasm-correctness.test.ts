// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances
// disagreeing about the Tensor class (x.cast() then fails with "opHandler is null").
import * as tf from '@tensorflow/tfjs-core';
import '@megabyte/nn/gradients';
import type { ModelConfigInput } from '@megabyte/core';
import {
  type BackendRun,
  microMegabyteConfig,
  microTransformerConfig,
  relativeError,
  runOnActiveBackend,
} from '@megabyte/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from './index.js';

const STEPS = 3;
const TOLERANCE = 1e-4;
const GREEDY = { prompt: 'ab', bytes: 32 };
const GENERATED_BYTES = GREEDY.bytes;

// initStd 0.5 (not the micro configs' 0.02) so that logits and gradients are far from zero and the
// comparison measures the kernels, not rounding noise around zero; it also keeps the greedy
// argmax away from near-ties between bytes.
const MODELS: Record<string, ModelConfigInput> = {
  megabyte: microMegabyteConfig({ initStd: 0.5 }),
  transformer: microTransformerConfig({ initStd: 0.5 }),
};

const measure = (config: ModelConfigInput) => runOnActiveBackend(config, { steps: STEPS, greedy: GREEDY });

describe('the wasm backend computes what the cpu backend computes', () => {
  const onCpu = new Map<string, BackendRun>();
  const onWasm = new Map<string, BackendRun>();

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
