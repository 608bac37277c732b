import { CAUSAL_ATTENTION_KERNEL, SOFTMAX_CROSS_ENTROPY_KERNEL } from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';
import { AttentionDeltaProgram } from './attention-backward-delta.js';
import { AttentionKeyValueGradProgram } from './attention-backward-key-value.js';
import { AttentionQueryGradProgram } from './attention-backward-query.js';
import { AttentionForwardProgram } from './attention-forward.js';
import { rowsPerWorkgroup, tileRows, type WebGPUBackend } from './program.js';
import { SoftmaxCrossEntropyGradProgram } from './softmax-cross-entropy-backward.js';
import { SoftmaxCrossEntropyProgram } from './softmax-cross-entropy-forward.js';

/** The backward kernels, which the forward kernels' gradients run. */
export const CAUSAL_ATTENTION_GRAD_KERNEL = `${CAUSAL_ATTENTION_KERNEL}Grad`;
export const SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL = `${SOFTMAX_CROSS_ENTROPY_KERNEL}Grad`;

/** Every kernel this package adds to tfjs's `webgpu` backend. */
export const MEGABYTE_KERNELS = [
  CAUSAL_ATTENTION_KERNEL,
  CAUSAL_ATTENTION_GRAD_KERNEL,
  SOFTMAX_CROSS_ENTROPY_KERNEL,
  SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL,
] as const;

const BACKEND = 'webgpu';

type Info = tf.TensorInfo;

/**
 * Registers the fused WGSL kernels (causal attention, softmax cross-entropy, and their backward
 * passes) for the `webgpu` backend, with their gradients. `causalAttention` and
 * `softmaxCrossEntropy` from `@megabyte/nn` then run them. Calling it again changes nothing.
 */
export function registerMegabyteKernels(): void {
  const configs: tf.KernelConfig[] = [
    { kernelName: CAUSAL_ATTENTION_KERNEL, backendName: BACKEND, kernelFunc: attentionForward },
    { kernelName: CAUSAL_ATTENTION_GRAD_KERNEL, backendName: BACKEND, kernelFunc: attentionBackward },
    { kernelName: SOFTMAX_CROSS_ENTROPY_KERNEL, backendName: BACKEND, kernelFunc: crossEntropyForward },
    { kernelName: SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, backendName: BACKEND, kernelFunc: crossEntropyBackward },
  ];
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, BACKEND) == null) tf.registerKernel(config);
  }
  if (tf.getGradient(CAUSAL_ATTENTION_KERNEL) == null) tf.registerGradient(attentionGradient);
  if (tf.getGradient(SOFTMAX_CROSS_ENTROPY_KERNEL) == null) tf.registerGradient(crossEntropyGradient);
}

/**
 * Removes the kernels again: `@megabyte/nn` then runs its composite ops on `webgpu` (the gradients
 * stay registered; nothing reaches them without the forward kernels).
 */
export function unregisterMegabyteKernels(): void {
  for (const name of MEGABYTE_KERNELS) {
    if (tf.getKernel(name, BACKEND) != null) tf.unregisterKernel(name, BACKEND);
  }
}

/** Whether the fused kernels are registered for `webgpu` now. */
export function megabyteKernelsRegistered(): boolean {
  return MEGABYTE_KERNELS.every((name) => tf.getKernel(name, BACKEND) != null);
}

const attentionGradient: tf.GradConfig = {
  kernelName: CAUSAL_ATTENTION_KERNEL,
  inputsToSave: ['q', 'k', 'v'],
  outputsToSave: [true, true],
  gradFunc: (dys, saved, attrs) => {
    const [dOut, dLse] = dys as tf.Tensor[];
    const [q, k, v, out, lse] = saved;
    const [dq, dk, dv] = tf
      .engine()
      .runKernel(
        CAUSAL_ATTENTION_GRAD_KERNEL,
        { q: q!, k: k!, v: v!, out: out!, lse: lse!, dy: dOut!, dlse: dLse! },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
    return { q: () => dq!, k: () => dk!, v: () => dv! };
  },
};

const crossEntropyGradient: tf.GradConfig = {
  kernelName: SOFTMAX_CROSS_ENTROPY_KERNEL,
  inputsToSave: ['logits', 'targets'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved) => {
    const [dNats, dLse] = dys as tf.Tensor[];
    const [logits, targets, lse] = saved;
    const dLogits = tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, {
      logits: logits!,
      targets: targets!,
      lse: lse!,
      dy: dNats!,
      dlse: dLse!,
    }) as tf.Tensor;
    // Integer ids have no gradient; tfjs only asks for one if they came from a differentiated input.
    return { logits: () => dLogits, targets: () => tf.zerosLike(targets!) };
  },
};

