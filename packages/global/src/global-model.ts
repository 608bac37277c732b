import {
  type Dropout,
  type KVCache,
  type ParameterStore,
  Transformer,
  type TransformerOptions,
} from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';
import { PatchEmbedder } from './patch-embedder.js';

export interface GlobalModelOptions {
  readonly vocabSize: number;
  readonly patchSize: number;
  readonly byteDim: number;
  readonly contextLength: number;
  /** The global transformer; its width must be patchSize * byteDim. */
  readonly transformer: Omit<TransformerOptions, 'dim'>;
}

/**
 * The global model: embeds patches, shifts them right by one patch behind a learned pad patch,
 * and runs a causal transformer over the patch sequence. Its output at patch k has seen only the
 * bytes of patches < k.
 */
export class GlobalModel {
  readonly embedder: PatchEmbedder;
  readonly pad: tf.Variable; // [P*D_G]
  readonly transformer: Transformer;
  readonly width: number;

  constructor(
    store: ParameterStore,
    readonly options: GlobalModelOptions,
  ) {
    const { vocabSize, patchSize, byteDim, contextLength, transformer } = options;
    this.width = patchSize * byteDim;
    this.embedder = new PatchEmbedder(store.scope('embed'), {
      vocabSize,
      patchSize,
      byteDim,
      maxPositions: contextLength,
      initStd: transformer.initStd,
    });
    this.pad = store.add('pad', [this.width], { kind: 'normal', std: transformer.initStd }, { decay: false });
    this.transformer = new Transformer(store, { ...transformer, dim: this.width });
  }

  /** ids [B, K*P] -> global outputs [B, K, P*D_G], one per patch, each conditioned on earlier patches. */
  apply(ids: tf.Tensor2D, dropout?: Dropout): tf.Tensor3D {
    return tf.tidy(() => {
      const patches = this.embedder.apply(ids); // [B, K, P*D_G]
      const shifted = this.shiftPatches(patches); // [B, K, P*D_G]
      return this.transformer.apply(dropout ? dropout.apply(shifted) : shifted, { dropout });
    });
  }

  /** Step 2: the pad patch first, the last patch dropped. [B, K, W] -> [B, K, W] */
  shiftPatches(patches: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, count, width] = patches.shape;
      const pad: tf.Tensor3D = tf.tile(tf.reshape(this.pad, [1, 1, width]), [batch, 1, 1]);
      return tf.concat<tf.Tensor3D>(
        [pad, tf.slice(patches, [0, 0, 0], [batch, count - 1, width]) as tf.Tensor3D],
        1,
      );
    });
  }

  /**
   * Incremental decoding. With `patch` undefined, feeds the pad patch (the first global step);
   * otherwise feeds the embedding of the completed patch that starts at byte `start`.
   * Returns the global output for the next patch: [B, 1, P*D_G].
   */
  step(caches: readonly KVCache[], batch: number, patch?: tf.Tensor2D, start = 0): tf.Tensor3D {
    return tf.tidy(() => {
      const input = patch
        ? this.embedder.apply(patch, start)
        : tf.tile(tf.reshape(this.pad, [1, 1, this.width]), [batch, 1, 1]);
      return this.transformer.apply(input as tf.Tensor3D, { caches });
    });
  }

  createCaches(): KVCache[] {
    return this.transformer.createCaches();
  }
}
