import {
  type Dropout,
  Embedding,
  type KVCache,
  Linear,
  type NamedParameter,
  ParameterStore,
  Transformer,
} from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';
import { ByteModel } from './byte-model.js';
import { type TransformerConfig, validateConfig } from './config.js';
import { createDecoder } from './generation/decoder.js';
import type { DecoderOptions, IncrementalDecoder } from './generation/incremental-decoder.js';

/**
 * The baseline: a byte-level decoder-only transformer. Like MEGABYTE it shifts its input inside
 * (a learned start vector, then bytes 0..T-2), so position t predicts byte t.
 */
export class TransformerModel extends ByteModel<TransformerConfig> {
  private constructor(
    config: TransformerConfig,
    readonly bytes: Embedding,
    readonly positions: tf.Variable, // [T, D]
    readonly start: tf.Variable, // [D]
    readonly transformer: Transformer,
    readonly head: Linear | undefined,
    params: NamedParameter[],
  ) {
    super(config, params);
  }

  static create(config: TransformerConfig, options: { seed?: number } = {}): TransformerModel {
    const checked = validateConfig(config);
    if (checked.kind !== 'transformer')
      throw new Error('TransformerModel.create needs a config of kind "transformer"');
    const store = ParameterStore.create(options.seed ?? 0);
    const { vocabSize, dim, initStd: std } = checked;
    const bytes = new Embedding(store.scope('embed').scope('bytes'), { count: vocabSize, dim, std });
    const positions = store.add(
      'embed.positions',
      [checked.contextLength, dim],
      { kind: 'normal', std },
      { decay: false },
    );
    const start = store.add('start', [dim], { kind: 'normal', std }, { decay: false });
    const transformer = new Transformer(store, {
      dim,
      layers: checked.layers,
      heads: checked.heads,
      mlpRatio: checked.mlpRatio,
      activation: checked.activation,
      norm: checked.norm,
      bias: checked.bias,
      initStd: std,
    });
    const head = checked.tieHead
      ? undefined
      : new Linear(store.scope('head'), { inFeatures: dim, outFeatures: vocabSize, bias: false, std });
    return new TransformerModel(checked, bytes, positions, start, transformer, head, store.parameters());
  }

  protected logits(ids: tf.Tensor2D, dropout: Dropout): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, length] = ids.shape;
      const dim = this.config.dim;
      const previous = this.bytes.apply(tf.slice(ids, [0, 0], [batch, length - 1])); // [B, T-1, D]
      const start = tf.tile(tf.reshape(this.start, [1, 1, dim]), [batch, 1, 1]);
      const shifted = tf.concat([start, previous], 1) as tf.Tensor3D; // [B, T, D]
      const h = dropout.apply(
        tf.add(shifted, tf.slice(this.positions, [0, 0], [length, dim])) as tf.Tensor3D,
      );
      return this.headLogits(this.transformer.apply(h, { dropout }));
    });
  }

  /** Incremental decoding: `previous` [B, 1] is the byte before `position`, absent at position 0. */
  step(caches: readonly KVCache[], batch: number, position: number, previous?: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const dim = this.config.dim;
      const input = previous
        ? this.bytes.apply(previous)
        : tf.tile(tf.reshape(this.start, [1, 1, dim]), [batch, 1, 1]);
      const h = tf.add(input, tf.slice(this.positions, [position, 0], [1, dim])) as tf.Tensor3D;
      return tf.reshape(this.headLogits(this.transformer.apply(h, { caches })), [
        batch,
        this.config.vocabSize,
      ]);
    });
  }

  /**
   * Starts incremental decoding from a prompt in one pass: feeds positions 0..n (the start vector,
   * then the n bytes of `ids` [B, n]) into empty caches and returns the logits of position n, the
   * byte after the prompt: [B, V]. Same result as n + 1 calls of `step`; needs n < contextLength.
   */
  prefill(caches: readonly KVCache[], ids: tf.Tensor2D): tf.Tensor2D {
    const [batch, length] = ids.shape;
    if (length >= this.config.contextLength) {
      throw new RangeError(
        `prefill: a prompt of ${length} bytes leaves no position for the next byte in the context of ${this.config.contextLength}: keep at most ${this.config.contextLength - 1}`,
      );
    }
    return tf.tidy(() => {
      const dim = this.config.dim;
      const start = tf.tile(tf.reshape(this.start, [1, 1, dim]), [batch, 1, 1]);
      const input = length === 0 ? start : tf.concat([start, this.bytes.apply(ids)], 1);
      const h = tf.add(input, tf.slice(this.positions, [0, 0], [length + 1, dim])) as tf.Tensor3D;
      const last = tf.slice(this.transformer.apply(h, { caches }), [0, length, 0], [batch, 1, dim]);
      return tf.reshape(this.headLogits(last as tf.Tensor3D), [batch, this.config.vocabSize]);
    });
  }

  private headLogits(h: tf.Tensor3D): tf.Tensor3D {
    return this.head ? this.head.apply(h) : this.bytes.unembed(h);
  }

  /** An incremental decoder over this model, for generation (see `createDecoder`). */
  createDecoder(options: DecoderOptions = {}): IncrementalDecoder {
    return createDecoder(this, options);
  }
}
