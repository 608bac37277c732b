import type * as TfCore from '@tensorflow/tfjs-core';
import { describeAdapter, formatAdapter, REQUIRED_LIMIT_NAMES, rawAdapterInfo } from './adapter-info.js';
import { noAdapterMessage, noWebGpuMessage } from './environment.js';
import {
  errorMessage,
  WebGpuDeviceLostError,
  WebGpuSyncReadError,
  WebGpuUnavailableError,
} from './errors.js';
import { registerMegabyteKernels, unregisterMegabyteKernels } from './kernels/register-kernels.js';
import type { WebGpuRuntime, WebGpuRuntimeOptions } from './types.js';
import type { GpuDeviceLike, GpuLike } from './webgpu-types.js';

/** The tfjs-backend-webgpu version this package pins (its index does not export one). */
export const WEBGPU_BACKEND_VERSION = '4.22.0';
export const WEBGPU_BACKEND_PACKAGE = '@tensorflow/tfjs-backend-webgpu';

/** The same priority tfjs-backend-webgpu registers itself with. */
const BACKEND_PRIORITY = 3;

/**
 * The backend methods every kernel, upload and download goes through. After a device loss they
 * throw `WebGpuDeviceLostError` instead of failing inside Dawn or the browser with a message
 * about an invalid buffer, or never resolving.
 */
const GUARDED_METHODS = ['runWebGPUProgram', 'read', 'readSync', 'readToGPU', 'write', 'move'] as const;

interface NavigatorHolder {
  navigator?: { gpu?: GpuLike };
}

/** `navigator.gpu`, or undefined where there is none (Node without Dawn, old browsers). */
export function navigatorGpu(): GpuLike | undefined {
  return (globalThis as NavigatorHolder).navigator?.gpu ?? undefined;
}

/**
 * Puts `gpu` at `navigator.gpu`, where tfjs-backend-webgpu looks for WebGPU. Node 20 has no
 * `navigator`; Node 21+ has one without `gpu`; a browser already has it (then nothing changes).
 */
export function installNavigatorGpu(gpu: GpuLike): void {
  const holder = globalThis as NavigatorHolder;
  if (holder.navigator?.gpu === gpu) return;
  if (holder.navigator == null) {
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu },
      configurable: true,
      writable: true,
      enumerable: false,
    });
    return;
  }
  Object.defineProperty(holder.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
}

/** The runtime that owns the tfjs `webgpu` backend now, so a new one can take it over. */
let current: { dispose(): void } | undefined;

/** Disposes the live runtime, if any (for `shutdown()` in the Node entry). */
export function disposeCurrentRuntime(): void {
  current?.dispose();
}

/**
 * Requests a WebGPU adapter and device, registers tfjs's `webgpu` backend on that device, makes
 * it the active backend and checks that it computes.
 *
 * Needs `navigator.gpu`: a browser with WebGPU (Chrome/Edge 113+, Safari 26+, Firefox 141+ on
 * Windows), or Node with Dawn installed first (`createWebGpuRuntime` from
 * `@megabyte/runtime-webgpu/node` does that). tfjs-backend-webgpu is imported only after
 * `navigator.gpu` exists.
 *
 * Create one per process, before making any tensor: a new one replaces the previous one's
 * backend (its tensors are freed) and device.
 */
