import * as tf from '@tensorflow/tfjs-core';

/**
 * Dropout for one forward pass. Each call draws its mask from the pass seed and a call counter, so
 * a training step is reproducible (and resumable) from its seed alone.
 */
export class Dropout {
  private calls = 0;

  constructor(
    readonly rate: number,
    private readonly seed: number,
  ) {}

  apply<T extends tf.Tensor>(x: T): T {
    if (this.rate === 0) return x;
    this.calls += 1;
    return tf.dropout(x, this.rate, undefined, this.seed * 7919 + this.calls) as T;
  }
}

/** What a forward pass does with dropout: none at inference. */
export const NO_DROPOUT = new Dropout(0, 0);
