// tfjs-core first (see onnx-model.test.ts: one tfjs-core module instance under vitest).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@megabyte/nn/gradients';
import { createModel, idsTensor } from '@megabyte/core';
import { graphOptionConfigs, relativeError, sampleIds } from '@megabyte/core/testing';
import { PAD_ID } from '@megabyte/patching';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { differentiate, findTanhGelus, NodeWriter } from './gradients.js';
import { inferShapes } from './shapes.js';
import { encodeGraph, gradientGraph, natsGraph, TRAINING_NAMES } from './training-graphs.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const CONFIGS = graphOptionConfigs(0.2);

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  return max;
}

describe('gradient graph', () => {
  for (const [label, config] of Object.entries(CONFIGS)) {
    it(`${label}: loss and every parameter's gradient equal tfjs's`, async () => {
      const model = createModel(config, { seed: 3 });
      const [batch, length] = [2, config.contextLength];
      const ids = sampleIds(batch, length, 7);
      ids[length - 1] = PAD_ID; // padding is masked out of the loss in both
      const parameters = model.parameters();
      const graph = gradientGraph(
        config,
        parameters.map((p) => ({ name: p.name, shape: p.variable.shape, decay: p.decay })),
        { batch, length },
      );
      const session = await ort.InferenceSession.create(encodeGraph(graph));
      const feeds: Record<string, ort.Tensor> = {
        bytes: new ort.Tensor('int32', Int32Array.from(ids), [batch, length]),
      };
      for (const p of parameters)
        feeds[p.name] = new ort.Tensor('float32', p.variable.dataSync() as Float32Array, p.variable.shape);
      const out = await session.run(feeds);

      const input = idsTensor(ids, batch, length);
      const { value, grads } = tf.variableGrads(
        () => model.loss(input),
        parameters.map((p) => p.variable),
      );
      expect(relativeError(out.loss!.data as Float32Array, value.dataSync())).toBeLessThan(1e-5);
      const expected = new Map(parameters.map((p) => [p.name, grads[p.variable.name]!.dataSync()]));
      const scale = Math.max(...[...expected.values()].map(maxAbs));
      for (const p of parameters) {
        const actual = out[TRAINING_NAMES.grad(p.name)]!.data as Float32Array;
        const reference = expected.get(p.name)!;
        if (maxAbs(reference) > 1e-4 * scale) {
          expect(relativeError(actual, reference), p.name).toBeLessThan(1e-4);
        } else {
          // Exactly zero in exact arithmetic (the attention's key bias: softmax ignores a shift that
          // is the same for every key), so both sides are rounding noise: compare to the model's scale.
          expect(maxAbs(actual.map((x, i) => x - reference[i]!)) / scale, p.name).toBeLessThan(1e-6);
          expect(p.name).toMatch(/attn\.wk\.bias$/);
        }
      }
      tf.dispose([input, value, ...Object.values(grads)]);
      model.dispose();
    });
  }
});

describe('differentiation', () => {
  it('takes every GELU of the model graphs as one composite (the gradient tests above check its rule)', () => {
    const config = CONFIGS['conv encoder']!;
    const model = createModel(config, { seed: 1 });
    const parameters = model
      .parameters()
      .map((p) => ({ name: p.name, shape: p.variable.shape, decay: p.decay }));
    const graph = natsGraph(config, parameters, { batch: 1, length: config.contextLength });
    const tanhs = graph.nodes.filter((n) => n.opType === 'Tanh').length;
    const infos = inferShapes(graph, { bytes: [1, config.contextLength] });
    expect(tanhs).toBeGreaterThan(2); // the MLPs and the conv encoder
    expect(findTanhGelus(graph.nodes, new NodeWriter(infos, 'x/')).size).toBe(tanhs);
    model.dispose();
  });

  it('gives the gradient of Max to the larger operand', async () => {
    const nodes = [
      { name: 'm', opType: 'Max', inputs: ['x', 'half'], outputs: ['y'] },
      {
        name: 's',
        opType: 'ReduceSum',
        inputs: ['y'],
        outputs: ['loss'],
        attributes: { keepdims: { int: 0 } },
      },
    ];
    const half = { name: 'half', type: 'float32' as const, dims: [], data: Float32Array.of(0.5) };
    const graph = {
      name: 'max',
      nodes,
      initializers: [half],
      inputs: [{ name: 'x', type: 'float32' as const, shape: [3] }],
      outputs: [],
    };
    const writer = new NodeWriter(inferShapes(graph, {}), 'grad/');
    const dx = differentiate(nodes, writer, 'loss', ['x']).get('x')!;
    const session = await ort.InferenceSession.create(
      encodeGraph({
        ...graph,
        nodes: [
          ...nodes,
          ...writer.nodes,
          { name: 'out', opType: 'Identity', inputs: [dx], outputs: ['dx'] },
        ],
        initializers: [half, ...writer.initializers],
        outputs: [{ name: 'dx', type: 'float32', shape: [3] }],
      }),
    );
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(0.2, 0.7, 0.5), [3]) });
    expect(Array.from(out.dx!.data as Float32Array)).toEqual([0, 1, 1]);
  });

  it('names an operator without a gradient rule and where to add one', () => {
    const graph = {
      name: 'erf',
      nodes: [
        { name: 'e', opType: 'Erf', inputs: ['x'], outputs: ['y'] },
        {
          name: 's',
          opType: 'ReduceSum',
          inputs: ['y'],
          outputs: ['loss'],
          attributes: { keepdims: { int: 0 } },
        },
      ],
      initializers: [],
      inputs: [{ name: 'x', type: 'float32' as const, shape: [2] }],
      outputs: [],
    };
    expect(() => inferShapes(graph, {})).toThrow(/Erf.*no shape rule.*shapes\.ts/);
    const infos = new Map([
      ['x', { type: 'float32' as const, shape: [2] }],
      ['y', { type: 'float32' as const, shape: [2] }],
      ['loss', { type: 'float32' as const, shape: [] }],
    ]);
    const writer = new NodeWriter(infos, 'grad/');
    expect(() => differentiate(graph.nodes, writer, 'loss', ['x'])).toThrow(
      /Erf.*no gradient rule.*gradients\.ts/,
    );
  });
});
