// Error paths and reporting with stand-in WebGPU objects: no GPU, driver or Dawn needed.

import { RuntimeUnavailableError } from '@megabyte/core';
import { afterEach, describe, expect, it } from 'vitest';
import { describeAdapter, formatAdapter, formatBytes } from './adapter-info.js';
import { noAdapterMessage, noWebGpuMessage } from './environment.js';
import {
  createWebGpuRuntime,
  type GpuAdapterLike,
  type GpuLike,
  navigatorGpu,
  WebGpuUnavailableError,
  webgpuCandidate,
} from './index.js';

const LIMITS = {
  maxBufferSize: 2 ** 30,
  maxStorageBufferBindingSize: 2 ** 27,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 8,
  maxTextureDimension2D: 8192,
};

function fakeAdapter(overrides: Partial<GpuAdapterLike> = {}): GpuAdapterLike {
  return {
    info: {
      vendor: 'acme',
      architecture: 'rocket',
      device: '',
      description: 'Acme R1',
      isFallbackAdapter: false,
    },
    features: new Set(['timestamp-query', 'shader-f16']),
    limits: LIMITS,
    requestDevice: () => Promise.reject(new Error('out of devices')),
    ...overrides,
  };
}

const gpuWith = (adapter: GpuAdapterLike | null): GpuLike => ({ requestAdapter: async () => adapter });

async function rejection(promise: Promise<unknown>): Promise<WebGpuUnavailableError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(WebGpuUnavailableError);
    return error as WebGpuUnavailableError;
  }
  throw new Error('expected a rejection');
}

const savedDrivers = process.env.VK_ICD_FILENAMES;
afterEach(() => {
  if (savedDrivers === undefined) delete process.env.VK_ICD_FILENAMES;
  else process.env.VK_ICD_FILENAMES = savedDrivers;
});

describe('createWebGpuRuntime errors', () => {
  it('without navigator.gpu in Node, says to install webgpu and use the /node entry', async () => {
    expect(navigatorGpu()).toBeUndefined();
    const error = await rejection(createWebGpuRuntime());
    expect(error.reason).toBe('no-webgpu');
    expect(error.backend).toBe('webgpu');
    // Whoever catches the runtime contract's error (core's, re-exported by runtime-node) catches it.
    expect(error).toBeInstanceOf(RuntimeUnavailableError);
    expect(error.name).toBe('WebGpuUnavailableError');
    expect(error.message).toMatch(/navigator\.gpu is undefined/);
    expect(error.message).toMatch(/pnpm add webgpu/);
    expect(error.message).toMatch(/'@megabyte\/runtime-webgpu\/node'/);
  });

  it('when requestAdapter returns null, points at the Vulkan driver and VK_ICD_FILENAMES', async () => {
    process.env.VK_ICD_FILENAMES = '/nowhere/icd.json';
    const error = await rejection(createWebGpuRuntime({ gpu: gpuWith(null), powerPreference: 'low-power' }));
    expect(error.reason).toBe('no-adapter');
    expect(error.message).toMatch(/requestAdapter\(\{ powerPreference: 'low-power' \}\) returned null/);
    if (process.platform === 'linux') {
      expect(error.message).toMatch(/libvulkan1/);
      expect(error.message).toContain('VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json');
      expect(error.message).toContain("is '/nowhere/icd.json'");
    }
    // Nothing was installed on the way to the error.
    expect(navigatorGpu()).toBeUndefined();
  });

  it('when the adapter refuses a device, names the adapter and the cause', async () => {
    const error = await rejection(createWebGpuRuntime({ gpu: gpuWith(fakeAdapter()) }));
    expect(error.reason).toBe('no-device');
    expect(error.message).toMatch(
      /adapter \(acme rocket \(Acme R1\); max buffer 1 GiB.*\) refused to create a device: out of devices/,
    );
    expect((error.cause as Error).message).toBe('out of devices');
  });
});

describe('messages for browsers', () => {
  it('say which browsers have WebGPU, and about secure contexts', () => {
    expect(noWebGpuMessage({ node: false })).toMatch(/Chrome or Edge 113 or later.*Safari 26/);
    expect(noWebGpuMessage({ node: false, secureContext: false })).toMatch(
      /not a secure context\. Serve it over https:\/\/ or from http:\/\/localhost/,
    );
    expect(noAdapterMessage('high-performance', { node: false })).toMatch(/chrome:\/\/gpu/);
    expect(noAdapterMessage('high-performance', { node: true, platform: 'darwin' })).toMatch(/Metal/);
  });
});

describe('adapter reporting', () => {
  it('reads identity, limits and features, and formats them on one line', async () => {
    const info = await describeAdapter(fakeAdapter());
    expect(info).toEqual({
      vendor: 'acme',
      architecture: 'rocket',
      device: '',
      description: 'Acme R1',
      isFallbackAdapter: false,
      limits: {
        maxBufferSize: 2 ** 30,
        maxStorageBufferBindingSize: 2 ** 27,
        maxComputeWorkgroupStorageSize: 32768,
        maxComputeInvocationsPerWorkgroup: 256,
        maxComputeWorkgroupSizeX: 256,
        maxComputeWorkgroupSizeY: 256,
        maxComputeWorkgroupSizeZ: 64,
        maxComputeWorkgroupsPerDimension: 65535,
        maxStorageBuffersPerShaderStage: 8,
      },
      features: ['shader-f16', 'timestamp-query'],
    });
    expect(formatAdapter(info)).toBe(
      'acme rocket (Acme R1); max buffer 1 GiB, max storage binding 128 MiB, workgroup storage 32 KiB',
    );
  });

  it('falls back to requestAdapterInfo() and the adapter-level isFallbackAdapter of older browsers', async () => {
    const { info: _, ...old } = fakeAdapter();
    const info = await describeAdapter({
      ...old,
      isFallbackAdapter: true,
      requestAdapterInfo: async () => ({ vendor: 'old', architecture: '' }),
    });
    expect(info).toMatchObject({ vendor: 'old', architecture: '', description: '', isFallbackAdapter: true });
    expect(formatAdapter(info)).toMatch(/^old, fallback adapter; max buffer 1 GiB/);
  });

  it('formats byte counts', () => {
    expect([0, 1000, 1024, 1536, 2 ** 27, 2 ** 32].map(formatBytes)).toEqual([
      '0 B',
      '1000 B',
      '1 KiB',
      '1.5 KiB',
      '128 MiB',
      '4 GiB',
    ]);
  });
});

describe('the browser-entry webgpuCandidate', () => {
  it('in Node without navigator.gpu, is unavailable and points at the /node entry', async () => {
    const status = await webgpuCandidate.probe();
    expect(status.available).toBe(false);
    expect(status.reason).toMatch(/navigator\.gpu is undefined.*'@megabyte\/runtime-webgpu\/node'/);
    expect(webgpuCandidate).toMatchObject({ name: 'webgpu', packageName: '@tensorflow/tfjs-backend-webgpu' });
  });
});
