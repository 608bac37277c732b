import { Embedding, type ParameterStore } from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';

export interface PatchEmbedderOptions {
  readonly vocabSize: number;
  readonly patchSize: number;
  /** D_G: the per-byte width; a patch vector has patchSize * byteDim entries. */
  readonly byteDim: number;
  /** Bytes covered by the learned positions (the context length T). */
  readonly maxPositions: number;
  readonly initStd: number;
}

/**
 * Step 1 of the paper: each byte gets its global embedding plus the embedding of its position, and
 * the P vectors of a patch are concatenated (not projected) into one vector of size P * D_G.
 */
export class PatchEmbedder {
  readonly bytes: Embedding;
  readonly positions: tf.Variable; // [T, D_G]

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
  }

  /** ids [B, K*P] starting at byte position `start` -> patch vectors [B, K, P*D_G] */
  apply(ids: tf.Tensor2D, start = 0): tf.Tensor3D {
    const { patchSize, byteDim, maxPositions } = this.options;
    const [batch, length] = ids.shape;
    if (length % patchSize !== 0)
      throw new Error(`patch embedder: ${length} bytes is not a whole number of patches of ${patchSize}`);
    if (start + length > maxPositions) {
      throw new Error(
        `patch embedder: bytes ${start}..${start + length} exceed the ${maxPositions} learned positions`,
      );
    }
    return tf.tidy(() => {
      const positions = tf.slice(this.positions, [start, 0], [length, byteDim]); // [T, D_G]
      const embedded = tf.add(this.bytes.apply(ids), positions); // [B, T, D_G]
      return tf.reshape(embedded, [batch, length / patchSize, patchSize * byteDim]); // [B, K, P*D_G]
    });
  }
}
