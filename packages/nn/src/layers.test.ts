import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import './register-gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  linear,
  linearParameters,
  norm,
  normParameters,
  type StackSpec,
  stack,
  stackParameters,
} from './definition.js';
import {
  causalMask,
  createParameters,
  KVCache,
  lookup,
  lookupWithDenseGradient,
  type NamedParameter,
  ParameterStore,
  TfjsOps,
} from './index.js';
import { checkGradients } from './testing/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tinyStack: StackSpec = {
  prefix: '',
  dim: 8,
  layers: 2,
  heads: 2,
  activation: 'gelu',
  norm: 'layernorm',
  bias: true,
};

/** The tfjs executor over a list of parameters. */
function opsOver(params: readonly NamedParameter[]): TfjsOps {
  const byName = new Map(params.map((p) => [p.name, p.variable]));
  return new TfjsOps((name) => byName.get(name)!);
}

/** A two-layer transformer stack's parameters, and the stack's definition run on them by tfjs. */
function tinyTransformer(seed: number) {
  const params = createParameters(stackParameters(tinyStack, 2, 0.3), seed);
  const ops = opsOver(params);
  return {
    params,
    apply: (x: tf.Tensor3D, caches?: readonly KVCache[]) =>
      tf.tidy(() => stack(ops, tinyStack, x, { caches }) as tf.Tensor3D),
    createCaches: () => Array.from({ length: tinyStack.layers }, () => new KVCache()),
  };
}

describe('parameters', () => {
  it('names parameters hierarchically and seeds them by name, not by creation order', () => {
    const a = ParameterStore.create(7);
    const x = a.scope('block').add('w', [3], { kind: 'normal', std: 1 }, { decay: true });
    const b = ParameterStore.create(7);
    b.add('other', [5], { kind: 'zeros' }, { decay: false });
    const y = b.scope('block').add('w', [3], { kind: 'normal', std: 1 }, { decay: true });
    expect(a.parameters().map((p) => p.name)).toEqual(['block.w']);
    expect(x.arraySync()).toEqual(y.arraySync());
    expect(() => a.scope('block').add('w', [3], { kind: 'zeros' }, { decay: true })).toThrow(
      /block\.w is defined twice/,
    );
    tf.dispose([...a.parameters(), ...b.parameters()].map((p) => p.variable));
  });

  it('truncates the normal initialisation at two standard deviations', () => {
    const store = ParameterStore.create(1);
    const w = store.add('w', [10000], { kind: 'normal', std: 0.02 }, { decay: true });
    const values = w.dataSync();
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(0.04 + 1e-7);
    w.dispose();
  });
});

describe('linear and norms', () => {
  it('computes x W + b and normalises by hand-checked values', () => {
    const params = createParameters(
      [
        ...linearParameters('lin', { from: 2, to: 2, bias: true }, 1, 'transformer'),
        ...normParameters('layernorm', 'ln', 2),
        ...normParameters('rmsnorm', 'rms', 2),
      ],
      0,
    );
    const [weight, bias] = params.map((p) => p.variable);
    weight!.assign(
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
    );
    bias!.assign(tf.tensor1d([0.5, -0.5]));
    const ops = opsOver(params);
    expect((linear(ops, 'lin', tf.tensor3d([[[1, 1]]]), true) as tf.Tensor3D).arraySync()).toEqual([
      [[4.5, 5.5]],
    ]);

    const normalised = norm(ops, 'layernorm', 'ln', tf.tensor2d([[1, 3]])).dataSync();
    // mean 2, variance 1: (x - 2) / sqrt(1 + 1e-5)
    expect(normalised[0]).toBeCloseTo(-1 / Math.sqrt(1 + 1e-5), 6);
    expect(norm(ops, 'rmsnorm', 'rms', tf.tensor2d([[3, 4]])).dataSync()[1]).toBeCloseTo(
      4 / Math.sqrt(12.5 + 1e-5),
      6,
    );
    tf.dispose(params.map((p) => p.variable));
  });
});

