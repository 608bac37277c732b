import { type Dropout, type KVCache, Linear, type ParameterStore, Transformer } from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';
import { PatchEmbedder } from './patch-embedder.js';
import { conditionOnParent, type PatchLevelSpec, patchLevel, patchStep } from './patch-level.js';

/** What a patch level's parameters need beyond its spec. */
export interface PatchLevelInit {
  readonly vocabSize: number;
  /** Bytes seen at once (learned positions): the context, or for a middle level the patch above. */
  readonly positions: number;
  /** Hidden width of each MLP as a multiple of the level's width. */
  readonly mlpRatio: number;
  readonly initStd: number;
}

/**
 * The parameters of a patch level (the global model, or a middle level of a deeper hierarchy)
 * and its tfjs entry points. What it computes is defined once in patch-level.ts.
 */
export class GlobalModel {
  readonly embedder: PatchEmbedder;
  readonly pad: tf.Variable; // [P*D_G]
  readonly transformer: Transformer;
  readonly width: number;
  readonly project: Linear | undefined; // D_parent -> D_G, for a middle level only

  constructor(
    private readonly store: ParameterStore,
    readonly spec: PatchLevelSpec,
    init: PatchLevelInit,
  ) {
    const { patchSize, byteDim, stack } = spec;
    const { initStd: std } = init;
    this.width = patchSize * byteDim;
    this.embedder = new PatchEmbedder(store.scope('embed'), spec, {
      vocabSize: init.vocabSize,
      maxPositions: init.positions,
      initStd: std,
    });
    this.pad = store.add('pad', [this.width], { kind: 'normal', std }, { decay: false });
    this.project = spec.parent
      ? new Linear(store.scope('project'), {
          inFeatures: spec.parent.byteDim,
          outFeatures: byteDim,
          bias: stack.bias,
          std,
        })
      : undefined;
    this.transformer = new Transformer(store, { ...stack, mlpRatio: init.mlpRatio, initStd: std });
  }

  /**
   * ids [B, K*P] -> outputs [B, K, P*D_G], one per patch, each conditioned on earlier patches.
   * A middle level also takes its parent's output [B', K', P'*D'] with B = B'*K'.
   */
  apply(ids: tf.Tensor2D, dropout?: Dropout, parentOut?: tf.Tensor3D): tf.Tensor3D {
    this.embedder.checkSpan(ids, 0);
    return tf.tidy(() => patchLevel(this.store.ops(dropout), this.spec, ids, parentOut) as tf.Tensor3D);
  }

  /** A middle level's conditioning: [B', K', P'*D'] -> [B'*K', P'/P, P*D_G] */
  condition(parentOut: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => conditionOnParent(this.store.ops(), this.spec, parentOut) as tf.Tensor3D);
  }

  /**
   * Incremental decoding (see `patchStep`): feeds the patches `ids` [B, n*P] completed since the
   * last step (none on a middle level's first step in a patch above), after the pad patch when
   * the caches are empty, and returns the output for the patch after them [B, 1, P*D_G].
   */
  step(
    caches: readonly KVCache[],
    batch: number,
    ids?: tf.Tensor2D,
    context: { readonly before?: tf.Tensor2D | undefined; readonly conditioning?: tf.Tensor3D } = {},
  ): tf.Tensor3D {
    const cached = caches[0]?.length ?? 0;
    if (ids) this.embedder.checkSpan(ids, Math.max(0, cached - 1) * this.spec.patchSize);
    return tf.tidy(
      () => patchStep(this.store.ops(), this.spec, caches, cached, batch, ids, context) as tf.Tensor3D,
    );
  }

  createCaches(): KVCache[] {
    return this.transformer.createCaches();
  }
}
