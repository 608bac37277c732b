import * as tf from '@tensorflow/tfjs-core';
import { causalConv } from './blocks.js';
import type { ParameterStore } from './parameters.js';

export interface CausalConvOptions {
  readonly channels: number;
  readonly kernelSize: number;
  readonly std: number;
}

/** A causal 1-D convolution over the sequence axis (see `causalConv` in blocks.ts). */
export class CausalConv {
  readonly weight: tf.Variable; // [k*C, C]: rows j*C..(j+1)*C-1 weigh the input j positions back

  constructor(
    private readonly store: ParameterStore,
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
    return tf.tidy(
      () => causalConv(this.store.ops(), this.store.prefix, this.options.kernelSize, x) as tf.Tensor3D,
    );
  }
}
