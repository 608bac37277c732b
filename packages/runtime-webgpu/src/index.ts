import { makeWebGpuCandidate } from './candidate.js';
import { createWebGpuRuntime, navigatorGpu } from './create-webgpu-runtime.js';
import { currentEnvironment } from './environment.js';
import type { WebGpuCandidate } from './types.js';

export { describeAdapter, formatAdapter, formatBytes } from './adapter-info.js';
export { type CandidateParts, makeWebGpuCandidate } from './candidate.js';
export {
  createWebGpuRuntime,
  installNavigatorGpu,
  navigatorGpu,
  WEBGPU_BACKEND_PACKAGE,
  WEBGPU_BACKEND_VERSION,
} from './create-webgpu-runtime.js';
export { SWIFTSHADER_ICD } from './environment.js';
export {
  WebGpuDeviceLostError,
  WebGpuSyncReadError,
  WebGpuUnavailableError,
  type WebGpuUnavailableReason,
} from './errors.js';
export {
  CAUSAL_ATTENTION_GRAD_KERNEL,
  MEGABYTE_KERNELS,
  megabyteKernelsRegistered,
  registerMegabyteKernels,
  SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL,
  unregisterMegabyteKernels,
} from './kernels/register-kernels.js';
export type {
  WebGpuAdapterInfo,
  WebGpuCandidate,
  WebGpuLimits,
  WebGpuRuntime,
  WebGpuRuntimeOptions,
} from './types.js';
export type {
  GpuAdapterInfoLike,
  GpuAdapterLike,
  GpuDeviceLike,
  GpuDeviceLostInfoLike,
  GpuLike,
  PowerPreference,
} from './webgpu-types.js';

/**
 * WebGPU through whatever `navigator.gpu` is already there, as a candidate for `createRuntime`
 * from `@megabyte/runtime-node`: `createRuntime({ candidates: [webgpuCandidate, ...defaultCandidates] })`.
 * In Node, use the one from `@megabyte/runtime-webgpu/node`, which installs Dawn first.
 */
export const webgpuCandidate: WebGpuCandidate = makeWebGpuCandidate({
  async findGpu() {
    const gpu = navigatorGpu();
    if (gpu) return gpu;
    return currentEnvironment().node
      ? "navigator.gpu is undefined (in Node, use webgpuCandidate from '@megabyte/runtime-webgpu/node')"
      : 'navigator.gpu is undefined: this browser has no WebGPU';
  },
  create: createWebGpuRuntime,
});
