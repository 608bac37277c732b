// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances.
import '@tensorflow/tfjs-core';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OnnxManifest, OnnxModel } from '@megabyte/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { exportCommand } from './export.js';
import { defaultModelDirectory } from './generate.js';

const dir = await mkdtemp(join(tmpdir(), 'megabyte-export-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<unknown> {
  return exportCommand()
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .parseAsync(args, { from: 'user' });
}

describe('megabyte export', () => {
  it('writes the graphs and the manifest of the default model, which load and score', async () => {
    await run(['--model', defaultModelDirectory(), '--out', join(dir, 'tiny.onnx'), '--dtype', 'float16']);
    expect((await readdir(dir)).sort()).toEqual([
      'tiny.global.onnx',
      'tiny.json',
      'tiny.local.onnx',
      'tiny.onnx',
    ]);
    const manifest = JSON.parse(await readFile(join(dir, 'tiny.json'), 'utf8')) as OnnxManifest;
    expect(manifest).toMatchObject({ format: 'megabyte-onnx', opset: 17, weightType: 'float16' });
    expect(manifest.graphs.local!.file).toBe('tiny.local.onnx');
    const model = await OnnxModel.load(ort, {
      manifest,
      graphs: { scoring: await readFile(join(dir, 'tiny.onnx')) },
    });
    const { bitsPerByte } = await model.scoreBytes(
      new TextEncoder().encode('The jury said it did find that'),
    );
    expect(bitsPerByte).toBeLessThan(4);
    await model.release();
  });

  it('asks for a .onnx file name', async () => {
    await expect(run(['--model', defaultModelDirectory(), '--out', join(dir, 'tiny')])).rejects.toThrow(
      /ending in \.onnx/,
    );
  });
});
