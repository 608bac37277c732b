import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkParameters,
  decodeCheckpoint,
  decodeCheckpointWeights,
  encodeCheckpoint,
  parseCheckpointConfig,
} from './checkpoint.js';
import { CheckpointError } from './errors.js';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';
import { encodeSafetensors } from './safetensors.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function thrown(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

async function rejected(promise: Promise<unknown>): Promise<CheckpointError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  return error as CheckpointError;
}

const config = { patchSize: 4, global: { width: 64, layers: 2 }, name: 'tiny' };

describe('encodeCheckpoint', () => {
  it('round-trips float32 parameters exactly and the config as JSON', async () => {
    const parameters = [
      { name: 'global.pad', tensor: tf.randomNormal([2, 3]) },
      { name: 'local.bias', tensor: tf.scalar(-0.25) },
      { name: 'empty', tensor: tf.zeros([0, 4]) },
    ];
    const before = tf.memory().numTensors;
    const { configJson, weights } = await encodeCheckpoint({ config, parameters, metadata: { step: '10' } });
    expect(tf.memory().numTensors).toBe(before);
    expect(configJson.endsWith('\n')).toBe(true);

    const loaded = decodeCheckpoint({ config: parseCheckpointConfig(configJson), weights });
    expect(loaded.config).toEqual(config);
    expect(loaded.metadata).toEqual({ step: '10' });
    expect([...loaded.tensors.keys()].sort()).toEqual(['empty', 'global.pad', 'local.bias']);
    for (const { name, tensor } of parameters) {
      const got = loaded.tensors.get(name)!;
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(tensor.shape);
      expect(got.data).toEqual(tensor.dataSync());
    }
    tf.dispose(parameters.map((p) => p.tensor));
  });

  it('stores float16 at half the size and loads it widened', async () => {
    const tensor = tf.randomUniform([16, 16], -4, 4);
    const f32 = (await encodeCheckpoint({ config, parameters: [{ name: 'w', tensor }] })).weights;
    const f16 = (await encodeCheckpoint({ config, parameters: [{ name: 'w', tensor }], dtype: 'float16' }))
      .weights;
    expect(f32.length - f16.length).toBeGreaterThanOrEqual(16 * 16 * 2 - 8);

    const w = decodeCheckpointWeights(f16).get('w')!;
    expect(w.dtype).toBe('F16');
    expect(w.data).toBeInstanceOf(Float32Array);
    const values = tensor.dataSync<'float32'>();
    expect(w.data).toEqual(float16ToFloat32(float32ToFloat16(values)));
    tensor.dispose();
  });

  it('reports every problem with the parameters and config at once', async () => {
    const disposed = tf.ones([2]);
    disposed.dispose();
    const ok = tf.ones([2]);
    const ints = tf.tensor1d([1, 2], 'int32');
    const error = await rejected(
      encodeCheckpoint({
        config: { lr: Number.NaN },
        parameters: [
          { name: 'a', tensor: ok },
          { name: 'a', tensor: ok },
          { name: '', tensor: ok },
          { name: 'gone', tensor: disposed },
          { name: 'ints', tensor: ints },
        ],
      }),
    );
    expect(error.problems).toEqual([
      'config field "lr" is NaN, which JSON cannot store',
      'parameter a appears more than once',
      'a parameter has an empty name',
      'parameter gone: its tensor has been disposed',
      'parameter ints: dtype is int32, but parameters must be float32',
    ]);
    expect((await rejected(encodeCheckpoint({ config: [1], parameters: [] }))).problems).toEqual([
      'config must be a JSON object, got an array',
    ]);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect((await rejected(encodeCheckpoint({ config: cyclic, parameters: [] }))).problems[0]).toMatch(
      /^config is not JSON-serialisable: /,
    );
    tf.dispose([ok, ints]);
  });
});

describe('decodeCheckpointWeights', () => {
  it('widens BF16 and F64 to float32', () => {
    const weights = encodeSafetensors({
      b: { dtype: 'BF16', shape: [3], data: new Uint16Array([0x3f80, 0xc040, 0x7f80]) },
      d: { dtype: 'F64', shape: [2], data: new Float64Array([0.1, -1e40]) },
    });
    const tensors = decodeCheckpointWeights(weights);
    expect(tensors.get('b')).toEqual({
      dtype: 'BF16',
      shape: [3],
      data: new Float32Array([1, -3, Infinity]),
    });
    expect(tensors.get('d')).toEqual({ dtype: 'F64', shape: [2], data: new Float32Array([0.1, -Infinity]) });
  });

  it('rejects integer tensors, naming each', () => {
    const weights = encodeSafetensors({
      ok: { dtype: 'F32', shape: [], data: new Float32Array(1) },
      step: { dtype: 'I64', shape: [], data: new BigInt64Array(1) },
      ids: { dtype: 'I32', shape: [1], data: new Int32Array(1) },
    });
    const error = thrown(() => decodeCheckpointWeights(weights, 'run/model.safetensors'));
    expect(error.message).toBe(
      'cannot load parameters from run/model.safetensors: 2 problems:\n' +
        '  - tensor step is I64, but parameters must be F32, F16, BF16 or F64\n' +
        '  - tensor ids is I32, but parameters must be F32, F16, BF16 or F64',
    );
  });

  it('names the source in safetensors errors', () => {
    expect(thrown(() => decodeCheckpointWeights(new Uint8Array(3), 'x/model.safetensors')).message).toMatch(
      /^cannot read x\/model.safetensors as safetensors: file is 3 bytes/,
    );
  });
});

