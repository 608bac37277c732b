import * as tf from '@tensorflow/tfjs-core';
import { type AttentionContext, CausalSelfAttention, type CrossPatch } from './attention.js';
import { type Dropout, NO_DROPOUT } from './dropout.js';
import { KVCache } from './kv-cache.js';
import { type Activation, Mlp } from './mlp.js';
import { createNorm, type Norm, type NormKind } from './norm.js';
import type { ParameterStore } from './parameters.js';

export interface TransformerOptions {
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  /** Hidden width of each MLP as a multiple of `dim`. */
  readonly mlpRatio: number;
  readonly activation: Activation;
  readonly norm: NormKind;
  readonly bias: boolean;
  /** Std of every weight's initialisation; residual output projections get std / sqrt(2 * layers). */
  readonly initStd: number;
}

export interface TransformerContext {
  /** One cache per layer, for incremental decoding. */
  readonly caches?: readonly KVCache[] | undefined;
  readonly dropout?: Dropout;
  /** Cross-patch attention in every layer (see `CrossPatch`); training and scoring only, not with caches. */
  readonly crossPatch?: CrossPatch | undefined;
}

/** Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)). */
export class TransformerBlock {
  readonly attnNorm: Norm;
  readonly attn: CausalSelfAttention;
  readonly mlpNorm: Norm;
  readonly mlp: Mlp;

  constructor(store: ParameterStore, options: TransformerOptions) {
    const { dim, heads, bias, initStd: std } = options;
    const outputStd = std / Math.sqrt(2 * options.layers);
    this.attnNorm = createNorm(options.norm, store.scope('attn_norm'), dim);
    this.attn = new CausalSelfAttention(store.scope('attn'), { dim, heads, bias, std, outputStd });
    this.mlpNorm = createNorm(options.norm, store.scope('mlp_norm'), dim);
    this.mlp = new Mlp(store.scope('mlp'), {
      dim,
      hiddenDim: Math.round(dim * options.mlpRatio),
      activation: options.activation,
      bias,
      std,
      outputStd,
    });
  }

  apply(x: tf.Tensor3D, context: AttentionContext = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const dropout = context.dropout ?? NO_DROPOUT;
      const attended = tf.add(x, dropout.apply(this.attn.apply(this.attnNorm.apply(x), context)));
      return tf.add(attended, dropout.apply(this.mlp.apply(this.mlpNorm.apply(attended))));
    });
  }
}

/** A stack of pre-norm blocks followed by a final norm: [B, T, D] -> [B, T, D]. */
export class Transformer {
  readonly blocks: TransformerBlock[];
  readonly finalNorm: Norm;

  constructor(
    store: ParameterStore,
    readonly options: TransformerOptions,
  ) {
    this.blocks = Array.from(
      { length: options.layers },
      (_, i) => new TransformerBlock(store.scope('layers').scope(i), options),
    );
    this.finalNorm = createNorm(options.norm, store.scope('norm'), options.dim);
  }

  apply(x: tf.Tensor3D, context: TransformerContext = {}): tf.Tensor3D {
    return tf.tidy(() => {
      let h = x;
      this.blocks.forEach((block, i) => {
        h = block.apply(h, {
          cache: context.caches?.[i],
          dropout: context.dropout ?? NO_DROPOUT,
          crossPatch: context.crossPatch,
        });
      });
      return this.finalNorm.apply(h);
    });
  }

  createCaches(): KVCache[] {
    return this.blocks.map(() => new KVCache());
  }
}
