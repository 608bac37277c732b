import { existsSync, readdirSync } from 'node:fs';
import type { Runtime } from '@megabyte/core';
import { type BackendCandidate, createRuntime, defaultCandidates } from '@megabyte/runtime-node';

/**
 * Every backend a command can run on for `--backend <backend>`, fastest first: WebGPU through Dawn,
 * then the built-in ones. tfjs-node-gpu stays ahead of WebGPU, because on a CUDA machine cuDNN's
 * kernels are the faster. WebGPU is a candidate only when asked for by name, or for `auto` on a
 * machine that shows a GPU: probing it starts Dawn, which prints Vulkan warnings where there is none.
 */
export async function commandCandidates(backend: string): Promise<BackendCandidate[]> {
  if (backend !== 'webgpu' && !(backend === 'auto' && gpuDevicePresent())) return [...defaultCandidates];
  const { webgpuCandidate } = await import('@megabyte/runtime-webgpu/node');
  const [tensorflowGpu, ...rest] = defaultCandidates;
  return [tensorflowGpu!, webgpuCandidate, ...rest];
}

/**
 * Whether this machine shows a GPU without loading any driver: on Linux a DRM render node or an
 * NVIDIA device file; macOS and Windows always have a GPU API worth asking.
 */
export function gpuDevicePresent(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    if (readdirSync('/dev/dri').some((name) => name.startsWith('renderD'))) return true;
  } catch {
    // no /dev/dri
  }
  return existsSync('/dev/nvidia0');
}

/** The tfjs runtime for a command, as `--backend` names it; says on stderr what it picked and why. */
export async function startRuntime(backend: string, verbose = true): Promise<Runtime> {
  const runtime = await createRuntime({ backend, candidates: await commandCandidates(backend) });
  if (verbose) process.stderr.write(`backend: ${runtime.description}\n`);
  return runtime;
}
