import * as tf from '@tensorflow/tfjs-core';
import { type AttentionContext, CausalSelfAttention, type CrossPatch } from './attention.js';
import { type Activation, block, type StackSpec, stack } from './blocks.js';
import type { Dropout } from './dropout.js';
import { KVCache } from './kv-cache.js';
import { Mlp } from './mlp.js';
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

/** What the blocks' definition needs of a stack built with `options` under `store`'s scope. */
function stackSpec(store: ParameterStore, options: TransformerOptions): StackSpec {
  const { dim, layers, heads, activation, norm, bias } = options;
  return { prefix: store.prefix, dim, layers, heads, activation, norm, bias };
}

/** Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)) (see `block` in blocks.ts). */
export class TransformerBlock {
  readonly attnNorm: Norm;
  readonly attn: CausalSelfAttention;
  readonly mlpNorm: Norm;
  readonly mlp: Mlp;

  constructor(
    private readonly store: ParameterStore,
    private readonly options: TransformerOptions,
  ) {
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
    return tf.tidy(
      () =>
        block(
          this.store.ops(context.dropout),
          stackSpec(this.store, this.options),
          this.store.prefix,
          x,
          context.cache,
          context.crossPatch,
        ) as tf.Tensor3D,
    );
  }
}

/** A stack of pre-norm blocks followed by a final norm: [B, T, D] -> [B, T, D] (see `stack` in blocks.ts). */
export class Transformer {
  readonly blocks: TransformerBlock[];
  readonly finalNorm: Norm;
  /** What the blocks' definition needs of this stack. */
  readonly spec: StackSpec;

  constructor(
    private readonly store: ParameterStore,
    readonly options: TransformerOptions,
  ) {
    this.blocks = Array.from(
      { length: options.layers },
      (_, i) => new TransformerBlock(store.scope('layers').scope(i), options),
    );
    this.finalNorm = createNorm(options.norm, store.scope('norm'), options.dim);
    this.spec = stackSpec(store, options);
  }

  apply(x: tf.Tensor3D, context: TransformerContext = {}): tf.Tensor3D {
    return tf.tidy(
      () =>
        stack(this.store.ops(context.dropout), this.spec, x, {
          caches: context.caches,
          crossPatch: context.crossPatch,
        }) as tf.Tensor3D,
    );
  }

  createCaches(): KVCache[] {
    return this.blocks.map(() => new KVCache());
  }
}