describe('parseCheckpointConfig', () => {
  it('says which file is not JSON and why', () => {
    const error = thrown(() => parseCheckpointConfig('{"a": 1,}', 'run/config.json'));
    expect(error.message).toMatch(/^cannot read run\/config.json: not valid JSON: /);
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(thrown(() => parseCheckpointConfig('[1]')).message).toBe(
      'cannot read config.json: must hold a JSON object, got [1]',
    );
  });

  it('accepts a byte-order mark', () => {
    expect(parseCheckpointConfig('\uFEFF{"a":1}')).toEqual({ a: 1 });
  });
});

describe('checkParameters', () => {
  const expected = [
    { name: 'global.layers.0.attn.wq', shape: [64, 64] },
    { name: 'global.layers.0.attn.wk', shape: [64, 64] },
    { name: 'local.head', shape: [32, 256] },
    { name: 'local.pad', shape: [32] },
  ];

  it('accepts matching weights', () => {
    const loaded = new Map(expected.map(({ name, shape }) => [name, { shape }]));
    expect(() => checkParameters(expected, loaded)).not.toThrow();
  });

  it('lists every mismatch, missing and unexpected name in one error', () => {
    const loaded = new Map([
      ['global.layers.0.attn.wq', { shape: [32, 64] }],
      ['global.layers.0.attn.wk', { shape: [64, 64] }],
      ['local.head', { shape: [32] }],
      ['local.extra', { shape: [2, 2] }],
      ['scale', { shape: [] }],
    ]);
    const error = thrown(() => checkParameters(expected, loaded));
    expect(error.problems).toEqual([
      'global.layers.0.attn.wq: expected [64,64], file has [32,64]',
      'local.head: expected [32,256], file has [32]',
      'missing: local.pad (expected [32])',
      'unexpected: local.extra [2,2]',
      'unexpected: scale []',
    ]);
    // expected 64*64*2 + 32*256 + 32; loaded 32*64 + 64*64 + 32 + 4 + 1 (a scalar has one element)
    expect(error.message).toMatch(
      /^checkpoint does not fit the model \(the model needs 16416 parameters in 4 tensors, the file holds 6181 in 5\): 5 problems:\n/,
    );
    expect(error.hint).toMatch(/config.json does not match these weights/);
    expect(error.message.endsWith(error.hint!)).toBe(true);
  });

  it('names the file, and a parameter stored in an integer dtype', () => {
    const loaded = new Map(expected.map(({ name, shape }) => [name, { shape, dtype: 'F16' }]));
    expect(() => checkParameters(expected, loaded, '/runs/a/model.safetensors')).not.toThrow();
    loaded.set('local.pad', { shape: [32], dtype: 'I32' });
    const error = thrown(() => checkParameters(expected, loaded, '/runs/a/model.safetensors'));
    expect(error.message).toMatch(
      /^cannot load \/runs\/a\/model\.safetensors: its tensors do not fit config\.json \(the model needs 16416 parameters in 4 tensors, the file holds 16416 in 4\): tensor local\.pad is I32, but parameters must be F32, F16, BF16 or F64\n/,
    );
  });

  it('says when no name matches at all', () => {
    const error = thrown(() => checkParameters(expected, new Map([['model.embed', { shape: [256, 8] }]])));
    expect(error.problems).toHaveLength(5);
    expect(error.hint).toMatch(/No parameter name matches/);
  });

  it('keeps every problem while shortening a long message', () => {
    const many = Array.from({ length: 30 }, (_, i) => ({ name: `p${i}`, shape: [1] }));
    const error = thrown(() => checkParameters(many, new Map([['p0', { shape: [1] }]])));
    expect(error.problems).toHaveLength(29);
    expect(error.message).toMatch(/\n {2}\.\.\. and 9 more \(see error\.problems\)\n/);
  });
});