function attentionForward({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): Info[] {
  const webgpu = backend as WebGPUBackend;
  const { q, k, v } = floatInputs(CAUSAL_ATTENTION_KERNEL, inputs, ['q', 'k', 'v']);
  const [batch, heads, length, headDim] = q.shape as [number, number, number, number];
  const keys = k.shape[2]!;
  const past = (attrs?.past as number | undefined) ?? 0;
  if (keys !== past + length || v.shape[2] !== keys) {
    throw new Error(
      `${CAUSAL_ATTENTION_KERNEL}: k [${k.shape}] and v [${v.shape}] need past + T = ${past} + ${length} positions`,
    );
  }
  const program = new AttentionForwardProgram(
    { batch, heads, length, headDim },
    rowsPerWorkgroup(length),
    tileRows(webgpu, headDim, keys),
  );
  const packed = webgpu.runWebGPUProgram(program, [q, k, v], 'float32', attentionUniforms(past, headDim));
  const out = slice(webgpu, packed, [0, 0, 0, 0], [batch, heads, length, headDim]);
  const lse = slice(webgpu, packed, [0, 0, 0, headDim], [batch, heads, length, 1]);
  webgpu.disposeData(packed.dataId);
  return [out, { ...lse, shape: [batch, heads, length] }];
}

function attentionBackward({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]): Info[] {
  const webgpu = backend as WebGPUBackend;
  const { q, k, v, out, lse, dy, dlse } = floatInputs(CAUSAL_ATTENTION_GRAD_KERNEL, inputs, [
    'q',
    'k',
    'v',
    'out',
    'lse',
    'dy',
    'dlse',
  ]);
  const [batch, heads, length, headDim] = q.shape as [number, number, number, number];
  const keys = k.shape[2]!;
  const past = (attrs?.past as number | undefined) ?? 0;
  const uniforms = attentionUniforms(past, headDim);

  const delta = webgpu.runWebGPUProgram(
    new AttentionDeltaProgram({ batch, heads, length }, headDim),
    [dy, out, dlse],
    'float32',
  );
  const gradInputs = [q, k, v, dy, lse, delta];
  const dq = webgpu.runWebGPUProgram(
    new AttentionQueryGradProgram(
      { batch, heads, length, headDim },
      rowsPerWorkgroup(length),
      tileRows(webgpu, headDim, keys),
    ),
    gradInputs,
    'float32',
    uniforms,
  );
  const dkv = webgpu.runWebGPUProgram(
    new AttentionKeyValueGradProgram(
      { batch, heads, keys, headDim },
      rowsPerWorkgroup(keys),
      tileRows(webgpu, headDim, length),
    ),
    gradInputs,
    'float32',
    uniforms,
  );
  const dk = slice(webgpu, dkv, [0, 0, 0, 0], [batch, heads, keys, headDim]);
  const dv = slice(webgpu, dkv, [0, 0, 0, headDim], [batch, heads, keys, headDim]);
  webgpu.disposeData(delta.dataId);
  webgpu.disposeData(dkv.dataId);
  return [dq, dk, dv];
}

function crossEntropyForward({ inputs, backend }: Parameters<tf.KernelFunc>[0]): Info[] {
  const webgpu = backend as WebGPUBackend;
  const { logits, targets } = inputs as { logits: Info; targets: Info };
  checkCrossEntropyInputs(SOFTMAX_CROSS_ENTROPY_KERNEL, logits, targets);
  const rows = logits.shape[0]!;
  const packed = webgpu.runWebGPUProgram(new SoftmaxCrossEntropyProgram(rows), [logits, targets], 'float32');
  const nats = slice(webgpu, packed, [0, 0], [rows, 1]);
  const lse = slice(webgpu, packed, [0, 1], [rows, 1]);
  webgpu.disposeData(packed.dataId);
  return [
    { ...nats, shape: [rows] },
    { ...lse, shape: [rows] },
  ];
}

function crossEntropyBackward({ inputs, backend }: Parameters<tf.KernelFunc>[0]): Info {
  const webgpu = backend as WebGPUBackend;
  const { logits, targets, lse, dy, dlse } = inputs as Record<string, Info>;
  checkCrossEntropyInputs(SOFTMAX_CROSS_ENTROPY_GRAD_KERNEL, logits!, targets!);
  return webgpu.runWebGPUProgram(
    new SoftmaxCrossEntropyGradProgram(logits!.shape as [number, number]),
    [logits!, targets!, lse!, dy!, dlse!],
    'float32',
  );
}

function attentionUniforms(past: number, headDim: number) {
  return [
    { type: 'int32', data: [past] },
    { type: 'float32', data: [1 / Math.sqrt(headDim)] },
  ];
}

function floatInputs<K extends string>(kernel: string, inputs: tf.NamedTensorInfoMap, names: K[]) {
  const out = {} as Record<K, Info>;
  for (const name of names) {
    const x = inputs[name];
    if (x == null) throw new Error(`${kernel}: input ${name} is missing`);
    if (x.dtype !== 'float32') throw new Error(`${kernel}: ${name} must be float32, got ${x.dtype}`);
    out[name] = x;
  }
  return out;
}

function checkCrossEntropyInputs(kernel: string, logits: Info, targets: Info): void {
  if (logits.dtype !== 'float32' || logits.shape.length !== 2) {
    throw new Error(`${kernel}: logits must be float32 [N, V], got ${logits.dtype} [${logits.shape}]`);
  }
  if (targets.dtype !== 'int32' || targets.shape.length !== 1 || targets.shape[0] !== logits.shape[0]) {
    throw new Error(
      `${kernel}: targets must be int32 [${logits.shape[0]}] (one id per row), got ${targets.dtype} [${targets.shape}]`,
    );
  }
}

/** tfjs-backend-webgpu's own Slice kernel: copies a box of `x` into a new tensor. */
function slice(backend: WebGPUBackend, x: Info, begin: number[], size: number[]): Info {
  const kernel = tf.getKernel(tf.Slice, BACKEND);
  if (kernel == null) throw new Error('tfjs-backend-webgpu registers no Slice kernel: is it loaded?');
  return kernel.kernelFunc({ inputs: { x }, attrs: { begin, size }, backend }) as Info;
}
