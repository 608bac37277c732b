import { createParameters, type Dropout, type KVCache, type NamedParameter } from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';
import { ByteModel } from './byte-model.js';
import { type TransformerConfig, validateConfig } from './config.js';
import { createDecoder } from './generation/decoder.js';
import type { DecoderOptions, IncrementalDecoder } from './generation/incremental-decoder.js';
import { baselineLogits, baselineStep, modelParameters } from './model-definition.js';

/**
 * The baseline on tfjs: a byte-level decoder-only transformer (see `baselineLogits`). Like
 * MEGABYTE it shifts its input inside (a learned start vector, then bytes 0..T-2), so position t
 * predicts byte t.
 */
export class TransformerModel extends ByteModel<TransformerConfig> {
  private constructor(config: TransformerConfig, params: NamedParameter[]) {
    super(config, params);
  }

  static create(config: TransformerConfig, options: { seed?: number } = {}): TransformerModel {
    const checked = validateConfig(config);
    if (checked.kind !== 'transformer')
      throw new Error('TransformerModel.create needs a config of kind "transformer"');
    return new TransformerModel(checked, createParameters(modelParameters(checked), options.seed ?? 0));
  }

  protected logits(ids: tf.Tensor2D, dropout: Dropout): tf.Tensor3D {
    return tf.tidy(() => baselineLogits(this.ops(dropout), this.config, ids) as tf.Tensor3D);
  }

  /**
   * Incremental decoding (see `baselineStep`): feeds `ids` [B, n] (none: just the start vector,
   * into empty caches) after the positions already cached and returns the logits of the byte
   * after them [B, V]. With empty caches this starts from a prompt in one pass.
   */
  step(caches: readonly KVCache[], batch: number, ids?: tf.Tensor2D): tf.Tensor2D {
    const cached = caches[0]?.length ?? 0;
    const length = cached + (cached === 0 ? 1 : 0) + (ids?.shape[1] ?? 0);
    if (length > this.config.contextLength) {
      throw new RangeError(
        `transformer step: ${length} positions pass the context of ${this.config.contextLength}: feed at most ${this.config.contextLength - 1} bytes`,
      );
    }
    return tf.tidy(() => baselineStep(this.ops(), this.config, caches, cached, batch, ids) as tf.Tensor2D);
  }

  /** An incremental decoder over this model, for generation (see `createDecoder`). */
  createDecoder(options: DecoderOptions = {}): IncrementalDecoder {
    return createDecoder(this, options);
  }
}
