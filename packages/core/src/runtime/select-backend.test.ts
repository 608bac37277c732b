import { describe, expect, it } from 'vitest';
import {
  type BackendCandidate,
  type LoadedBackendInfo,
  type LoadOptions,
  RuntimeUnavailableError,
  UnknownBackendError,
} from './backend-candidate.js';
import { probeBackend, selectBackend } from './select-backend.js';

// Candidates that load nothing real: the selection is the same whatever engine a candidate starts
// (tfjs in runtime-node and runtime-webgpu, onnxruntime-web in the web demo).

interface FakeLoaded extends LoadedBackendInfo {
  readonly threads: number | undefined;
}

interface FakeSpec {
  readonly name: string;
  readonly available?: boolean;
  readonly reason?: string;
  readonly passOver?: string;
  readonly loadError?: Error;
  readonly probeError?: Error;
  /** The engine's own name for it, when it differs from the candidate's. */
  readonly engineName?: string;
}

function fake(spec: FakeSpec, loads: string[]): BackendCandidate<FakeLoaded> {
  return {
    name: spec.name,
    packageName: `fake-${spec.name}`,
    async probe() {
      if (spec.probeError) throw spec.probeError;
      return {
        available: spec.available ?? true,
        reason: spec.reason ?? `${spec.name} is here`,
        ...(spec.passOver !== undefined && { passOver: spec.passOver }),
      };
    },
    async load(options: LoadOptions) {
      loads.push(spec.name);
      if (spec.loadError) throw spec.loadError;
      return {
        backend: spec.engineName ?? spec.name,
        version: '1.2.3',
        details: 'fake details',
        threads: options.threads,
      };
    },
  };
}

describe('selectBackend', () => {
  it('auto loads the first candidate that is available, and says it was the fastest', async () => {
    const loads: string[] = [];
    const chosen = await selectBackend([fake({ name: 'gpu' }, loads), fake({ name: 'wasm' }, loads)]);
    expect(chosen.candidate.name).toBe('gpu');
    expect(loads).toEqual(['gpu']);
    expect(chosen.skipped).toEqual([]);
    expect(chosen.reason).toBe('picked by auto: the fastest backend');
    expect(chosen.description).toBe('gpu: fake-gpu 1.2.3, fake details; picked by auto: the fastest backend');
  });

  it('auto skips, in order, what is unavailable, passed over or fails to load, and logs why', async () => {
    const loads: string[] = [];
    const lines: string[] = [];
    const candidates = [
      fake({ name: 'native', available: false, reason: 'not installed' }, loads),
      fake({ name: 'webgpu', passOver: 'a software adapter, slower than wasm' }, loads),
      fake({ name: 'broken', loadError: new TypeError('device lost while starting') }, loads),
      fake({ name: 'wasm' }, loads),
      fake({ name: 'cpu' }, loads),
    ];
    const chosen = await selectBackend(candidates, { log: (line) => lines.push(line) });
    expect(chosen.candidate.name).toBe('wasm');
    // Neither the unavailable nor the passed-over candidate is loaded.
    expect(loads).toEqual(['broken', 'wasm']);
    expect(chosen.skipped).toEqual([
      { name: 'native', why: 'not installed' },
      { name: 'webgpu', why: 'a software adapter, slower than wasm' },
      { name: 'broken', why: 'device lost while starting' },
    ]);
    expect(chosen.reason).toBe(
      'picked by auto: the fastest that loads here (skipped native: not installed; ' +
        'webgpu: a software adapter, slower than wasm; broken: device lost while starting)',
    );
    expect(lines).toEqual([
      'auto: skipping native: not installed',
      'auto: skipping webgpu: a software adapter, slower than wasm',
      'auto: skipping broken: device lost while starting',
    ]);
  });

  it('loads a passed-over candidate when it is asked for by name', async () => {
    const loads: string[] = [];
    const candidates = [
      fake({ name: 'webgpu', passOver: 'software adapter' }, loads),
      fake({ name: 'wasm' }, loads),
    ];
    const chosen = await selectBackend(candidates, { backend: 'webgpu' });
    expect(chosen.candidate.name).toBe('webgpu');
    expect(chosen.reason).toBe('asked for by name');
    expect(chosen.skipped).toEqual([]);
    expect(loads).toEqual(['webgpu']);
  });

  it('lets the error of a candidate asked for by name through', async () => {
    const error = new RuntimeUnavailableError('webgpu', 'no adapter');
    const candidates = [fake({ name: 'webgpu', loadError: error }, []), fake({ name: 'wasm' }, [])];
    await expect(selectBackend(candidates, { backend: 'webgpu' })).rejects.toBe(error);
  });

  it('names the accepted choices when asked for one no candidate has', async () => {
    const error = await selectBackend([fake({ name: 'webgpu' }, []), fake({ name: 'wasm' }, [])], {
      backend: 'webgl',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownBackendError);
    expect((error as UnknownBackendError).accepted).toEqual(['auto', 'webgpu', 'wasm']);
    expect((error as Error).message).toBe(
      "Unknown backend 'webgl': expected one of 'auto', 'webgpu', 'wasm'.",
    );
  });

  it('fails with every reason when auto finds nothing that loads', async () => {
    const candidates = [
      fake({ name: 'webgpu', available: false, reason: 'no navigator.gpu' }, []),
      fake({ name: 'wasm', loadError: new Error('no WebAssembly') }, []),
    ];
    const error = await selectBackend(candidates).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeUnavailableError);
    expect((error as RuntimeUnavailableError).backend).toBe('auto');
    expect((error as Error).message).toBe(
      'No backend could be loaded: webgpu: no navigator.gpu; wasm: no WebAssembly.',
    );
  });

  it('passes the thread count to the candidate it loads', async () => {
    const chosen = await selectBackend([fake({ name: 'wasm' }, [])], { backend: 'wasm', threads: 3 });
    expect(chosen.loaded.threads).toBe(3);
    const auto = await selectBackend([fake({ name: 'wasm' }, [])]);
    expect(auto.loaded.threads).toBeUndefined();
  });

  it("names the engine's own backend in the description when it differs from the candidate's", async () => {
    const chosen = await selectBackend([fake({ name: 'tensorflow-gpu', engineName: 'tensorflow' }, [])]);
    expect(chosen.description).toMatch(
      /^tensorflow-gpu \(backend 'tensorflow'\): fake-tensorflow-gpu 1\.2\.3/,
    );
  });
});

describe('probeBackend', () => {
  it('reports a probe that throws as unavailable, with the error as the reason', async () => {
    const status = await probeBackend(fake({ name: 'webgpu', probeError: new Error('adapter crashed') }, []));
    expect(status).toEqual({ available: false, reason: 'checking it failed: adapter crashed' });
  });

  it('lets auto skip a candidate whose probe throws', async () => {
    const loads: string[] = [];
    const candidates = [
      fake({ name: 'webgpu', probeError: new Error('adapter crashed') }, loads),
      fake({ name: 'cpu' }, loads),
    ];
    const chosen = await selectBackend(candidates);
    expect(chosen.candidate.name).toBe('cpu');
    expect(chosen.skipped).toEqual([{ name: 'webgpu', why: 'checking it failed: adapter crashed' }]);
  });
});
