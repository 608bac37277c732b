import * as tf from '@tensorflow/tfjs-core';
import { matMul } from './matmul.js';
import type { ParameterStore } from './parameters.js';

export interface CausalConvOptions {
  readonly channels: number;
  readonly kernelSize: number;
  readonly std: number;
}

/**
 * A causal 1-D convolution over the sequence axis, channels in = channels out, no bias: position t
 * sees positions t - k + 1 .. t, with zeros before the start. Written as one matrix product over
 * the k shifted copies of the input side by side, so that it runs, with gradients, on every
 * backend that has matMul (conv kernels and their gradients are missing on some).
 */
export class CausalConv {
  readonly weight: tf.Variable; // [k*C, C]: rows j*C..(j+1)*C-1 weigh the input j positions back

  constructor(
    store: ParameterStore,
    readonly options: CausalConvOptions,
  ) {
    const { channels, kernelSize, std } = options;
    this.weight = store.add(
      'weight',
      [kernelSize * channels, channels],
      { kind: 'normal', std },
      { decay: true },
    );
  }

  /** x [B, T, C] -> [B, T, C] */
  apply(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, length, channels] = x.shape;
      const { kernelSize } = this.options;
      const padded = tf.pad(x, [
        [0, 0],
        [kernelSize - 1, 0],
        [0, 0],
      ]); // [B, T+k-1, C]
      // Copy j holds the input j positions back, in the order of the weight's row blocks.
      const shifted = Array.from({ length: kernelSize }, (_, j) =>
        tf.slice(padded, [0, kernelSize - 1 - j, 0], [batch, length, channels]),
      );
      const stacked = tf.reshape(tf.concat(shifted, 2), [batch * length, kernelSize * channels]);
      return tf.reshape(matMul(stacked, this.weight), [batch, length, channels]);
    });
  }
}
