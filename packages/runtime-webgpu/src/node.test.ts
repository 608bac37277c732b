import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
// runtime-node is Node-only, so this package does not depend on it; the tests reach its source
// directly to prove that webgpuCandidate plugs into createRuntime and matches BackendCandidate.
import { type BackendCandidate, cpuCandidate, createRuntime, listBackends } from '@megabyte/runtime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD, swiftShaderMissing, useSwiftShader } from '../test/helpers.js';
import { shutdown, webgpuCandidate } from './node.js';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const child = fileURLToPath(new URL('../test/exit-child.ts', import.meta.url));
/** Node's arguments for the child: workspace packages from their sources, as under vitest (dist/ may be stale). */
const CHILD_ARGS = ['--conditions=@megabyte/source', '--import', 'tsx', child];

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from the child printing `done` to its exit. */
  exitAfterDoneMs: number;
}

/** Runs test/exit-child.ts through tsx and times how long the process lingers after its work. */
function runChild(mode: 'none' | 'shutdown', env: NodeJS.ProcessEnv): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...CHILD_ARGS, mode], { cwd: packageRoot, env });
    let stdout = '';
    let stderr = '';
    let doneAt: number | undefined;
    const killer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (doneAt === undefined && stdout.includes('done')) doneAt = Date.now();
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      clearTimeout(killer);
      resolve({
        code,
        stdout,
        stderr,
        exitAfterDoneMs: doneAt === undefined ? Number.NaN : Date.now() - doneAt,
      });
    });
  });
}

const swiftShaderEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  VK_ICD_FILENAMES: SWIFTSHADER_ICD,
  VK_DRIVER_FILES: SWIFTSHADER_ICD,
  VK_LOADER_LAYERS_DISABLE: '~implicit~',
});

describe.skipIf(swiftShaderMissing !== undefined)(
  `the Node entry on SwiftShader (needs Debian chromium's SwiftShader Vulkan driver and libvulkan1${
    swiftShaderMissing ? `; skipped: ${swiftShaderMissing}` : ''
  })`,
  () => {
    afterAll(() => shutdown());

    it.each(['none', 'shutdown'] as const)(
      'a process that used the GPU ends by itself within 5 s of its work (shutdown() called: %s)',
      async (mode) => {
        const run = await runChild(mode, swiftShaderEnv());
        expect(run.stderr).not.toMatch(/Error/);
        expect(run.stdout).toMatch(/done google swiftshader/);
        expect(run.code).toBe(0);
        expect(run.exitAfterDoneMs).toBeLessThan(5000);
      },
    );

    it('a process whose Vulkan driver file does not exist gets a no-adapter error naming it', async () => {
      const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const proc = spawn(process.execPath, [...CHILD_ARGS, 'none'], {
          cwd: packageRoot,
          env: {
            ...swiftShaderEnv(),
            VK_ICD_FILENAMES: '/nowhere/icd.json',
            VK_DRIVER_FILES: '/nowhere/icd.json',
          },
        });
        let stderr = '';
        proc.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        proc.on('exit', (code) => resolve({ code, stderr }));
      });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/WebGpuUnavailableError: navigator\.gpu\.requestAdapter.*returned null/);
      expect(run.stderr).toMatch(/It does not exist: \/nowhere\/icd\.json\./);
    });

    it('webgpuCandidate plugs into createRuntime from @megabyte/runtime-node', async () => {
      const candidate: BackendCandidate = webgpuCandidate;
      useSwiftShader();
      const candidates = [candidate, cpuCandidate];

      const listing = await listBackends({ candidates });
      expect(listing[0]).toEqual({
        name: 'webgpu',
        available: true,
        reason: '@tensorflow/tfjs-backend-webgpu 4.22.0 on google swiftshader, a software adapter',
        passOver:
          'google swiftshader is a software adapter, slower than wasm on the same CPU (--backend webgpu uses it anyway)',
      });

      // auto passes over a software adapter; asked for by name, it loads.
      const lines: string[] = [];
      const auto = await createRuntime({ backend: 'auto', candidates, log: (line) => lines.push(line) });
      expect(auto.backend).toBe('cpu');
      expect(lines).toContain(`auto: skipping webgpu: ${listing[0]!.passOver}`);
      const runtime = await createRuntime({ backend: 'webgpu', candidates, log: (line) => lines.push(line) });
      expect(runtime.backend).toBe('webgpu');
      expect(runtime.tf.getBackend()).toBe('webgpu');
      expect(runtime.version).toBe('4.22.0');
      expect(runtime.description).toMatch(
        /^webgpu: @tensorflow\/tfjs-backend-webgpu 4\.22\.0, google swiftshader \(SwiftShader driver [\d.]+\), fallback adapter; .*asked for by name$/,
      );
      expect(lines.some((line) => line.startsWith('webgpu: adapter google swiftshader'))).toBe(true);

      const { tf } = runtime;
      const product = tf.matMul(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[1], [0], [-1]]));
      expect(Array.from(await product.data())).toEqual([-2]);
      product.dispose();

      // shutdown() frees what the candidate made: the backend is gone and navigator.gpu with it.
      shutdown();
      expect(tf.findBackend('webgpu')).toBeNull();
      expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
    });
  },
);
