import * as tf from '@tensorflow/tfjs-core';
import { matMul } from './matmul.js';

/**
 * Row lookup. The gradient of `gather` needs the UnsortedSegmentSum kernel, which some backends
 * (wasm) lack; there the table's gradient is computed densely instead.
 */
export function lookup(table: tf.Tensor2D | tf.Variable, ids: tf.Tensor): tf.Tensor2D {
  if (tf.getKernel('UnsortedSegmentSum', tf.getBackend()) !== undefined) {
    return tf.gather(table, ids) as tf.Tensor2D;
  }
  return lookupWithDenseGradient(table, ids);
}

/** `gather` whose table gradient is one-hot(ids)^T . dy: matMul and OneHot exist on every backend. */
export function lookupWithDenseGradient(table: tf.Tensor2D | tf.Variable, ids: tf.Tensor): tf.Tensor2D {
  const count = table.shape[0]!;
  const gatherRows = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = inputs[1] as tf.GradSaveFunc;
    // The ids tensor may be freed before the backward pass runs: keep a copy for it.
    save([ids]);
    return {
      value: tf.gather(inputs[0] as tf.Tensor, ids),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        matMul(tf.oneHot(tf.cast(saved[0]!, 'int32'), count), dy, true, false),
    };
  });
  return gatherRows(table as tf.Tensor) as tf.Tensor2D;
}
