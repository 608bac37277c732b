import { CausalConv, Embedding, type ParameterStore } from '@megabyte/nn';
import type * as tf from '@tensorflow/tfjs-core';
import { convHistory, type PatchLevelSpec } from './patch-level.js';

export interface PatchEmbedderOptions {
  readonly vocabSize: number;
  /** Bytes covered by the learned positions (the context length T). */
  readonly maxPositions: number;
  readonly initStd: number;
}

/**
 * The parameters of step 1 (see `embedPatches` in patch-level.ts): each byte's global embedding,
 * the embedding of its position and, for the paper's convolutional patch encoder, the weights of
 * its residual causal convolutions.
 */
export class PatchEmbedder {
  readonly bytes: Embedding;
  readonly positions: tf.Variable; // [T, D_G]
  readonly convs: readonly CausalConv[];
  /** Bytes before a patch that its vector depends on through the convolutions. */
  readonly history: number;

  constructor(
    store: ParameterStore,
    private readonly spec: PatchLevelSpec,
    readonly options: PatchEmbedderOptions,
  ) {
    const { vocabSize, maxPositions, initStd } = options;
    const { byteDim } = spec;
    this.bytes = new Embedding(store.scope('bytes'), { count: vocabSize, dim: byteDim, std: initStd });
    this.positions = store.add(
      'positions',
      [maxPositions, byteDim],
      { kind: 'normal', std: initStd },
      { decay: false },
    );
    this.convs = spec.convKernels.map(
      (kernelSize, i) =>
        new CausalConv(store.scope('conv').scope(String(i)), { channels: byteDim, kernelSize, std: initStd }),
    );
    this.history = convHistory(spec);
  }

  /** Refuses ids [B, T] from byte `start` that are not whole patches or pass the learned positions. */
  checkSpan(ids: tf.Tensor2D, start: number): void {
    const length = ids.shape[1];
    const { patchSize } = this.spec;
    const { maxPositions } = this.options;
    if (length % patchSize !== 0)
      throw new Error(`patch embedder: ${length} bytes is not a whole number of patches of ${patchSize}`);
    if (start < 0 || start + length > maxPositions) {
      throw new Error(
        `patch embedder: bytes ${start}..${start + length} exceed the ${maxPositions} learned positions`,
      );
    }
  }
}