describe('causal attention', () => {
  it('masks keys after each query, offset by the cached length', () => {
    expect(causalMask(2, 1).arraySync()).toEqual([
      [0, 0, -1e9],
      [0, 0, 0],
    ]);
  });

  it('never lets position t see positions after t', () => {
    const model = tinyTransformer(3);
    const x = tf.randomNormal([2, 6, 8], 0, 1, 'float32', 5) as tf.Tensor3D;
    const base = model.apply(x).arraySync();
    for (const t of [0, 3, 5]) {
      const changed = tf.tidy(() => {
        // a random direction: a constant shift would be removed by the first LayerNorm
        const atT = tf.reshape(tf.oneHot([t], 6), [1, 6, 1]);
        const perturbation = tf.mul(atT, tf.randomNormal([1, 1, 8], 0, 3, 'float32', t));
        return model.apply(tf.add(x, perturbation) as tf.Tensor3D).arraySync();
      });
      for (let b = 0; b < 2; b++) {
        for (let s = 0; s < 6; s++) {
          const same = changed[b]![s]!.every((v, d) => Math.abs(v - base[b]![s]![d]!) < 1e-6);
          expect(same, `batch ${b}, position ${s}, change at ${t}`).toBe(s < t);
        }
      }
    }
    tf.dispose([x, ...model.params.map((p) => p.variable)]);
  });

  it('gives the same outputs one position at a time with a KV cache as in one pass', () => {
    const model = tinyTransformer(4);
    const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 6) as tf.Tensor3D;
    const full = model.apply(x).arraySync();
    const caches = model.createCaches();
    // a chunk of two, then single steps: chunks of any size must agree
    const pieces: number[][][][] = [];
    for (const [start, size] of [
      [0, 2],
      [2, 1],
      [3, 1],
      [4, 1],
    ] as const) {
      pieces.push(tf.tidy(() => model.apply(tf.slice(x, [0, start, 0], [2, size, 8]), caches).arraySync()));
    }
    const incremental = [0, 1].map((b) => pieces.flatMap((piece) => piece[b]!));
    incremental.forEach((row, b) =>
      row.forEach((vec, t) => vec.forEach((v, d) => expect(v).toBeCloseTo(full[b]![t]![d]!, 5))),
    );
    expect(caches[0]!.length).toBe(5);
    caches.forEach((c) => c.dispose());
    tf.dispose([x, ...model.params.map((p) => p.variable)]);
  });

  it('leaks no tensors through forward, backward and cached decoding', () => {
    const model = tinyTransformer(5);
    const x = tf.randomNormal([1, 4, 8]) as tf.Tensor3D;
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(model.apply(x)) as tf.Scalar);
      value.dispose();
      tf.dispose(Object.values(grads));
      const caches: KVCache[] = model.createCaches();
      tf.tidy(() => {
        model.apply(tf.slice(x, [0, 0, 0], [1, 1, 8]), caches);
      });
      caches.forEach((c) => c.dispose());
    };
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...model.params.map((p) => p.variable)]);
  });

  it('has gradients that match finite differences', () => {
    const model = tinyTransformer(6);
    const x = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 9) as tf.Tensor3D;
    const target = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 10);
    const loss = () => tf.mean(tf.square(tf.sub(model.apply(x), target))) as tf.Scalar;
    const result = checkGradients(loss, model.params, { probesPerVariable: 2, epsilon: 1e-2 });
    expect(result.maxRelativeError).toBeLessThan(2e-2);
    tf.dispose([x, target, ...model.params.map((p) => p.variable)]);
  });
});

describe('embedding lookup', () => {
  it('gives the same rows and table gradient with the dense-gradient path as with gather', () => {
    const table = tf.variable(tf.randomNormal([5, 3], 0, 1, 'float32', 2)) as tf.Variable<tf.Rank.R2>;
    const ids = tf.tensor1d([0, 3, 3, 4], 'int32');
    const weights = tf.randomNormal([4, 3], 0, 1, 'float32', 3);
    const gradOf = (f: typeof lookup) => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(f(table, ids), weights)) as tf.Scalar, [table]);
      return grads[table.name]!.arraySync();
    };
    expect(lookupWithDenseGradient(table, ids).arraySync()).toEqual(lookup(table, ids).arraySync());
    const dense = gradOf(lookupWithDenseGradient) as number[][];
    const sparse = gradOf(lookup) as number[][];
    dense.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(sparse[i]![j]!, 6)));
    // ids made inside the forward pass are freed before the backward pass runs
    const { grads } = tf.variableGrads(
      () =>
        tf.tidy(
          () =>
            tf.sum(
              tf.mul(lookupWithDenseGradient(table, tf.reshape(tf.reshape(ids, [2, 2]), [4])), weights),
            ) as tf.Scalar,
        ),
      [table],
    );
    (grads[table.name]!.arraySync() as number[][]).forEach((row, i) =>
      row.forEach((v, j) => expect(v).toBeCloseTo(sparse[i]![j]!, 6)),
    );
    tf.dispose([table, ids, weights]);
  });
});
