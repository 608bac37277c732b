import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, RuntimeUnavailableError, tfjsNodeCandidate } from './index.js';

const require = createRequire(import.meta.url);

function isInstalled(name: string): boolean {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}
const hasTfjsNode = isInstalled('@tensorflow/tfjs-node');
const hasTfjsNodeGpu = isInstalled('@tensorflow/tfjs-node-gpu');

async function rejection(promise: Promise<unknown>): Promise<RuntimeUnavailableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RuntimeUnavailableError);
  return error as RuntimeUnavailableError;
}

describe.skipIf(hasTfjsNode)('tensorflow without @tensorflow/tfjs-node', () => {
  it('says what to install, what the install needs, and what works without it', async () => {
    const error = await rejection(createRuntime({ backend: 'tensorflow' }));
    expect(error.backend).toBe('tensorflow');
    expect(error.message).toContain('`pnpm add @tensorflow/tfjs-node`');
    expect(error.message).toContain('downloads the libtensorflow library');
    expect(error.message).toContain('network access to storage.googleapis.com at install time');
    expect(error.message).toContain('`--backend wasm` or `--backend cpu` work without it');
  });
});

describe.skipIf(hasTfjsNodeGpu)('tensorflow-gpu without @tensorflow/tfjs-node-gpu', () => {
  it('says what to install, and that the GPU needs CUDA 11.2 / cuDNN 8.1', async () => {
    const error = await rejection(createRuntime({ backend: 'tensorflow-gpu' }));
    expect(error.backend).toBe('tensorflow-gpu');
    expect(error.message).toContain('`pnpm add @tensorflow/tfjs-node-gpu`');
    expect(error.message).toContain('storage.googleapis.com');
    expect(error.message).toContain('CUDA 11.2 and cuDNN 8.1 libraries on the library path');
    expect(error.message).toContain('`--backend wasm` or `--backend cpu` work without it');
  });
});

describe.skipIf(!hasTfjsNode)(
  'tensorflow backend (needs @tensorflow/tfjs-node; skipped when tfjs-node is not installed here: its install downloads libtensorflow)',
  () => {
    it('runs a matmul on TensorFlow through the tfjs-node module', async () => {
      const runtime = await createRuntime({ backend: 'tensorflow' });
      expect(runtime.backend).toBe('tensorflow');
      expect(runtime.tf.getBackend()).toBe('tensorflow');
      const product = runtime.tf.matMul(runtime.tf.tensor2d([[1, 2]]), runtime.tf.tensor2d([[3], [4]]));
      expect(await product.array()).toEqual([[11]]);
    });
  },
);

describe.skipIf(!hasTfjsNodeGpu)(
  'tensorflow-gpu backend (needs @tensorflow/tfjs-node-gpu; skipped when tfjs-node-gpu is not installed here: its install downloads libtensorflow)',
  () => {
    it('runs a matmul through the tfjs-node-gpu module and says whether it found a GPU', async () => {
      const runtime = await createRuntime({ backend: 'tensorflow-gpu' });
      expect(runtime.backend).toBe('tensorflow');
      expect(runtime.description).toMatch(/TensorFlow on the GPU|found no GPU/);
      const product = runtime.tf.matMul(runtime.tf.tensor2d([[1, 2]]), runtime.tf.tensor2d([[3], [4]]));
      expect(await product.array()).toEqual([[11]]);
    });
  },
);

/**
 * Stand-ins for tfjs-node installed next to a temporary file, so the paths that need the real
 * package (a missing addon, a failed load, a loaded module whose `tf` the Runtime must use) run
 * here. The loadable one registers the cpu kernels under the name `tensorflow`, as tfjs-node
 * registers its own.
 */
describe('with a stand-in tfjs-node package', () => {
  const root = mkdtempSync(join(tmpdir(), 'runtime-node-'));
  const resolveFrom = join(root, 'app.js');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function fakePackage(name: string, index: string, { addon }: { addon: boolean }): void {
    const dir = join(root, 'node_modules', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '9.9.9', main: 'index.cjs' }));
    writeFileSync(join(dir, 'index.cjs'), index);
    if (addon) {
      mkdirSync(join(dir, 'lib', 'napi-v8'), { recursive: true });
      writeFileSync(join(dir, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
    }
  }

  it('reports an install without its native addon, and how to fetch it', async () => {
    fakePackage('@tensorflow/tfjs-node', 'throw new Error("must not be imported");', { addon: false });
    const candidate = tfjsNodeCandidate({ gpu: false, resolveFrom });
    expect(await candidate.probe()).toEqual({
      available: false,
      reason: '@tensorflow/tfjs-node 9.9.9 is installed without its native addon',
    });
    const error = await rejection(createRuntime({ backend: 'tensorflow', candidates: [candidate] }));
    expect(error.message).toContain('native addon (lib/napi-v*/tfjs_binding.node) is missing');
    expect(error.message).toContain('`pnpm rebuild @tensorflow/tfjs-node`');
  });

  it('reports a package that fails to load, with the cause', async () => {
    fakePackage(
      '@tensorflow/tfjs-node',
      'throw new Error("libtensorflow.so.2: cannot open shared object");',
      {
        addon: true,
      },
    );
    const candidate = tfjsNodeCandidate({ gpu: false, resolveFrom });
    expect((await candidate.probe()).available).toBe(true);
    const error = await rejection(createRuntime({ backend: 'tensorflow', candidates: [candidate] }));
    expect(error.message).toContain('@tensorflow/tfjs-node 9.9.9 is installed but failed to load');
    expect(error.message).toContain('libtensorflow.so.2: cannot open shared object');
  });

  it("returns the package's own tfjs module as the Runtime's tf", async () => {
    const core = require.resolve('@tensorflow/tfjs-core');
    const cpu = require.resolve('@tensorflow/tfjs-backend-cpu');
    fakePackage(
      '@tensorflow/tfjs-node-gpu',
      `
      const tf = require(${JSON.stringify(core)});
      const { MathBackendCPU } = require(${JSON.stringify(cpu)});
      for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: 'tensorflow' });
      tf.registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), { isUsingGpuDevice: false }), 3);
      tf.setBackend('tensorflow');
      module.exports = { ...tf, standIn: true };
      `,
      { addon: true },
    );
    const lines: string[] = [];
    const runtime = await createRuntime({
      candidates: [tfjsNodeCandidate({ gpu: true, resolveFrom })],
      log: (line) => lines.push(line),
    });
    expect(Reflect.get(runtime.tf, 'standIn')).toBe(true);
    expect(runtime.name).toBe('tensorflow-gpu');
    expect(runtime.backend).toBe('tensorflow');
    expect(runtime.tf.getBackend()).toBe('tensorflow');
    expect(runtime.description).toMatch(
      /^tensorflow-gpu \(tfjs backend 'tensorflow'\): @tensorflow\/tfjs-node-gpu 9\.9\.9, TensorFlow found no GPU/,
    );
    expect(lines[0]).toContain(
      'tensorflow-gpu: no GPU device found; it runs on the GPU only with the CUDA 11.2',
    );
    const product = runtime.tf.matMul(runtime.tf.tensor2d([[1, 2]]), runtime.tf.tensor2d([[3], [4]]));
    expect(await product.array()).toEqual([[11]]);
    product.dispose();
  });
});
