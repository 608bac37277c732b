/**
 * The few parts of the WebGPU API this package touches, typed structurally.
 *
 * TypeScript's DOM library has no WebGPU types yet, and `@webgpu/types` declares globals whose
 * versions differ between `@tensorflow/tfjs-backend-webgpu` (0.1.38) and `webgpu` (0.1.7x).
 * These small interfaces are satisfied by the browser's objects, by Dawn's, and by either
 * version of `@webgpu/types`: cast `runtime.device` to `GPUDevice` for the full API.
 */

export interface GpuLike {
  requestAdapter(options?: { powerPreference?: PowerPreference }): Promise<GpuAdapterLike | null>;
}

export type PowerPreference = 'low-power' | 'high-performance';

export interface GpuAdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}

/** `GPUSupportedLimits`: every limit is a number, read by name. */
export type GpuLimitsLike = { readonly [name: string]: unknown };

export interface GpuAdapterLike {
  /** Chrome 127+, Dawn: the adapter's identity. Older browsers have `requestAdapterInfo()`. */
  readonly info?: GpuAdapterInfoLike;
  requestAdapterInfo?(): Promise<GpuAdapterInfoLike>;
  /** Deprecated in the spec (now on `info`), still the only place in older browsers. */
  readonly isFallbackAdapter?: boolean;
  /** `GPUSupportedFeatures`: a set-like; Dawn's has no `forEach`, but every one iterates. */
  readonly features: { has(name: string): boolean; [Symbol.iterator](): Iterator<string> };
  readonly limits: GpuLimitsLike;
  requestDevice(descriptor?: {
    requiredFeatures?: string[];
    requiredLimits?: Record<string, number>;
    label?: string;
  }): Promise<GpuDeviceLike>;
}

export interface GpuDeviceLostInfoLike {
  /** `destroyed` when `device.destroy()` was called, otherwise `unknown`. */
  readonly reason: string;
  readonly message: string;
}

export interface GpuErrorLike {
  readonly message: string;
}

export interface GpuDeviceLike {
  readonly lost: Promise<GpuDeviceLostInfoLike>;
  readonly limits: GpuLimitsLike;
  readonly features: { has(name: string): boolean };
  onuncapturederror: ((event: { error: GpuErrorLike }) => void) | null;
  destroy(): void;
}
