import type { WebGpuAdapterInfo, WebGpuLimits } from './types.js';
import type { GpuAdapterInfoLike, GpuAdapterLike, GpuLimitsLike } from './webgpu-types.js';

const LIMIT_NAMES = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const satisfies readonly (keyof WebGpuLimits)[];

/**
 * The limits tfjs-backend-webgpu asks the device for: the adapter's maxima for what bounds
 * tensor sizes and kernel shapes (the WebGPU defaults are far lower, e.g. 128 MiB per binding).
 */
export const REQUIRED_LIMIT_NAMES = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const satisfies readonly (keyof WebGpuLimits)[];

export function readLimits(limits: GpuLimitsLike): WebGpuLimits {
  const out: Record<string, number> = {};
  for (const name of LIMIT_NAMES) {
    const value = limits[name];
    out[name] = typeof value === 'number' ? value : Number(value ?? 0);
  }
  return out as unknown as WebGpuLimits;
}

/** The adapter's `GPUAdapterInfo`, from `adapter.info` or, in older browsers, `requestAdapterInfo()`. */
export async function rawAdapterInfo(adapter: GpuAdapterLike): Promise<GpuAdapterInfoLike> {
  if (adapter.info) return adapter.info;
  if (typeof adapter.requestAdapterInfo === 'function') {
    try {
      return await adapter.requestAdapterInfo();
    } catch {
      // Some browsers reject it without a user gesture; the info is then simply unknown.
    }
  }
  return {};
}

/** Reads what the adapter reports: identity strings, whether it is a fallback, limits, features. */
export async function describeAdapter(adapter: GpuAdapterLike): Promise<WebGpuAdapterInfo> {
  const info = await rawAdapterInfo(adapter);
  const features = [...adapter.features];
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
    limits: readLimits(adapter.limits),
    features: features.sort(),
  };
}

/** `1 GiB`, `32 KiB`, `256 B`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text} ${units[unit]}`;
}

/**
 * One line for people, e.g. `google swiftshader (SwiftShader driver 5.0.0), fallback adapter;
 * max buffer 1 GiB, max storage binding 1 GiB, workgroup storage 32 KiB`.
 */
export function formatAdapter(info: WebGpuAdapterInfo): string {
  const name = [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
  const extra = info.description || info.device;
  const parts = [
    `${name}${extra ? ` (${extra})` : ''}${info.isFallbackAdapter ? ', fallback adapter' : ''}`,
    `max buffer ${formatBytes(info.limits.maxBufferSize)}, max storage binding ${formatBytes(
      info.limits.maxStorageBufferBindingSize,
    )}, workgroup storage ${formatBytes(info.limits.maxComputeWorkgroupStorageSize)}`,
  ];
  return parts.join('; ');
}
