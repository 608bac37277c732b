import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Chromium's SwiftShader Vulkan driver, from Debian's `chromium` package. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const LOADER_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib64',
  '/lib',
];

/** Whether Dawn can load the Vulkan loader, libvulkan.so.1 (Debian: `libvulkan1`). */
function hasVulkanLoader(): boolean {
  const fromEnv = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return [...fromEnv, ...LOADER_DIRS].some((dir) => existsSync(join(dir, 'libvulkan.so.1')));
}

/**
 * Why the SwiftShader tests cannot run here, or undefined when they can. Dawn needs both the
 * Vulkan loader and a driver; on a machine without a GPU the driver is SwiftShader.
 */
export const swiftShaderMissing: string | undefined =
  process.platform !== 'linux'
    ? 'SwiftShader tests run on Linux only'
    : !existsSync(SWIFTSHADER_ICD)
      ? `no ${SWIFTSHADER_ICD}: apt-get install chromium`
      : !hasVulkanLoader()
        ? 'no Vulkan loader (libvulkan.so.1): apt-get install libvulkan1'
        : undefined;

/**
 * Points the Vulkan loader at SwiftShader only. Dawn reads this when it starts, so call it
 * before creating the runtime (setting process.env changes the real environment in Node).
 */
export function useSwiftShader(): void {
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  // The newer name wins over VK_ICD_FILENAMES where a machine sets it.
  process.env.VK_DRIVER_FILES = SWIFTSHADER_ICD;
  // No implicit layers: Mesa's device-select layer, where installed, only prints
  // "XDG_RUNTIME_DIR is invalid" here (Vulkan loader 1.3.234+ reads this variable).
  process.env.VK_LOADER_LAYERS_DISABLE = '~implicit~';
}
