import * as tf from '@tensorflow/tfjs-core';
import { hasKernel } from './scaled-dot-product.js';

/**
 * The fused kernel `softmaxCrossEntropy` runs where the active backend registers one. Inputs
 * `{ logits, targets }`, outputs `[nats [N], logsumexp [N]]`: the second one is for the gradient.
 */
export const SOFTMAX_CROSS_ENTROPY_KERNEL = 'MegabyteSoftmaxCrossEntropy';

/**
 * Cross-entropy of each row, in nats: logsumexp(logits) - logits[target].
 * logits [N, V], targets [N] (int32 ids) -> [N]. A target outside [0, V) contributes 0, as with
 * a one-hot of it.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  if (targets.shape[0] !== logits.shape[0]) {
    throw new Error(
      `softmaxCrossEntropy: ${targets.shape[0]} targets for ${logits.shape[0]} rows of logits; pass one target id per row`,
    );
  }
  if (targets.dtype === 'int32' && hasKernel(SOFTMAX_CROSS_ENTROPY_KERNEL)) {
    const [nats, logsumexp] = tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_KERNEL, {
      logits,
      targets,
    }) as tf.Tensor[];
    logsumexp!.dispose(); // the kernel's gradient keeps its own copy
    return nats as tf.Tensor1D;
  }
  return compositeSoftmaxCrossEntropy(logits, targets);
}

/** The same loss from tfjs ops: what `softmaxCrossEntropy` runs without a fused kernel. */
export function compositeSoftmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(targets, 'int32'), logits.shape[1]); // [N, V]
    return tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), oneHot), -1)) as tf.Tensor1D;
  });
}
