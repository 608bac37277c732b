import { formatAdapter, rawAdapterInfo } from './adapter-info.js';
import { WEBGPU_BACKEND_PACKAGE, WEBGPU_BACKEND_VERSION } from './create-webgpu-runtime.js';
import { currentEnvironment } from './environment.js';
import { errorMessage } from './errors.js';
import type { WebGpuCandidate, WebGpuRuntime, WebGpuRuntimeOptions } from './types.js';
import type { GpuLike } from './webgpu-types.js';

export interface CandidateParts {
  /** The WebGPU entry point to probe, or a clause saying why there is none. */
  findGpu(): Promise<GpuLike | string>;
  create(options: WebGpuRuntimeOptions): Promise<WebGpuRuntime>;
  /**
   * How a user asks for WebGPU by name, named in the message that passes over a software adapter;
   * default `--backend webgpu` (the CLI's flag). The web demo's is `?backend=webgpu`.
   */
  readonly askByName?: string;
}

/**
 * A `BackendCandidate` (see @megabyte/core's `selectBackend`, which runtime-node's `createRuntime`
 * uses), over some way of finding WebGPU.
 */
export function makeWebGpuCandidate(parts: CandidateParts): WebGpuCandidate {
  return {
    name: 'webgpu',
    packageName: WEBGPU_BACKEND_PACKAGE,

    async probe() {
      try {
        const gpu = await parts.findGpu();
        if (typeof gpu === 'string') return { available: false, reason: gpu };
        const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
        if (!adapter) {
          const hint = currentEnvironment().node
            ? 'no Vulkan driver? set VK_ICD_FILENAMES, e.g. to SwiftShader'
            : 'the GPU may be blocklisted';
          return { available: false, reason: `requestAdapter() returned null (${hint})` };
        }
        const info = await rawAdapterInfo(adapter);
        const name = [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
        const software = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
        return {
          available: true,
          reason: `${WEBGPU_BACKEND_PACKAGE} ${WEBGPU_BACKEND_VERSION} on ${name}${software ? ', a software adapter' : ''}`,
          ...(software && {
            passOver: `${name} is a software adapter, slower than wasm on the same CPU (${parts.askByName ?? '--backend webgpu'} uses it anyway)`,
          }),
        };
      } catch (error) {
        return { available: false, reason: `checking it failed: ${errorMessage(error)}` };
      }
    },

    // createRuntime itself logs that `threads` does not apply, and the runtime's description.
    async load({ log }) {
      const runtime = await parts.create({ log });
      return {
        tf: runtime.tf,
        backend: 'webgpu',
        version: WEBGPU_BACKEND_VERSION,
        details: formatAdapter(runtime.adapter),
      };
    },
  };
}
