import { RuntimeUnavailableError } from '@megabyte/core';

/** Why WebGPU cannot run here. */
export type WebGpuUnavailableReason =
  /** `navigator.gpu` is missing: the browser has no WebGPU, or Node has no `webgpu` package. */
  | 'no-webgpu'
  /** `requestAdapter()` returned null: no usable GPU or driver (in Node: no Vulkan driver). */
  | 'no-adapter'
  /** The adapter refused to make a device. */
  | 'no-device'
  /** tfjs could not start its webgpu backend on the device. */
  | 'backend-failed';

/**
 * WebGPU cannot run in this process: a `RuntimeUnavailableError` (from @megabyte/core) for the
 * `webgpu` backend, so callers that catch that catch this too; `reason` says which step failed.
 */
export class WebGpuUnavailableError extends RuntimeUnavailableError {
  override readonly name: string = 'WebGpuUnavailableError';

  constructor(
    readonly reason: WebGpuUnavailableReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super('webgpu', message, options);
  }
}

/** The GPU device was lost; tensors on it are gone. Thrown by every op after the loss. */
export class WebGpuDeviceLostError extends Error {
  override readonly name = 'WebGpuDeviceLostError';

  constructor(
    /** The `GPUDeviceLostInfo` reason: `destroyed` or `unknown`. */
    readonly reason: string,
    /** The driver's message, if any. */
    readonly detail: string,
  ) {
    const why = detail ? `${reason}: ${detail}` : reason;
    super(
      `The WebGPU device was lost (${why}). Every tensor and variable on it is gone: create a new ` +
        'runtime with createWebGpuRuntime() and rebuild or reload the model (e.g. from its last ' +
        'checkpoint). A loss with reason "unknown" usually means a driver reset, the GPU running ' +
        'out of memory, or a kernel that ran too long.',
    );
  }
}

/**
 * A synchronous read (`dataSync`, `arraySync`, `bufferSync`) of a tensor on the GPU, where that
 * cannot work: tfjs-backend-webgpu reads synchronously through an OffscreenCanvas, which Node
 * (and some workers) lack. Browsers have it, but a synchronous read stalls the page there.
 */
export class WebGpuSyncReadError extends Error {
  override readonly name = 'WebGpuSyncReadError';

  constructor(cause: unknown) {
    super(
      'A tensor on the webgpu backend was read synchronously (dataSync, arraySync, bufferSync, or code ' +
        'that calls them, such as ByteModel.bitsPerByte), which needs OffscreenCanvas, and this ' +
        'environment has none (Node.js does not). Read it asynchronously instead: await tensor.data() ' +
        'or await tensor.array().',
      { cause },
    );
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
