// What the error messages need to know about where they run, read without importing node:*
// (this module is part of the browser-safe entry).

interface ProcessLike {
  versions?: { node?: string };
  platform?: string;
  env?: Record<string, string | undefined>;
}

/** Where the code runs, as far as the advice in an error message depends on it. */
export interface Environment {
  /** Node (or a runtime presenting itself as Node), not a browser or worker. */
  readonly node: boolean;
  /** `process.platform` in Node: `linux`, `darwin`, `win32`. */
  readonly platform?: string;
  /** VK_DRIVER_FILES or VK_ICD_FILENAMES, where set (the Vulkan loader prefers the former). */
  readonly vulkanDrivers?: string;
  /** `isSecureContext` in a browser: WebGPU is exposed on https:// and localhost only. */
  readonly secureContext?: boolean;
}

export function currentEnvironment(): Environment {
  const process = (globalThis as { process?: ProcessLike }).process;
  if (typeof process?.versions?.node === 'string') {
    const drivers = process.env?.VK_DRIVER_FILES ?? process.env?.VK_ICD_FILENAMES;
    return {
      node: true,
      ...(process.platform !== undefined && { platform: process.platform }),
      ...(drivers !== undefined && { vulkanDrivers: drivers }),
    };
  }
  const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
  return { node: false, ...(secure !== undefined && { secureContext: secure }) };
}

/** The Debian/Ubuntu path of Chromium's SwiftShader Vulkan driver (package `chromium`). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export function noWebGpuMessage(env: Environment = currentEnvironment()): string {
  if (env.node) {
    return (
      'WebGPU is not available: navigator.gpu is undefined, and Node.js has no WebGPU of its own. ' +
      "Install Dawn's Node bindings (pnpm add webgpu) and create the runtime with createWebGpuRuntime " +
      "from '@megabyte/runtime-webgpu/node', which installs navigator.gpu before loading tfjs."
    );
  }
  if (env.secureContext === false) {
    return (
      'WebGPU is not available: navigator.gpu is undefined because this page is not a secure context. ' +
      'Serve it over https:// or from http://localhost.'
    );
  }
  return (
    'WebGPU is not available: navigator.gpu is undefined in this browser. Use Chrome or Edge 113 or ' +
    'later (on Linux, Chrome may still need chrome://flags/#enable-unsafe-webgpu), Safari 26 or later, ' +
    'or Firefox 141 or later on Windows; or pick another backend (wasm, cpu).'
  );
}

export function noAdapterMessage(powerPreference: string, env: Environment = currentEnvironment()): string {
  const head = `navigator.gpu.requestAdapter({ powerPreference: '${powerPreference}' }) returned null: `;
  if (!env.node) {
    return (
      `${head}the browser has WebGPU but no usable GPU. The GPU or its driver may be blocklisted ` +
      '(see chrome://gpu), or hardware acceleration is turned off. Update the GPU driver, turn on ' +
      'hardware acceleration, or try chrome://flags/#enable-unsafe-webgpu.'
    );
  }
  if (env.platform !== 'linux') {
    const api = env.platform === 'darwin' ? 'Metal' : env.platform === 'win32' ? 'D3D12' : 'Vulkan';
    return `${head}Dawn found no GPU it can drive through ${api}. Check the GPU driver.`;
  }
  const setting =
    env.vulkanDrivers === undefined
      ? 'VK_ICD_FILENAMES is not set, so the loader uses the drivers installed under /usr/share/vulkan/icd.d.'
      : `VK_ICD_FILENAMES/VK_DRIVER_FILES is '${env.vulkanDrivers}': check that the file exists and that ` +
        'it was set before Dawn started (before create() from the webgpu package).';
  return (
    `${head}Dawn found no Vulkan device. On Linux it needs the Vulkan loader (libvulkan.so.1: ` +
    "apt-get install libvulkan1) and a Vulkan driver: with an NVIDIA GPU, the driver's ICD " +
    '(nvidia_icd.json; point VK_ICD_FILENAMES at it if the loader does not find it); without a GPU, ' +
    "a software driver such as SwiftShader from Debian's chromium package " +
    `(VK_ICD_FILENAMES=${SWIFTSHADER_ICD}) or Mesa's lavapipe (apt-get install mesa-vulkan-drivers). ` +
    setting
  );
}
