import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

// Only types come from tfjs-backend-webgpu here: importing its code would register the backend
// before `navigator.gpu` exists (see create-webgpu-runtime.ts), so the few helpers it exports
// are restated below.

export type { WebGPUBackend, WebGPUProgram };

/** What `runWebGPUProgram` takes after the inputs: the values of a program's own `uniforms`. */
export type ProgramUniforms = { type: 'int32' | 'float32'; data: number[] }[];

/** Most rows (queries or keys) one workgroup of an attention program owns, one per invocation. */
const MAX_ROWS_PER_WORKGROUP = 64;
/** Most keys (or queries) a workgroup stages in shared memory per step of its loop. */
const MAX_TILE_ROWS = 32;

export function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/** Invocations per workgroup for `rows` rows: short sequences (MEGABYTE's local model) get small ones. */
export function rowsPerWorkgroup(rows: number): number {
  return Math.min(MAX_ROWS_PER_WORKGROUP, nextPowerOfTwo(rows));
}

/**
 * Rows of two [rows, headDim] tiles that fit in the device's workgroup memory (16 KiB at least,
 * less a little for the programs' scalars), at most 32 and no more than there are rows.
 */
export function tileRows(backend: WebGPUBackend, headDim: number, rows: number): number {
  const bytes = backend.device.limits.maxComputeWorkgroupStorageSize - 64;
  return Math.max(1, Math.min(MAX_TILE_ROWS, Math.floor(bytes / (2 * 4 * headDim)), nextPowerOfTwo(rows)));
}

/** The dispatch layout of a program that indexes its output itself: flat over every axis. */
export function flatLayout(rank: number): { x: number[] } {
  return { x: Array.from({ length: rank }, (_, i) => i) };
}

/** `[workgroups, 1, 1]`; tfjs-backend-webgpu folds it into 2-D or 3-D where it exceeds the limit. */
export function flatDispatch(workgroups: number): [number, number, number] {
  return [workgroups, 1, 1];
}