export async function createWebGpuRuntime(options: WebGpuRuntimeOptions = {}): Promise<WebGpuRuntime> {
  const { powerPreference = 'high-performance', log = () => {}, fusedKernels = true } = options;
  const onUncapturedError =
    options.onUncapturedError ?? ((message: string) => console.warn(`WebGPU error: ${message}`));

  const gpu = options.gpu ?? navigatorGpu();
  if (!gpu) throw new WebGpuUnavailableError('no-webgpu', noWebGpuMessage());

  const adapter = await gpu.requestAdapter({ powerPreference });
  if (!adapter) throw new WebGpuUnavailableError('no-adapter', noAdapterMessage(powerPreference));
  const adapterInfo = await describeAdapter(adapter);
  log(`webgpu: adapter ${formatAdapter(adapterInfo)}`);

  // What tfjs-backend-webgpu's own factory asks for: the adapter's maxima for the limits that
  // bound tensor sizes (the defaults cap a binding at 128 MiB), and timestamp queries if offered.
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUIRED_LIMIT_NAMES) requiredLimits[name] = adapterInfo.limits[name];
  const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) => adapter.features.has(f));
  let device: GpuDeviceLike;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'megabyte-ts' });
  } catch (cause) {
    throw new WebGpuUnavailableError(
      'no-device',
      `The WebGPU adapter (${formatAdapter(adapterInfo)}) refused to create a device: ${errorMessage(cause)}`,
      { cause },
    );
  }

  // tfjs-backend-webgpu checks for navigator.gpu when imported and when its backend is made.
  if (!navigatorGpu()) installNavigatorGpu(gpu);
  const [tf, webgpu] = await Promise.all([
    import('@tensorflow/tfjs-core'),
    import('@tensorflow/tfjs-backend-webgpu'),
  ]);

  // Take the backend over from a previous runtime, and replace the factory tfjs-backend-webgpu
  // registered at import (it would make its own device, which nobody watches for loss).
  current?.dispose();
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');

  let backend: InstanceType<typeof webgpu.WebGPUBackend>;
  try {
    backend = new webgpu.WebGPUBackend(
      device as unknown as ConstructorParameters<typeof webgpu.WebGPUBackend>[0],
      (await rawAdapterInfo(adapter)) as unknown as ConstructorParameters<typeof webgpu.WebGPUBackend>[1],
    );
  } catch (cause) {
    device.destroy();
    throw new WebGpuUnavailableError(
      'backend-failed',
      `${WEBGPU_BACKEND_PACKAGE} could not start on the device: ${errorMessage(cause)}`,
      { cause },
    );
  }

  let lostError: WebGpuDeviceLostError | undefined;
  let disposed = false;
  const throwIfLost = () => {
    if (lostError) throw lostError;
  };
  guardBackend(backend as unknown as Record<string, unknown>, throwIfLost, () => lostError);

  device.lost.then(
    (info) => {
      if (disposed) return;
      lostError = new WebGpuDeviceLostError(info.reason, info.message);
      log(`webgpu: ${lostError.message}`);
      options.onDeviceLost?.(lostError);
    },
    () => {},
  );
  device.onuncapturederror = (event) => {
    if (!disposed && !lostError) onUncapturedError(event.error.message);
  };

  const dispose = () => {
    if (disposed) return;
    disposed = true;
    if (current === handle) current = undefined;
    device.onuncapturederror = null;
    // Unregister only this runtime's backend, never a later runtime's; dispose() is idempotent.
    if (tf.findBackendFactory('webgpu') === factory) tf.removeBackend('webgpu');
    backend.dispose();
    device.destroy();
  };
  const handle = { dispose };
  current = handle;

  const factory = () => backend;
  tf.registerBackend('webgpu', factory, BACKEND_PRIORITY);
  try {
    await activate(tf);
  } catch (cause) {
    dispose();
    throw cause;
  }

  // Kernels are registered per backend name, not per backend instance: set them either way, so
  // that a runtime made without them does not inherit an earlier runtime's.
  if (fusedKernels) registerMegabyteKernels();
  else unregisterMegabyteKernels();

  const description =
    `webgpu: ${WEBGPU_BACKEND_PACKAGE} ${WEBGPU_BACKEND_VERSION} on ${formatAdapter(adapterInfo)}` +
    (adapterInfo.isFallbackAdapter
      ? ' (a software adapter: expect it to be slower than the CPU backends)'
      : '') +
    `; fused kernels ${fusedKernels ? 'on' : 'off'}`;

  return {
    tf,
    backend: 'webgpu',
    description,
    adapter: adapterInfo,
    device,
    get deviceLost() {
      return lostError;
    },
    fusedKernels,
    dispose,
  };
}

/** Wraps the backend's entry points so that each first checks for a lost device. */
function guardBackend(
  backend: Record<string, unknown>,
  throwIfLost: () => void,
  lost: () => WebGpuDeviceLostError | undefined,
): void {
  for (const name of GUARDED_METHODS) {
    const original = backend[name];
    if (typeof original !== 'function') continue;
    backend[name] = function guarded(this: unknown, ...args: unknown[]) {
      throwIfLost();
      let result: unknown;
      try {
        result = original.apply(this, args);
      } catch (error) {
        // tfjs reads a GPU buffer synchronously by drawing it to an OffscreenCanvas.
        if (name === 'readSync' && typeof OffscreenCanvas === 'undefined')
          throw new WebGpuSyncReadError(error);
        throw error;
      }
      // A read in flight when the device goes fails in Dawn's words; say what happened instead.
      if (result instanceof Promise) {
        return result.catch((error: unknown) => {
          throw lost() ?? error;
        });
      }
      return result;
    };
  }
}

/**
 * Makes `webgpu` the active backend and proves it computes, as runtime-node does for its
 * backends: `setBackend` reports failure by returning false and printing the cause.
 */
async function activate(tf: typeof TfCore): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend('webgpu');
    await tf.ready();
  } catch (cause) {
    throw new WebGpuUnavailableError(
      'backend-failed',
      `tf.setBackend('webgpu') threw: ${errorMessage(cause)}`,
      {
        cause,
      },
    );
  }
  if (!ok || tf.getBackend() !== 'webgpu') {
    throw new WebGpuUnavailableError(
      'backend-failed',
      `tf.setBackend('webgpu') did not make it the active backend (active: '${tf.getBackend()}'); ` +
        'TensorFlow.js printed the cause above.',
    );
  }
  // A matmul: tiny elementwise ops would run on the CPU (tfjs forwards small inputs there).
  const product = tf.tidy(() =>
    tf.matMul(
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      tf.tensor2d([[5], [6]]),
    ),
  );
  // data(), not dataSync(): a synchronous read needs OffscreenCanvas, which Node does not have.
  const values = Array.from(await product.data());
  product.dispose();
  if (values[0] !== 17 || values[1] !== 39) {
    throw new WebGpuUnavailableError(
      'backend-failed',
      `the webgpu backend computed [[1, 2], [3, 4]] x [5, 6] = [${values.join(', ')}], not [17, 39].`,
    );
  }
}
