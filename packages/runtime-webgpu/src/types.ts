import type { BackendCandidate, Runtime } from '@megabyte/core';
import type { WebGpuDeviceLostError } from './errors.js';
import type { GpuDeviceLike, GpuLike, PowerPreference } from './webgpu-types.js';

/** The adapter limits that bound what a model can allocate and how kernels are shaped. */
export interface WebGpuLimits {
  /** Largest single GPUBuffer, in bytes: the largest tensor. */
  readonly maxBufferSize: number;
  /** Largest buffer one kernel can bind as storage, in bytes: the largest tensor an op reads. */
  readonly maxStorageBufferBindingSize: number;
  /** Shared (workgroup) memory per workgroup, in bytes: bounds matmul tile sizes. */
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupSizeY: number;
  readonly maxComputeWorkgroupSizeZ: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
}

/** What the adapter says about itself; the strings are empty where the platform hides them. */
export interface WebGpuAdapterInfo {
  /** e.g. `nvidia`, `google` (SwiftShader), `apple`; browsers may hide it. */
  readonly vendor: string;
  /** e.g. `ampere`, `swiftshader`, `metal-3`. */
  readonly architecture: string;
  /** Device id string; often empty in browsers. */
  readonly device: string;
  /** Driver or product description, e.g. `SwiftShader driver 5.0.0`; often empty in browsers. */
  readonly description: string;
  /** A software or otherwise much slower adapter (SwiftShader, WARP, lavapipe). */
  readonly isFallbackAdapter: boolean;
  readonly limits: WebGpuLimits;
  /** Optional features the adapter offers, sorted, e.g. `shader-f16`, `timestamp-query`. */
  readonly features: readonly string[];
}

export interface WebGpuRuntimeOptions {
  /** Which GPU to ask for when there are several; default `high-performance`. */
  readonly powerPreference?: PowerPreference;
  /**
   * The WebGPU entry point; defaults to `navigator.gpu`. When given and `navigator.gpu` is
   * missing, it is installed there too, since tfjs-backend-webgpu looks for it.
   */
  readonly gpu?: GpuLike;
  /**
   * Called once when the device is lost (driver reset, GPU removed, out of memory, or
   * `device.destroy()`), but not after `dispose()`. Whether or not it is given, every later op
   * on the runtime throws the same `WebGpuDeviceLostError`.
   */
  readonly onDeviceLost?: (error: WebGpuDeviceLostError) => void;
  /**
   * Receives WebGPU validation and out-of-memory errors that no error scope caught (tfjs sets
   * none). Defaults to `console.warn`.
   */
  readonly onUncapturedError?: (message: string) => void;
  /** One line per decision: the adapter found, the device made. */
  readonly log?: (line: string) => void;
  /**
   * Registers this package's fused WGSL kernels (causal attention and softmax cross-entropy,
   * forward and backward), which `@megabyte/nn` runs in place of its composite ops. Default true;
   * false removes them (e.g. to benchmark without them).
   */
  readonly fusedKernels?: boolean;
}

/** The WebGPU Runtime: what `@megabyte/core` runs on, plus the adapter and device behind it. */
export interface WebGpuRuntime extends Runtime {
  readonly backend: 'webgpu';
  readonly adapter: WebGpuAdapterInfo;
  /** The GPUDevice tfjs runs on (cast to `GPUDevice` from `@webgpu/types` for the full API). */
  readonly device: GpuDeviceLike;
  /** Set once the device is lost: the error every op now throws. */
  readonly deviceLost: WebGpuDeviceLostError | undefined;
  /** Whether the fused WGSL kernels are registered (the `fusedKernels` option). */
  readonly fusedKernels: boolean;
  /**
   * Removes the tfjs `webgpu` backend (freeing every tensor on it) and destroys the device. The
   * next op runs on the next registered backend, if any. Idempotent.
   */
  dispose(): void;
}

/** WebGPU as a `BackendCandidate` (the contract in @megabyte/core) for `createRuntime` or `selectBackend`. */
export interface WebGpuCandidate extends BackendCandidate {
  readonly name: 'webgpu';
}
