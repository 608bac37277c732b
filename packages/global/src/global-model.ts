import {
  type Dropout,
  type KVCache,
  Linear,
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
  /** Bytes seen at once: the context, or for a middle level the patch of the level above. */
  readonly contextLength: number;
  /** The global transformer; its width must be patchSize * byteDim. */
  readonly transformer: Omit<TransformerOptions, 'dim'>;
  /**
   * For a middle level of a deeper hierarchy: the per-byte width of the level above, whose
   * output for each of its patches conditions this level's patches inside it.
   */
  readonly parentByteDim?: number;
  /** Kernel sizes of the convolutional patch encoder (see PatchEmbedder); none by default. */
  readonly convKernels?: readonly number[];
}

/**
 * The global model: embeds patches, shifts them right by one patch behind a learned pad patch,
 * and runs a causal transformer over the patch sequence. Its output at patch k has seen only the
 * bytes of patches < k.
 *
 * The same model is a middle level of a deeper hierarchy when it has a parent: it then runs
 * inside each patch of the level above, and the parent's output for that patch, cut into
 * per-byte slices and projected, is added to its shifted input (as the local model's input is
 * conditioned in the two-level model).
 */
export class GlobalModel {
  readonly embedder: PatchEmbedder;
  readonly pad: tf.Variable; // [P*D_G]
  readonly transformer: Transformer;
  readonly width: number;
  readonly project: Linear | undefined; // D_parent -> D_G, for a middle level only

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
      ...(options.convKernels && { convKernels: options.convKernels }),
    });
    this.pad = store.add('pad', [this.width], { kind: 'normal', std: transformer.initStd }, { decay: false });
    this.project =
      options.parentByteDim === undefined
        ? undefined
        : new Linear(store.scope('project'), {
            inFeatures: options.parentByteDim,
            outFeatures: byteDim,
            bias: transformer.bias,
            std: transformer.initStd,
          });
    this.transformer = new Transformer(store, { ...transformer, dim: this.width });
  }

  /**
   * ids [B, K*P] -> global outputs [B, K, P*D_G], one per patch, each conditioned on earlier patches.
   * A middle level also takes its parent's output [B', K', P'*D'] with B = B'*K' (one row per
   * parent patch, K*P = P').
   */
  apply(ids: tf.Tensor2D, dropout?: Dropout, parentOut?: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const patches = this.embedder.apply(ids); // [B, K, P*D_G]
      let h = this.shiftPatches(patches); // [B, K, P*D_G]
      if (parentOut) h = tf.add(h, this.condition(parentOut));
      return this.transformer.apply(dropout ? dropout.apply(h) : h, { dropout });
    });
  }

  /**
   * A middle level's conditioning: each parent patch's output cut into per-byte slices of the
   * parent's width, projected to this level's, and regrouped into this level's patches.
   * [B', K', P'*D'] -> [B'*K', P'/P, P*D_G]
   */
  condition(parentOut: tf.Tensor3D): tf.Tensor3D {
    const project = this.project;
    if (!project)
      throw new Error('global model: only a middle level (with parentByteDim) takes a parent output');
    return tf.tidy(() => {
      const [batch, count, width] = parentOut.shape;
      const parentBytes = width / project.options.inFeatures; // P'
      const slices = tf.reshape(parentOut, [batch * count, parentBytes, project.options.inFeatures]);
      const projected = project.apply(slices as tf.Tensor3D); // [B'*K', P', D_G]
      return tf.reshape(projected, [batch * count, parentBytes / this.options.patchSize, this.width]);
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
   * otherwise feeds the embedding of the completed patch (or patches) `patch.ids` that start at
   * byte `patch.start`, after the bytes `patch.before` (what a convolutional encoder reads; see
   * `embedder.history`). A middle level adds its conditioning for the next patch [B, 1, P*D_G]
   * (a row of `condition`'s output). Returns the global output for the next patch: [B, 1, P*D_G].
   */
  step(
    caches: readonly KVCache[],
    batch: number,
    patch?: { readonly ids: tf.Tensor2D; readonly start: number; readonly before?: tf.Tensor2D },
    conditioning?: tf.Tensor3D,
  ): tf.Tensor3D {
    return tf.tidy(() => {
      let input = patch
        ? this.embedder.apply(patch.ids, patch.start, patch.before)
        : (tf.tile(tf.reshape(this.pad, [1, 1, this.width]), [batch, 1, 1]) as tf.Tensor3D);
      if (conditioning) input = tf.add(input, conditioning);
      return this.transformer.apply(input, { caches });
    });
  }

  createCaches(): KVCache[] {
    return this.transformer.createCaches();
  }
}
