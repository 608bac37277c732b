// tfjs-core first (see onnx-model.test.ts): the model to export is built on tfjs.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, encodeModel } from '@megabyte/core';
import { microMegabyteConfig } from '@megabyte/core/testing';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModel, graphFileName } from './export.js';
import { type LoadProgress, loadModel } from './index.js';
import { loadModel as loadModelNode } from './node/index.js';
import { OnnxModel } from './onnx-model.js';

let dir: string;
let exported: ReturnType<typeof exportModel>;
const text = new TextEncoder().encode('The jury said the bytes were scored.');

beforeAll(async () => {
  await tf.setBackend('cpu');
  const model = createModel(microMegabyteConfig({}), { seed: 2 });
  exported = exportModel(model, { base: 'tiny' });
  dir = await mkdtemp(join(tmpdir(), 'onnx-load-'));
  await writeFile(join(dir, 'tiny.json'), JSON.stringify(exported.manifest));
  for (const [role, bytes] of Object.entries(exported.graphs)) {
    await writeFile(join(dir, graphFileName('tiny', role as 'scoring')), bytes);
  }
  const { configJson, weights } = await encodeModel(model);
  await writeFile(join(dir, 'config.json'), configJson);
  await writeFile(join(dir, 'model.safetensors'), weights);
  model.dispose();
});

afterAll(() => rm(dir, { recursive: true, force: true }));

async function expectSameScores(model: OnnxModel): Promise<void> {
  const direct = await OnnxModel.load(ort, exported, { executionProvider: 'cpu' });
  expect((await model.scoreBytes(text)).surprisal).toEqual((await direct.scoreBytes(text)).surprisal);
  await Promise.all([model.release(), direct.release()]);
}

describe('loadModel of @megabyte/onnx', () => {
  it('loads an export from a manifest path, a graph path, and memory, reading every graph it lists', async () => {
    const progress: LoadProgress[] = [];
    await expectSameScores(
      await loadModelNode(join(dir, 'tiny.json'), { onnxruntime: ort, progress: (p) => progress.push(p) }),
    );
    expect(new Set(progress.map((p) => p.file.slice(dir.length + 1)))).toEqual(
      new Set(['tiny.json', 'tiny.onnx', 'tiny.global.onnx', 'tiny.local.onnx']),
    );
    await expectSameScores(await loadModelNode(join(dir, 'tiny.global.onnx'), { onnxruntime: ort }));
    const files = {
      'tiny.json': JSON.stringify(exported.manifest),
      ...Object.fromEntries(
        Object.entries(exported.graphs).map(([role, b]) => [graphFileName('tiny', role as 'scoring'), b]),
      ),
    };
    await expectSameScores(await loadModel(files, { onnxruntime: ort, graphs: ['scoring'] }));
  });

  it('from files in memory, loads the graphs that are there (a scoring-only drop scores)', async () => {
    const model = await loadModel(
      { 'tiny.json': JSON.stringify(exported.manifest), 'tiny.onnx': exported.graphs.scoring! },
      { onnxruntime: ort },
    );
    expect((await model.scoreBytes(text)).surprisal).toHaveLength(text.length);
    expect(() => model.createDecoder()).toThrow(/"global" graph .* was not loaded/);
    await model.release();
    await expect(
      loadModel({ 'tiny.json': JSON.stringify(exported.manifest) }, { onnxruntime: ort }),
    ).rejects.toThrow(
      /none of the graphs tiny\.json lists \(tiny\.onnx, tiny\.global\.onnx, tiny\.local\.onnx\) is there/,
    );
  });

  it('names what to do with a checkpoint, and with a missing runtime', async () => {
    await expect(loadModelNode(join(dir, 'config.json'), { onnxruntime: ort })).rejects.toThrow(
      /is a tfjs checkpoint, not an ONNX export: export it with `megabyte export/,
    );
    await expect(loadModelNode(join(dir, 'tiny.json'), {} as never)).rejects.toThrow(
      /options\.onnxruntime must be the ONNX Runtime module/,
    );
  });

  it('scores a text longer than the context in sliding windows instead of refusing it', async () => {
    const model = await loadModelNode(join(dir, 'tiny.json'), { onnxruntime: ort, graphs: ['scoring'] });
    const long = new Uint8Array(5 * model.config.contextLength).map((_, i) => 97 + (i % 26));
    const { surprisal, bitsPerByte } = await model.scoreBytes(long);
    expect(surprisal).toHaveLength(long.length);
    expect(Number.isFinite(bitsPerByte)).toBe(true);
    await model.release();
  });
});
