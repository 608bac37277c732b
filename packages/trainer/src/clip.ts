import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradients keyed by parameter name: a `Map`, or the plain object that `tf.variableGrads` and
 * `tf.grads` callers usually build.
 */
export type Gradients = ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>;

/** The entries of either form of {@link Gradients}, in insertion order. */
export function gradientEntries(grads: Gradients): Array<[string, tf.Tensor]> {
  return grads instanceof Map ? [...grads.entries()] : Object.entries(grads);
}

/** Disposes every tensor of a gradient set, e.g. after the optimizer step has consumed it. */
export function disposeGradients(grads: Gradients): void {
  for (const [, tensor] of gradientEntries(grads)) tensor.dispose();
}

/**
 * The L2 norm of all gradients taken together, as one vector, as a scalar tensor that stays on the
 * device: reading it is the caller's choice (one `await norm.data()` per step; GPU backends in Node
 * cannot read synchronously). NaN or Infinity is kept as is so the caller can stop instead of
 * applying a poisoned update.
 */
export function globalNorm(grads: Gradients): tf.Scalar {
  const entries = gradientEntries(grads);
  if (entries.length === 0) return tf.scalar(0);
  return tf.tidy(() => {
    // Norm of per-tensor norms, the way torch.nn.utils.clip_grad_norm_ reduces them.
    const norms = entries.map(([, g]) => tf.sqrt(tf.sum(tf.square(g))));
    return tf.sqrt(tf.sum(tf.square(tf.stack(norms)))) as tf.Scalar;
  });
}

export interface ClippedGradients {
  /** New tensors, owned by the caller (dispose them, e.g. with {@link disposeGradients}). */
  grads: Map<string, tf.Tensor>;
  /** The global norm before clipping (NaN or Infinity when some gradient is not finite); the caller disposes it. */
  norm: tf.Scalar;
}

/**
 * Rescales gradients so their global L2 norm is at most `maxNorm`, as
 * `torch.nn.utils.clip_grad_norm_` does: scale = maxNorm / (norm + 1e-6), applied only when it is
 * below 1. The input is left untouched. With a non-finite norm nothing is scaled (a scale computed
 * from NaN or Infinity would only hide where the problem came from): check `norm` and skip the step.
 * Everything happens on the device, without reading the norm back.
 */
export function clipByGlobalNorm(grads: Gradients, maxNorm: number): ClippedGradients {
  if (!(Number.isFinite(maxNorm) && maxNorm > 0)) {
    throw new RangeError(`clipByGlobalNorm: maxNorm must be a finite number > 0, got ${maxNorm}`);
  }
  const norm = globalNorm(grads);
  const scale = tf.tidy(() => {
    const shrink = tf.div(maxNorm, tf.add(norm, 1e-6));
    const applies = tf.logicalAnd(tf.isFinite(norm), tf.less(shrink, 1));
    return tf.where(applies, shrink, tf.onesLike(shrink)) as tf.Scalar;
  });
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, g] of gradientEntries(grads)) clipped.set(name, tf.mul(g, scale));
  scale.dispose();
  return { grads: clipped, norm };
}

/** Gradients multiplied by `factor` (e.g. 1 / micro-batches), as new tensors owned by the caller. */
export function scaleGradients(grads: Gradients, factor: number): Map<string, tf.Tensor> {
  if (!Number.isFinite(factor)) {
    throw new RangeError(`scaleGradients: factor must be a finite number, got ${factor}`);
  }
  const scaled = new Map<string, tf.Tensor>();
  for (const [name, g] of gradientEntries(grads))
    scaled.set(
      name,
      tf.tidy(() => tf.mul(g, factor)),
    );
  return scaled;
}

/**
 * Adds one micro-batch's gradients into a running sum, for gradient accumulation. It takes
 * ownership of both arguments so a loop needs no bookkeeping: the tensors of `grads` are disposed
 * (or moved into the sum on the first call, when `sum` is undefined), the sum's old tensors are
 * replaced and disposed, and the same map comes back. A name seen only in some micro-batches is
 * summed over those only. Shapes are checked before anything changes.
 */
export function accumulateGradients(
  sum: Map<string, tf.Tensor> | undefined,
  grads: Gradients,
): Map<string, tf.Tensor> {
  const entries = gradientEntries(grads);
  if (sum === undefined) return new Map(entries);
  for (const [name, g] of entries) {
    const total = sum.get(name);
    if (total !== undefined && !tf.util.arraysEqual(total.shape, g.shape)) {
      throw new Error(
        `accumulateGradients: gradient "${name}" has shape [${g.shape}] but the running sum has [${total.shape}]`,
      );
    }
  }
  for (const [name, g] of entries) {
    const total = sum.get(name);
    if (total === undefined) {
      sum.set(name, g);
      continue;
    }
    sum.set(name, tf.add(total, g));
    total.dispose();
    g.dispose();
  }
  return sum;
}
