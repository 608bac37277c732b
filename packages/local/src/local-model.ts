import {
  type CrossPatch,
  type Dropout,
  Embedding,
  type KVCache,
  Linear,
  type ParameterStore,
  Transformer,
  type TransformerOptions,
} from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';

export interface LocalModelOptions {
  readonly vocabSize: number;
  readonly patchSize: number;
  /** D_G: width of each byte's slice of the global output. */
  readonly globalByteDim: number;
  /** The local transformer (width D_L) that runs inside each patch. */
  readonly transformer: TransformerOptions;
  /** Use the local byte embedding as the output head (logits = h L^T). */
  readonly tieHead: boolean;
  /**
   * The paper's cross-patch attention: every layer also attends to the last `crossPatch`
   * positions of the previous patch (none for the first patch of a sequence). 0: off.
   */
  readonly crossPatch?: number;
}

/**
 * The local model: predicts the bytes of each patch from the global output for that patch and the
 * bytes before them in the same patch. All patches run in parallel as a batch of B*K sequences.
 */
export class LocalModel {
  readonly project: Linear; // D_G -> D_L, shared by every slice
  readonly bytes: Embedding; // [V, D_L]
  readonly pad: tf.Variable; // [D_L]
  readonly positions: tf.Variable; // [P, D_L]
  readonly transformer: Transformer;
  readonly head: Linear | undefined; // D_L -> V, absent when tied

  constructor(
    store: ParameterStore,
    readonly options: LocalModelOptions,
  ) {
    const { vocabSize, patchSize, globalByteDim, transformer } = options;
    const dim = transformer.dim;
    const std = transformer.initStd;
    this.project = new Linear(store.scope('project'), {
      inFeatures: globalByteDim,
      outFeatures: dim,
      bias: transformer.bias,
      std,
    });
    this.bytes = new Embedding(store.scope('embed').scope('bytes'), { count: vocabSize, dim, std });
    this.pad = store.add('pad', [dim], { kind: 'normal', std }, { decay: false });
    this.positions = store.add(
      'embed.positions',
      [patchSize, dim],
      { kind: 'normal', std },
      { decay: false },
    );
    this.transformer = new Transformer(store, transformer);
    this.head = options.tieHead
      ? undefined
      : new Linear(store.scope('head'), { inFeatures: dim, outFeatures: vocabSize, bias: false, std });
  }

  /**
   * global outputs [B, K, P*D_G] and ids [B, K*P] -> logits [B, K*P, V]. With cross-patch
   * attention, `sequence` says how the B*K patches group into sequences (see `CrossPatch`).
   */
  apply(
    globalOut: tf.Tensor3D,
    ids: tf.Tensor2D,
    dropout?: Dropout,
    sequence?: Omit<CrossPatch, 'positions'>,
  ): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, length] = ids.shape;
      const conditioning = this.projectGlobal(globalOut); // [B*K, P, D_L]
      const previousBytes = this.shiftBytes(ids); // [B*K, P, D_L]
      let h = tf.add(tf.add(conditioning, previousBytes), this.positions) as tf.Tensor3D;
      if (dropout) h = dropout.apply(h);
      const positions = this.options.crossPatch ?? 0;
      const crossPatch =
        positions > 0
          ? { positions, patchesPerSequence: sequence?.patchesPerSequence ?? globalOut.shape[1], ...sequence }
          : undefined;
      const logits = this.logits(this.transformer.apply(h, { dropout, crossPatch })); // [B*K, P, V]
      return tf.reshape(logits, [batch, length, this.options.vocabSize]);
    });
  }

  /** Step 4: slice p of each patch's global output, projected to D_L. [B, K, P*D_G] -> [B*K, P, D_L] */
  projectGlobal(globalOut: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, count] = globalOut.shape;
      const { patchSize, globalByteDim } = this.options;
      const slices = tf.reshape(globalOut, [batch * count, patchSize, globalByteDim]);
      return this.project.apply(slices as tf.Tensor3D);
    });
  }

  /** Step 5: embedding of the previous byte of the same patch, the learned pad at p = 0. [B, K*P] -> [B*K, P, D_L] */
  shiftBytes(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const { patchSize } = this.options;
      const dim = this.options.transformer.dim;
      const [batch, length] = ids.shape;
      const rows = (batch * length) / patchSize;
      const patches = tf.reshape(ids, [rows, patchSize]);
      const embedded = this.bytes.apply(tf.slice(patches, [0, 0], [rows, patchSize - 1])); // [B*K, P-1, D_L]
      const pad = tf.tile(tf.reshape(this.pad, [1, 1, dim]), [rows, 1, 1]);
      return tf.concat([pad, embedded], 1) as tf.Tensor3D;
    });
  }

  /** Step 7: [..., D_L] -> [..., V] */
  logits(h: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      return this.head ? this.head.apply(h) : this.bytes.unembed(h);
    });
  }

  /**
   * Incremental decoding of one byte at position p of the current patch.
   * conditioning [B, 1, D_L] is that position's projected global slice (see `projectGlobal`);
   * previous [B] holds the byte before it in the patch, or is undefined at p = 0.
   * Returns logits [B, V].
   */
  step(
    caches: readonly KVCache[],
    conditioning: tf.Tensor3D,
    position: number,
    previous?: tf.Tensor1D,
  ): tf.Tensor2D {
    return tf.tidy(() => {
      const [batch] = conditioning.shape;
      const dim = this.options.transformer.dim;
      const previousByte = previous
        ? this.bytes.apply(tf.reshape(previous, [batch, 1]))
        : tf.tile(tf.reshape(this.pad, [1, 1, dim]), [batch, 1, 1]);
      const positionEmbedding = tf.slice(this.positions, [position, 0], [1, dim]);
      const h = tf.add(tf.add(conditioning, previousByte), positionEmbedding) as tf.Tensor3D; // [B, 1, D_L]
      return tf.reshape(this.logits(this.transformer.apply(h, { caches })), [batch, this.options.vocabSize]);
    });
  }

  createCaches(): KVCache[] {
    return this.transformer.createCaches();
  }
}
