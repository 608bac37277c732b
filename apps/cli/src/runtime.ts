import type { Runtime } from '@megabyte/core';
import { type BackendCandidate, createRuntime, defaultCandidates } from '@megabyte/runtime-node';

/**
 * Every backend a command can run on, fastest first: WebGPU through Dawn, then the built-in ones.
 * tfjs-node-gpu stays ahead of WebGPU, because on a CUDA machine cuDNN's kernels are the faster.
 */
export async function commandCandidates(): Promise<BackendCandidate[]> {
  const { webgpuCandidate } = await import('@megabyte/runtime-webgpu/node');
  const [tensorflowGpu, ...rest] = defaultCandidates;
  return [tensorflowGpu!, webgpuCandidate, ...rest];
}

/** The tfjs runtime for a command, as `--backend` names it; says on stderr what it picked and why. */
export async function startRuntime(backend: string, verbose = true): Promise<Runtime> {
  const runtime = await createRuntime({ backend, candidates: await commandCandidates() });
  if (verbose) process.stderr.write(`backend: ${runtime.description}\n`);
  return runtime;
}
