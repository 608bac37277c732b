import { CausalConv, Embedding, gelu, type ParameterStore } from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';

export interface PatchEmbedderOptions {
  readonly vocabSize: number;
  readonly patchSize: number;
  /** D_G: the per-byte width; a patch vector has patchSize * byteDim entries. */
  readonly byteDim: number;
  /** Bytes covered by the learned positions (the context length T). */
  readonly maxPositions: number;
  readonly initStd: number;
  /**
   * Kernel sizes of the paper's convolutional patch encoder: residual causal convolutions over
   * the byte embeddings before they are grouped into patches, so a patch vector knows the order
   * of its bytes and the bytes just before it. None by default.
   */
  readonly convKernels?: readonly number[];
}

/**
 * Step 1 of the paper: each byte gets its global embedding plus the embedding of its position, and
 * the P vectors of a patch are concatenated (not projected) into one vector of size P * D_G.
 */
export class PatchEmbedder {
  readonly bytes: Embedding;
  readonly positions: tf.Variable; // [T, D_G]
  readonly convs: readonly CausalConv[];
  /** Bytes before a patch that its vector depends on through the convolutions. */
  readonly history: number;

  constructor(
    store: ParameterStore,
    readonly options: PatchEmbedderOptions,
  ) {
    const { vocabSize, byteDim, maxPositions, initStd } = options;
    this.bytes = new Embedding(store.scope('bytes'), { count: vocabSize, dim: byteDim, std: initStd });
    this.positions = store.add(
      'positions',
      [maxPositions, byteDim],
      { kind: 'normal', std: initStd },
      { decay: false },
    );
    const kernels = options.convKernels ?? [];
    this.convs = kernels.map(
      (kernelSize, i) =>
        new CausalConv(store.scope('conv').scope(String(i)), { channels: byteDim, kernelSize, std: initStd }),
    );
    this.history = kernels.reduce((sum, k) => sum + k - 1, 0);
  }

  /**
   * ids [B, K*P] starting at byte position `start` -> patch vectors [B, K, P*D_G]. With
   * convolutions, `before` [B, h] holds the h <= `history` bytes just before `start` (fewer only
   * where the sequence starts), which they read.
   */
  apply(ids: tf.Tensor2D, start = 0, before?: tf.Tensor2D): tf.Tensor3D {
    const { patchSize, byteDim } = this.options;
    const [batch, length] = ids.shape;
    if (length % patchSize !== 0)
      throw new Error(`patch embedder: ${length} bytes is not a whole number of patches of ${patchSize}`);
    return tf.tidy(() => {
      const earlier = before?.shape[1] ?? 0;
      const all = earlier > 0 ? tf.concat([before!, ids], 1) : ids; // [B, h+T]
      let embedded = this.embed(all, start - earlier); // [B, h+T, D_G]
      for (const conv of this.convs) embedded = tf.add(embedded, gelu(conv.apply(embedded)));
      const own = earlier > 0 ? tf.slice(embedded, [0, earlier, 0], [batch, length, byteDim]) : embedded;
      return tf.reshape(own, [batch, length / patchSize, patchSize * byteDim]); // [B, K, P*D_G]
    });
  }

  /** Step 1: byte embedding plus position embedding. ids [B, T] from position `start` -> [B, T, D_G] */
  private embed(ids: tf.Tensor2D, start: number): tf.Tensor3D {
    const { byteDim, maxPositions } = this.options;
    const length = ids.shape[1];
    if (start < 0 || start + length > maxPositions) {
      throw new Error(
        `patch embedder: bytes ${start}..${start + length} exceed the ${maxPositions} learned positions`,
      );
    }
    const positions = tf.slice(this.positions, [start, 0], [length, byteDim]); // [T, D_G]
    return tf.add(this.bytes.apply(ids), positions);
  }
}
