import * as tf from '@tensorflow/tfjs-core';
import '@megabyte/nn/gradients';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdamW, type OptimizerParameter } from './adamw.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const made: Array<{ dispose(): void }> = [];
let serial = 0;

afterEach(() => {
  for (const item of made.splice(0)) item.dispose();
});

function param(name: string, values: number[], shape: number[], decay = true): OptimizerParameter {
  const variable = tf.variable(tf.tensor(values, shape), true, `adamw-test-${name}-${serial++}`);
  made.push(variable);
  return { name, variable, decay };
}

function optimizer(options: ConstructorParameters<typeof AdamW>[0]): AdamW {
  const opt = new AdamW(options);
  made.push(opt);
  return opt;
}

function stepWith(opt: AdamW, params: OptimizerParameter[], values: Record<string, number[]>, lr?: number) {
  const grads = new Map<string, tf.Tensor>();
  for (const p of params) grads.set(p.name, tf.tensor(values[p.name]!, p.variable.shape));
  opt.step(params, grads, lr);
  tf.dispose([...grads.values()]);
}

describe('AdamW', () => {
  it('matches a hand-computed scalar example over 3 steps', () => {
    // lr 0.1, wd 0.1, betas (0.9, 0.98), eps 1e-8, p0 = 1, grads 0.5, -0.25, 1.
    // Step 1: p = 1 * (1 - 0.01) = 0.99; m = 0.05, v = 0.005; m̂ = 0.5, v̂ = 0.25;
    //   p = 0.99 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.890000002.
    // Step 2: p = 0.890000002 * 0.99; m = 0.02, v = 0.00615; m̂ = 0.02 / 0.19, v̂ = 0.00615 / 0.0396;
    //   p = 0.8543892313.
    // Step 3: m = 0.118, v = 0.026027; m̂ = 0.118 / 0.271, v̂ = 0.026027 / 0.058808; p = 0.7803939513.
    const p = param('w', [1], []);
    const opt = optimizer({ lr: 0.1, weightDecay: 0.1 });
    const expected = [0.890000002, 0.8543892313024339, 0.7803939513131893];
    [0.5, -0.25, 1].forEach((g, i) => {
      stepWith(opt, [p], { w: [g] });
      expect(p.variable.dataSync()[0]).toBeCloseTo(expected[i]!, 6);
    });
    expect(opt.iterations).toBe(3);
    const state = opt.state();
    expect(state.tensors.get('optimizer.m.w')!.dataSync()[0]).toBeCloseTo(0.118, 6);
    expect(state.tensors.get('optimizer.v.w')!.dataSync()[0]).toBeCloseTo(0.026027, 6);
    tf.dispose([...state.tensors.values()]);
  });

  it('matches tf.train.adam when weight decay is 0', () => {
    const values = [0.3, -1.2, 2.5, 0.01, -0.7, 1.1];
    const ours = param('w', values, [2, 3]);
    const theirs = param('w-ref', values, [2, 3]);
    const opt = optimizer({ lr: 0.01, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0 });
    const reference = tf.train.adam(0.01, 0.9, 0.98, 1e-8);
    made.push(reference);
    for (let s = 0; s < 5; s++) {
      const g = values.map((v, i) => Math.sin(v * (s + 1) + i) * (i + 1));
      stepWith(opt, [ours], { w: g });
      const grad = tf.tensor(g, [2, 3]);
      reference.applyGradients([{ name: theirs.variable.name, tensor: grad }]);
      grad.dispose();
      const a = ours.variable.dataSync();
      const b = theirs.variable.dataSync();
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
    }
  });

  it('does not decay parameters with decay=false', () => {
    const decayed = param('w', [2, -2], [2]);
    const exempt = param('b', [2, -2], [2], false);
    const opt = optimizer({ lr: 0.1, weightDecay: 0.5 });
    // With a zero gradient the Adam term is 0, so only decay can move a parameter.
    stepWith(opt, [decayed, exempt], { w: [0, 0], b: [0, 0] });
    expect([...exempt.variable.dataSync()]).toEqual([2, -2]);
    const w = decayed.variable.dataSync();
    expect(w[0]).toBeCloseTo(2 * 0.95, 6);
    expect(w[1]).toBeCloseTo(-2 * 0.95, 6);
  });

  it('uses the learning rate given to step over the default', () => {
    const a = param('w', [1], []);
    const b = param('w', [1], []);
    const slow = optimizer({ lr: 0.5, weightDecay: 0 });
    const fast = optimizer({ lr: 0.1, weightDecay: 0 });
    stepWith(slow, [a], { w: [1] }, 0.1);
    stepWith(fast, [b], { w: [1] });
    expect(a.variable.dataSync()[0]).toBe(b.variable.dataSync()[0]);
    expect(a.variable.dataSync()[0]).toBeCloseTo(0.9, 6);
  });

  it('skips parameters without a gradient, decay included', () => {
    const w = param('w', [1], []);
    const frozen = param('f', [3], []);
    const opt = optimizer({ lr: 0.1 });
    const grads = { w: tf.scalar(1) };
    opt.step([w, frozen], grads);
    tf.dispose(grads.w);
    expect(frozen.variable.dataSync()[0]).toBe(3);
    expect([...opt.state().tensors.keys()]).toEqual(['optimizer.m.w', 'optimizer.v.w']);
  });

  it('accepts gradients as a plain object', () => {
    const a = param('w', [1, 2], [2]);
    const b = param('w', [1, 2], [2]);
    const first = optimizer({ lr: 0.1 });
    const second = optimizer({ lr: 0.1 });
    const g = tf.tensor([0.5, -1]);
    first.step([a], { w: g });
    second.step([b], new Map([['w', g]]));
    g.dispose();
    expect([...a.variable.dataSync()]).toEqual([...b.variable.dataSync()]);
  });

  it('resumes bit-exactly from saved state', () => {
    const values = [0.5, -0.25, 1.5, 2];
    const original = param('w', values, [4]);
    const bias = param('b', [0.1], [1], false);
    const opt = optimizer({ lr: 0.05 });
    const grad = (s: number) => ({
      w: values.map((v, i) => Math.cos(v + s * 0.7 + i)),
      b: [Math.sin(s)],
    });
    for (let s = 0; s < 3; s++) stepWith(opt, [original, bias], grad(s), 0.05 / (s + 1));

    const copy = param('w', [...original.variable.dataSync()], [4]);
    const copyBias = param('b', [...bias.variable.dataSync()], [1], false);
    const saved = opt.state();
    const resumed = optimizer({ lr: 0.05 });
    resumed.loadState(saved, [copy, copyBias]);
    tf.dispose([...saved.tensors.values()]);
    expect(resumed.iterations).toBe(3);

    for (let s = 3; s < 6; s++) {
      stepWith(opt, [original, bias], grad(s), 0.05 / (s + 1));
      stepWith(resumed, [copy, copyBias], grad(s), 0.05 / (s + 1));
      expect([...copy.variable.dataSync()]).toEqual([...original.variable.dataSync()]);
      expect([...copyBias.variable.dataSync()]).toEqual([...bias.variable.dataSync()]);
    }
  });

  it('keeps state snapshots independent of later steps', () => {
    const w = param('w', [1], []);
    const opt = optimizer({ lr: 0.1 });
    stepWith(opt, [w], { w: [1] });
    const saved = opt.state();
    stepWith(opt, [w], { w: [-3] });
    expect(saved.tensors.get('optimizer.m.w')!.dataSync()[0]).toBeCloseTo(0.1, 6);
    tf.dispose([...saved.tensors.values()]);
  });

  it('names missing, extra and mis-shaped state entries, changing nothing', () => {
    const w = param('w', [1, 2], [2]);
    const b = param('b', [0], [1], false);
    const opt = optimizer({ lr: 0.1 });
    stepWith(opt, [w, b], { w: [1, 1], b: [1] });
    const before = opt.state();

    const bad = new Map<string, tf.Tensor>([
      ['optimizer.m.w', tf.zeros([3])],
      ['optimizer.v.w', tf.zeros([2])],
      ['optimizer.m.ghost', tf.zeros([1])],
      ['optimizer.step', tf.scalar(1)],
    ]);
    const target = optimizer({ lr: 0.1 });
    let message = '';
    try {
      target.loadState({ step: 1, tensors: bad }, [w, b]);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('"optimizer.m.w" is float32 [3], expected float32 [2]');
    expect(message).toContain('extra entry "optimizer.m.ghost"');
    expect(message).toContain('unexpected entry "optimizer.step"');
    expect(message).toContain('missing moments for "b"');
    expect(target.iterations).toBe(0);
    expect(() => target.loadState({ step: 1.5, tensors: new Map() }, [w, b])).toThrow(/step/);

    const onlyM = new Map([['optimizer.m.w', before.tensors.get('optimizer.m.w')!]]);
    expect(() => opt.loadState({ step: 1, tensors: onlyM }, [w])).toThrow(/"w" has only optimizer\.m\.w/);
    expect(opt.iterations).toBe(1);
    tf.dispose([...bad.values(), ...before.tensors.values()]);
  });

  it('rejects gradients that match no parameter or have the wrong shape, before changing anything', () => {
    const w = param('w', [1, 2], [2]);
    const opt = optimizer({ lr: 0.1 });
    const wrongShape = { w: tf.zeros([3]) };
    const stray = { w: tf.zeros([2]), x: tf.zeros([2]) };
    expect(() => opt.step([w], wrongShape)).toThrow('gradient "w" has shape [3] but the parameter has [2]');
    expect(() => opt.step([w], stray)).toThrow('gradient "x" matches no parameter');
    expect(() => opt.step([w, w], { w: stray.w })).toThrow('"w" is listed twice');
    expect([...w.variable.dataSync()]).toEqual([1, 2]);
    expect(opt.iterations).toBe(0);
    tf.dispose([wrongShape.w, stray.w, stray.x]);
  });

  it('validates its options', () => {
    expect(() => new AdamW({ lr: -1 })).toThrow('lr must be a finite number >= 0, got -1');
    expect(() => new AdamW({ beta2: 1 })).toThrow('beta2 must be in [0, 1), got 1');
    expect(() => new AdamW({ weightDecay: Number.NaN })).toThrow(/weightDecay/);
  });

  it('does not leak tensors over 50 steps', () => {
    const params = [param('w', [1, 2, 3, 4], [2, 2]), param('b', [0, 0], [2], false)];
    const opt = optimizer({ lr: 0.01 });
    const grads = { w: [0.1, -0.2, 0.3, -0.4], b: [1, -1] };
    stepWith(opt, params, grads);
    const baseline = tf.memory().numTensors;
    for (let s = 0; s < 50; s++) stepWith(opt, params, grads);
    expect(tf.memory().numTensors).toBe(baseline);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(baseline - 4);
  });
});
