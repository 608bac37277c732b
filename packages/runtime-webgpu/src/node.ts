/**
 * WebGPU in Node through Dawn (the `webgpu` npm package): installs `navigator.gpu` and the
 * WebGPU globals tfjs-backend-webgpu needs, then creates the same runtime as in the browser.
 *
 * The API mirrors the browser entry, with Node versions of `createWebGpuRuntime` and
 * `webgpuCandidate`, plus `installDawn` and `shutdown`.
 */
import { existsSync } from 'node:fs';
import { makeWebGpuCandidate } from './candidate.js';
import {
  createWebGpuRuntime as createBrowserWebGpuRuntime,
  disposeCurrentRuntime,
  installNavigatorGpu,
  navigatorGpu,
} from './create-webgpu-runtime.js';
import { errorMessage, WebGpuUnavailableError } from './errors.js';
import type { WebGpuCandidate, WebGpuRuntime, WebGpuRuntimeOptions } from './types.js';
import type { GpuLike } from './webgpu-types.js';

export * from './index.js';

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

export interface DawnOptions {
  /**
   * Dawn flags for `create()` from `webgpu`, e.g. `['backend=vulkan']`,
   * `['adapter=SwiftShader Device (Subzero)']` or `['enable-dawn-features=allow_unsafe_apis']`.
   */
  readonly dawnFlags?: readonly string[];
}

export interface NodeWebGpuRuntimeOptions extends Omit<WebGpuRuntimeOptions, 'gpu'>, DawnOptions {}

/** What this module installed, so `shutdown()` can take exactly that away again. */
let installed: { gpu: GpuLike; madeNavigator: boolean; globals: string[] } | undefined;

async function importDawn(): Promise<DawnModule | string> {
  try {
    return (await import('webgpu')) as unknown as DawnModule;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      return 'the webgpu package (Dawn for Node) is not installed: pnpm add webgpu';
    }
    return `the webgpu package failed to load (${errorMessage(error)}); Dawn ships linux-x64/arm64, darwin and win32 binaries`;
  }
}

/**
 * Installs Dawn's WebGPU as `navigator.gpu`, and the `GPU*` globals (`GPUBufferUsage`,
 * `GPUMapMode`, ...) tfjs-backend-webgpu uses, leaving any that exist alone. Idempotent; when
 * `navigator.gpu` is already there (installed by someone else) it is returned as it is.
 *
 * On Linux, set `VK_ICD_FILENAMES` before the first call if Vulkan should use a particular
 * driver (e.g. SwiftShader on a machine without a GPU): Dawn reads it when it starts.
 */
export async function installDawn(options: DawnOptions = {}): Promise<GpuLike> {
  if (installed) return installed.gpu;
  const existing = navigatorGpu();
  if (existing) return existing;
  const dawn = await importDawn();
  if (typeof dawn === 'string')
    throw new WebGpuUnavailableError('no-webgpu', `WebGPU is not available: ${dawn}.`);
  const addedGlobals: string[] = [];
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (name in globalThis) continue;
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
    addedGlobals.push(name);
  }
  const gpu = dawn.create([...(options.dawnFlags ?? [])]);
  const madeNavigator = (globalThis as { navigator?: unknown }).navigator == null;
  installNavigatorGpu(gpu);
  installed = { gpu, madeNavigator, globals: addedGlobals };
  return gpu;
}

/**
 * Installs Dawn (see `installDawn`), then requests the adapter and device and makes tfjs's
 * `webgpu` backend the active one, as `createWebGpuRuntime` does in the browser.
 */
export async function createWebGpuRuntime(options: NodeWebGpuRuntimeOptions = {}): Promise<WebGpuRuntime> {
  const { dawnFlags, ...rest } = options;
  const gpu = await installDawn({ ...(dawnFlags && { dawnFlags }) });
  let runtime: WebGpuRuntime;
  try {
    runtime = await createBrowserWebGpuRuntime({ ...rest, gpu });
  } catch (error) {
    const missing = missingDriverFiles();
    if (error instanceof WebGpuUnavailableError && error.reason === 'no-adapter' && missing.length > 0) {
      throw new WebGpuUnavailableError(
        'no-adapter',
        `${error.message} It does not exist: ${missing.join(', ')}.`,
        { cause: error },
      );
    }
    throw error;
  }
  return runtime;
}

/** The Vulkan driver manifests the environment names that are not there. */
function missingDriverFiles(): string[] {
  const value = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  if (!value) return [];
  const separator = process.platform === 'win32' ? ';' : ':';
  return value.split(separator).filter((file) => file !== '' && !existsSync(file));
}

/**
 * Disposes the live runtime (its tensors are freed and its device destroyed), and
 * removes what `installDawn` installed (`navigator.gpu`, the `GPU*` globals), dropping the last
 * references to Dawn's instance so that nothing of it keeps Node's event loop alive.
 *
 * Call it when the GPU work is done, before the process should end. With webgpu 0.6.x a process
 * ends by itself once its work is done, but earlier dawn.node builds kept it alive for as long
 * as `navigator.gpu` referred to Dawn (crbug.com/387965810); `process.exit()` always works.
 */
export function shutdown(): void {
  disposeCurrentRuntime();
  if (!installed) return;
  const { gpu, madeNavigator, globals } = installed;
  installed = undefined;
  const holder = globalThis as { navigator?: { gpu?: GpuLike } };
  if (madeNavigator) delete holder.navigator;
  else if (holder.navigator?.gpu === gpu) delete holder.navigator.gpu;
  for (const name of globals) delete (globalThis as Record<string, unknown>)[name];
}

/**
 * WebGPU through Dawn as a candidate for `createRuntime` from `@megabyte/runtime-node`:
 * `createRuntime({ backend: 'webgpu', candidates: [webgpuCandidate, ...defaultCandidates] })`.
 * Its probe asks a throwaway Dawn instance for an adapter and installs nothing.
 */
export const webgpuCandidate: WebGpuCandidate = makeWebGpuCandidate({
  async findGpu() {
    const existing = installed?.gpu ?? navigatorGpu();
    if (existing) return existing;
    const dawn = await importDawn();
    return typeof dawn === 'string' ? dawn : dawn.create([]);
  },
  create: (options) => createWebGpuRuntime(options),
});
