import {
  type CrossPatch,
  type Dropout,
  Embedding,
  type KVCache,
  Linear,
  type ParameterStore,
  Transformer,
} from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';
import { type ByteLevelSpec, byteLevel, byteStep, projectConditioning } from './byte-level.js';

/** What the byte level's parameters need beyond its spec. */
export interface ByteLevelInit {
  /** Hidden width of each MLP as a multiple of the level's width. */
  readonly mlpRatio: number;
  readonly initStd: number;
}

/**
 * The parameters of the local (byte) model and its tfjs entry points. What it computes is
 * defined once in byte-level.ts.
 */
export class LocalModel {
  readonly project: Linear; // D_G -> D_L, shared by every slice
  readonly bytes: Embedding; // [V, D_L]
  readonly pad: tf.Variable; // [D_L]
  readonly positions: tf.Variable; // [P, D_L]
  readonly transformer: Transformer;
  readonly head: Linear | undefined; // D_L -> V, absent when tied

  constructor(
    private readonly store: ParameterStore,
    readonly spec: ByteLevelSpec,
    init: ByteLevelInit,
  ) {
    const { vocabSize, patchSize, aboveByteDim, stack } = spec;
    const { dim, bias } = stack;
    const std = init.initStd;
    this.project = new Linear(store.scope('project'), {
      inFeatures: aboveByteDim,
      outFeatures: dim,
      bias,
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
    this.transformer = new Transformer(store, { ...stack, mlpRatio: init.mlpRatio, initStd: std });
    this.head = spec.tieHead
      ? undefined
      : new Linear(store.scope('head'), { inFeatures: dim, outFeatures: vocabSize, bias: false, std });
  }

  /**
   * outputs above [R, K, P*D_G] and ids [R, K*P] -> logits [R, K*P, V]. With cross-patch
   * attention, `sequence` says how the R*K patches group into sequences (see `CrossPatch`).
   */
  apply(
    above: tf.Tensor3D,
    ids: tf.Tensor2D,
    dropout?: Dropout,
    sequence?: Omit<CrossPatch, 'positions'>,
  ): tf.Tensor3D {
    return tf.tidy(() => {
      const [rows, length] = ids.shape;
      const grouping = sequence ?? { patchesPerSequence: above.shape[1] };
      const logits = byteLevel(this.store.ops(dropout), this.spec, above, ids, grouping); // [R*K, P, V]
      return tf.reshape(logits, [rows, length, this.spec.vocabSize]);
    });
  }

  /** Step 4: [B, K, P*D_G] -> [B*K, P, D_L] */
  projectGlobal(above: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => projectConditioning(this.store.ops(), this.spec, above) as tf.Tensor3D);
  }

  /**
   * Incremental decoding of one byte at `position` of the current patch (see `byteStep`):
   * conditioning [B, P, D_L], previous [B] the byte before it (any id at p = 0) -> logits [B, V].
   */
  step(
    caches: readonly KVCache[],
    conditioning: tf.Tensor3D,
    position: number,
    previous: tf.Tensor1D,
  ): tf.Tensor2D {
    return tf.tidy(
      () => byteStep(this.store.ops(), this.spec, caches, conditioning, position, previous) as tf.Tensor2D,
    );
  }

  createCaches(): KVCache[] {
    return this.transformer.createCaches();
  }
}
