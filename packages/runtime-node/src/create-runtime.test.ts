import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  type BackendCandidate,
  cpuCandidate,
  createRuntime,
  listBackends,
  type NodeRuntime,
  RuntimeUnavailableError,
  UnknownBackendError,
} from './index.js';

function isInstalled(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}
const hasTfjsNode = isInstalled('@tensorflow/tfjs-node') || isInstalled('@tensorflow/tfjs-node-gpu');

async function matMul(runtime: NodeRuntime, a: number[][], b: number[][]): Promise<number[][]> {
  const { tf } = runtime;
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(a), tf.tensor2d(b)));
  const result = (await product.array()) as number[][];
  product.dispose();
  return result;
}

/** Deterministic values in [-1, 1) (a 32-bit LCG), so a failure reproduces. */
function randomMatrix(rows: number, cols: number, seed: number): number[][] {
  let state = seed >>> 0;
  return Array.from({ length: rows }, () =>
    Array.from({ length: cols }, () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 31 - 1;
    }),
  );
}

describe.each(['cpu', 'wasm'] as const)('the %s runtime', (backend) => {
  it('is active and computes a matmul equal to the hand result', async () => {
    const runtime = await createRuntime({ backend });
    expect(runtime.backend).toBe(backend);
    expect(runtime.name).toBe(backend);
    expect(runtime.tf.getBackend()).toBe(backend);
    expect(runtime.version).toBe('4.22.0');
    expect(runtime.description).toMatch(
      new RegExp(`^${backend}: @tensorflow/tfjs-backend-${backend} 4\\.22\\.0`),
    );
    expect(runtime.description).toContain('asked for by name');

    const before = runtime.tf.memory().numTensors;
    expect(
      await matMul(
        runtime,
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 8],
        ],
      ),
    ).toEqual([
      [19, 22],
      [43, 50],
    ]);
    expect(await matMul(runtime, [[1, 2, 3]], [[1], [0], [-1]])).toEqual([[-2]]);
    expect(runtime.tf.memory().numTensors).toBe(before);
  });
});

describe('the wasm runtime', () => {
  it('matches cpu on a random 64x64 matmul to 1e-5 relative', async () => {
    const a = randomMatrix(64, 64, 1);
    const b = randomMatrix(64, 64, 2);
    const onCpu = (await matMul(await createRuntime({ backend: 'cpu' }), a, b)).flat();
    const onWasm = (await matMul(await createRuntime({ backend: 'wasm' }), a, b)).flat();
    const scale = Math.max(...onCpu.map(Math.abs));
    const worst = Math.max(...onCpu.map((x, i) => Math.abs(x - (onWasm[i] ?? Number.NaN))));
    expect(scale).toBeGreaterThan(1);
    expect(worst / scale).toBeLessThan(1e-5);
  });

  it('reports SIMD and the thread count it really runs with', async () => {
    const lines: string[] = [];
    const runtime = await createRuntime({ backend: 'wasm', threads: 4, log: (line) => lines.push(line) });
    // Node 20 validates wasm SIMD; tfjs-backend-wasm 4.22.0 never runs threaded in Node.
    expect(runtime.wasm).toEqual({ simd: true, threads: 1 });
    expect(runtime.description).toContain('SIMD on, 1 thread (tfjs-backend-wasm is single-threaded in Node)');
    expect(lines.join('\n')).toContain('wasm: asked for 4 threads, running 1');
  });
});

