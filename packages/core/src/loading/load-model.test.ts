import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyModel,
  createModel,
  encodeModel,
  type LoadProgress,
  loadModel,
  ModelSourceError,
} from '../index.js';
import { loadModel as loadModelNode, saveModel } from '../node/index.js';
import { microMegabyteConfig } from '../testing/index.js';

let model: AnyModel;
let dir: string;
let server: Server;
let base: string;
const requests: string[] = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = createModel(microMegabyteConfig({}), { seed: 3 });
  dir = await mkdtemp(join(tmpdir(), 'load-model-'));
  await saveModel(model, join(dir, 'tiny'));
  await writeFile(join(dir, 'not-a-model.txt'), 'hello');
  // A static file server over `dir`, as a CDN would be.
  server = createServer(async (request, response) => {
    requests.push(request.url!);
    try {
      const { readFile } = await import('node:fs/promises');
      const bytes = await readFile(join(dir, decodeURIComponent(new URL(request.url!, 'http://x').pathname)));
      response.writeHead(200, { 'Content-Length': bytes.length }).end(bytes);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  model.dispose();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

async function sameWeights(loaded: AnyModel): Promise<void> {
  const expected = model.parameters();
  const got = loaded.parameters();
  expect(got.map((p) => p.name)).toEqual(expected.map((p) => p.name));
  for (let i = 0; i < got.length; i++) {
    expect(Array.from(await got[i]!.variable.data())).toEqual(Array.from(await expected[i]!.variable.data()));
  }
  loaded.dispose();
}

describe('loadModel', () => {
  it('loads a checkpoint from its files in memory', async () => {
    const { configJson, weights } = await encodeModel(model);
    await sameWeights(await loadModel({ 'config.json': configJson, 'model.safetensors': weights }));
    await sameWeights(
      await loadModel([
        { name: 'run/best/config.json', bytes: new TextEncoder().encode(configJson) },
        { name: 'run/best/model.safetensors', bytes: weights },
      ]),
    );
  });

  it('fetches a checkpoint by URL (directory or config.json) with progress per file', async () => {
    const progress: LoadProgress[] = [];
    await sameWeights(await loadModel(`${base}/tiny`, { progress: (p) => progress.push(p) }));
    await sameWeights(await loadModel(`${base}/tiny/config.json`));
    const files = [...new Set(progress.map((p) => p.file))].sort();
    expect(files).toEqual([`${base}/tiny/config.json`, `${base}/tiny/model.safetensors`]);
    for (const file of files) {
      const last = progress.filter((p) => p.file === file).at(-1)!;
      expect(last.loaded).toBe(last.total);
    }
  });

  it("carries the URL's query (a version) to every file of the model", async () => {
    requests.length = 0;
    await sameWeights(await loadModel(`${base}/tiny/config.json?v=abc`));
    expect(requests.sort()).toEqual(['/tiny/config.json?v=abc', '/tiny/model.safetensors?v=abc']);
  });

  it('names the missing files of a URL that holds no checkpoint', async () => {
    await expect(loadModel(`${base}/nothing/`)).rejects.toThrow(
      /config\.json is missing.*model\.safetensors is missing/s,
    );
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled by the user'));
    await expect(loadModel(`${base}/tiny`, { signal: controller.signal })).rejects.toThrow(
      'cancelled by the user',
    );
  });

  it('refuses an ONNX export with the loader to use instead', async () => {
    const manifest = JSON.stringify({
      format: 'megabyte-onnx',
      config: {},
      graphs: { scoring: { file: 'm.onnx' } },
    });
    await expect(loadModel({ 'm.json': manifest, 'm.onnx': new Uint8Array([1]) })).rejects.toThrow(
      ModelSourceError,
    );
    await expect(loadModel({ 'm.json': manifest, 'm.onnx': new Uint8Array([1]) })).rejects.toThrow(
      /ONNX export: load it with loadModel from @megabyte\/onnx/,
    );
  });

  it('names an unregistered backend and the package to import', async () => {
    const { configJson, weights } = await encodeModel(model);
    await expect(
      loadModel({ 'config.json': configJson, 'model.safetensors': weights }, { backend: 'webgl' }),
    ).rejects.toThrow(
      /backend "webgl" is not registered \(registered: .*cpu.*\): import @tensorflow\/tfjs-backend-webgl/,
    );
  });
});

describe('loadModel of @megabyte/core/node', () => {
  it('loads a directory, a file in it, and a file: URL', async () => {
    await sameWeights(await loadModelNode(join(dir, 'tiny')));
    await sameWeights(await loadModelNode(join(dir, 'tiny', 'model.safetensors')));
    await sameWeights(await loadModelNode(new URL(`file://${join(dir, 'tiny')}/`)));
  });

  it('names the checkpoints of a training run directory', async () => {
    const { mkdir } = await import('node:fs/promises');
    const run = join(dir, 'run');
    await mkdir(join(run, 'best'), { recursive: true });
    await writeFile(join(run, 'run.json'), '{}');
    await writeFile(join(run, 'summary.json'), '{}');
    await expect(loadModelNode(run)).rejects.toThrow(
      /is a training run directory: give one of its checkpoints, .*\/best/,
    );
  });

  it('keeps the message of a missing directory', async () => {
    await expect(loadModelNode(join(dir, 'absent'))).rejects.toThrow(/the directory does not exist/);
  });

  it('downloads an http URL once into the cache directory, then reads it from there', async () => {
    const cache = join(dir, 'cache');
    requests.length = 0;
    await sameWeights(await loadModelNode(`${base}/tiny/`, { cache }));
    expect(requests).toHaveLength(2);
    await sameWeights(await loadModelNode(`${base}/tiny/`, { cache }));
    expect(requests).toHaveLength(2);
    const host = (await readdir(cache))[0]!;
    expect((await readdir(join(cache, host, 'tiny'))).sort()).toEqual(['config.json', 'model.safetensors']);
  });
});
