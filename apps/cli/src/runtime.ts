import type { Runtime } from '@megabyte/core';
import { createRuntime, defaultCandidates } from '@megabyte/runtime-node';

/**
 * The tfjs runtime for a command. WebGPU is used only when asked for by name: in Node it reads
 * results asynchronously only, which generation does and training does not yet.
 */
export async function startRuntime(backend: string, verbose = true): Promise<Runtime> {
  const candidates =
    backend === 'webgpu'
      ? [(await import('@megabyte/runtime-webgpu/node')).webgpuCandidate, ...defaultCandidates]
      : defaultCandidates;
  const runtime = await createRuntime({ backend, candidates });
  if (verbose) process.stderr.write(`backend: ${runtime.description}\n`);
  return runtime;
}