describe('createRuntime', () => {
  it('rejects an unknown backend, listing the accepted names', async () => {
    const error = await createRuntime({ backend: 'webgl' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownBackendError);
    expect((error as Error).message).toBe(
      "Unknown backend 'webgl': expected one of 'auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'.",
    );
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects threads = %s', async (threads) => {
    await expect(createRuntime({ backend: 'wasm', threads })).rejects.toThrow(
      /threads must be a positive integer/,
    );
  });

  it('tells through log that threads means nothing to cpu', async () => {
    const lines: string[] = [];
    await createRuntime({ backend: 'cpu', threads: 2, log: (line) => lines.push(line) });
    expect(lines).toContain('cpu: threads=2 ignored: only the wasm backend takes a thread count');
  });

  it.skipIf(hasTfjsNode)('auto picks wasm when tfjs-node is absent and says why', async () => {
    const lines: string[] = [];
    const runtime = await createRuntime({ log: (line) => lines.push(line) });
    expect(runtime.backend).toBe('wasm');
    expect(runtime.tf.getBackend()).toBe('wasm');
    expect(runtime.reason).toBe(
      'picked by auto: the fastest that loads here (skipped tensorflow-gpu: @tensorflow/tfjs-node-gpu is not ' +
        'installed; tensorflow: @tensorflow/tfjs-node is not installed)',
    );
    expect(runtime.description).toContain(runtime.reason);
    expect(lines).toEqual([
      'auto: skipping tensorflow-gpu: @tensorflow/tfjs-node-gpu is not installed',
      'auto: skipping tensorflow: @tensorflow/tfjs-node is not installed',
      `runtime: ${runtime.description}`,
    ]);
  });

  it('lets auto skip a plugged-in candidate that fails with an error type of its own', async () => {
    class DeviceLost extends Error {}
    const lost: BackendCandidate = {
      name: 'webgpu',
      packageName: '@megabyte/runtime-webgpu',
      probe: async () => ({ available: true, reason: 'navigator.gpu present' }),
      load: async () => {
        throw new DeviceLost('the device was lost while starting');
      },
    };
    const runtime = await createRuntime({ candidates: [lost, cpuCandidate] });
    expect(runtime.backend).toBe('cpu');
    expect(runtime.reason).toContain('skipped webgpu: the device was lost while starting');
  });

  it('lets auto pass over a candidate that works but is slower here, which still loads by name', async () => {
    let loads = 0;
    const software: BackendCandidate = {
      name: 'webgpu',
      packageName: '@megabyte/runtime-webgpu',
      probe: async () => ({
        available: true,
        reason: 'on SwiftShader',
        passOver: 'SwiftShader is a software adapter, slower than wasm',
      }),
      load: async () => {
        loads += 1;
        return cpuCandidate.load({ log: () => {} });
      },
    };
    const candidates = [software, cpuCandidate];
    const picked = await createRuntime({ candidates });
    expect(picked.name).toBe('cpu');
    expect(picked.reason).toBe(
      'picked by auto: the fastest that loads here (skipped webgpu: SwiftShader is a software adapter, slower than wasm)',
    );
    expect(loads).toBe(0);
    const named = await createRuntime({ backend: 'webgpu', candidates });
    expect(named.name).toBe('webgpu');
    expect(loads).toBe(1);
  });

  it('lets auto try a plugged-in candidate first and skip it when it cannot run', async () => {
    const noDevice: BackendCandidate = {
      name: 'webgpu',
      packageName: '@megabyte/runtime-webgpu',
      probe: async () => ({ available: true, reason: 'navigator.gpu present' }),
      load: async () => {
        throw new RuntimeUnavailableError('webgpu', 'no adapter');
      },
    };
    const candidates = [noDevice, cpuCandidate];
    const runtime = await createRuntime({ candidates });
    expect(runtime.backend).toBe('cpu');
    expect(runtime.reason).toBe('picked by auto: the fastest that loads here (skipped webgpu: no adapter)');
    await expect(createRuntime({ backend: 'webgpu', candidates })).rejects.toThrow(RuntimeUnavailableError);
    await expect(createRuntime({ backend: 'wasm', candidates })).rejects.toThrow(
      "expected one of 'auto', 'webgpu', 'cpu'",
    );
    expect(await listBackends({ candidates })).toEqual([
      { name: 'webgpu', available: true, reason: 'navigator.gpu present' },
      {
        name: 'cpu',
        available: true,
        reason: '@tensorflow/tfjs-backend-cpu 4.22.0: plain JavaScript kernels, the slowest',
      },
    ]);
  });
});

describe('listBackends', () => {
  it('lists every built-in backend, fastest first, with why it can or cannot run', async () => {
    const listing = await listBackends();
    expect(listing.map((b) => b.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    expect(listing[2]).toEqual({
      name: 'wasm',
      available: true,
      reason: '@tensorflow/tfjs-backend-wasm 4.22.0: SIMD on, single-threaded',
    });
    expect(listing[3]?.available).toBe(true);
    if (!hasTfjsNode) {
      expect(listing[1]).toEqual({
        name: 'tensorflow',
        available: false,
        reason: '@tensorflow/tfjs-node is not installed',
      });
    }
  });
});
