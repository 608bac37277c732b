// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances
// disagreeing about the Tensor class (x.cast() then fails with "opHandler is null").
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { join } from 'node:path';
import {
  type AnyModel,
  createDecoder,
  type GenerationModel,
  generate,
  type IncrementalDecoder,
  idsTensor,
} from '@megabyte/core';
import { loadModel } from '@megabyte/core/node';
import { relativeError } from '@megabyte/core/testing';
import { encodeText } from '@megabyte/patching';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModel, type OnnxExport } from './export.js';
import { OnnxModel } from './onnx-model.js';

const DEFAULT_MODEL = join(import.meta.dirname, '..', '..', 'model-default');

let model: AnyModel;
let exported: OnnxExport;

beforeAll(async () => {
  await tf.setBackend('cpu');
  ortWeb.env.wasm.numThreads = 1;
  model = await loadModel(DEFAULT_MODEL);
  exported = exportModel(model);
});

afterAll(() => model.dispose());

async function collect(source: GenerationModel, prompt: string): Promise<number[]> {
  const bytes: number[] = [];
  for await (const byte of generate(source, { prompt, maxBytes: 48, temperature: 0.7, seed: 11 }))
    bytes.push(byte);
  return bytes;
}

/** The next-byte logits after priming with `prompt` and after each push. */
async function decoderLogits(
  decoder: IncrementalDecoder,
  prompt: number[],
  pushes: number[],
): Promise<Float32Array[]> {
  await decoder.prime([prompt]);
  const out = [decoder.logits()[0]!];
  for (const byte of pushes) {
    await decoder.push([byte]);
    out.push(decoder.logits()[0]!);
  }
  decoder.dispose();
  return out;
}

describe.each([
  ['onnxruntime-node (cpu)', ortNode, 'cpu'],
  ['onnxruntime-web (wasm, in Node)', ortWeb, 'wasm'],
] as const)('the shipped default model on %s', (_, ort, executionProvider) => {
  let onnx: OnnxModel;
  beforeAll(async () => {
    onnx = await OnnxModel.load(ort, exported, { executionProvider });
  });
  afterAll(() => onnx.release());

  it('gives the tfjs logits (relative error under 1e-4)', async () => {
    const text = encodeText('The jury said it did find that the city had been well run by the committee.');
    const ids = Array.from(text);
    const expected = tf.tidy(() => model.forward(idsTensor(ids, 1, ids.length)).dataSync());
    expect(relativeError(await onnx.forward(ids, 1), expected)).toBeLessThan(1e-4);
  });

  it('gives the tfjs decoder logits at every step of cached decoding', async () => {
    const prompt = Array.from(encodeText('The jury said'));
    const pushes = Array.from(encodeText(' it did find that the city'));
    const expected = await decoderLogits(createDecoder(model), prompt, pushes);
    const actual = await decoderLogits(onnx.createDecoder(), prompt, pushes);
    expect(actual).toHaveLength(pushes.length + 1);
    expected.forEach((logits, i) => expect(relativeError(actual[i]!, logits)).toBeLessThan(1e-4));
  });

  it('float16 storage halves the files and changes no logit (the weights are float16 values)', async () => {
    const half = exportModel(model, { weightType: 'float16' });
    expect(half.graphs.scoring!.length).toBeLessThan(0.55 * exported.graphs.scoring!.length);
    const halfOnnx = await OnnxModel.load(
      ort,
      { manifest: half.manifest, graphs: { scoring: half.graphs.scoring! } },
      { executionProvider },
    );
    const ids = Array.from(encodeText('float16 weights, float32 arithmetic'));
    expect(relativeError(await halfOnnx.forward(ids, 1), await onnx.forward(ids, 1))).toBeLessThan(1e-6);
    await halfOnnx.release();
  });

  it('generates the same bytes as tfjs with a fixed seed', async () => {
    const expected = await collect(model, 'The ');
    expect(expected).toHaveLength(48);
    expect(await collect(onnx, 'The ')).toEqual(expected);
  });
});
