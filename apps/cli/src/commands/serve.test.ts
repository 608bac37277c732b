// tfjs-core first, fenced off by the side-effect import (see test/backends.test.ts).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '@megabyte/core/node';
import { exportModel, OnnxModel } from '@megabyte/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultModelDirectory } from './generate.js';
import { readExport } from './serve.js';

const dir = await mkdtemp(join(tmpdir(), 'megabyte-serve-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('megabyte serve --onnx', () => {
  it('reads an export from the manifest and the graphs beside it, and names a missing graph', async () => {
    await tf.setBackend('cpu');
    const model = await loadModel(defaultModelDirectory());
    const exported = exportModel(model, { base: 'tiny' });
    model.dispose();
    await writeFile(join(dir, 'tiny.json'), JSON.stringify(exported.manifest));
    for (const [role, bytes] of Object.entries(exported.graphs)) {
      if (role !== 'local')
        await writeFile(join(dir, exported.manifest.graphs[role as 'scoring']!.file), bytes);
    }
    await expect(readExport(join(dir, 'tiny.json'))).rejects.toThrow(
      /the local graph .*tiny\.local\.onnx cannot be read .*export the model again/,
    );
    await writeFile(join(dir, 'tiny.local.onnx'), exported.graphs.local!);
    const onnx = await OnnxModel.load(ort, await readExport(join(dir, 'tiny.json')));
    expect((await onnx.scoreBytes(new TextEncoder().encode('The jury said'))).bitsPerByte).toBeLessThan(5);
    await onnx.release();
    await expect(readExport(join(dir, 'missing.json'))).rejects.toThrow(
      /--onnx .*missing\.json: cannot read the manifest/,
    );
  });
});
