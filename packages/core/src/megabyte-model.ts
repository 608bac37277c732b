import { byteLevel } from '@megabyte/local';
import { createParameters, type Dropout, type NamedParameter } from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';
import { ByteModel, sequenceNats } from './byte-model.js';
import { type LegacyMegabyteConfig, type MegabyteConfig, validateConfig } from './config.js';
import { createDecoder } from './generation/decoder.js';
import type { DecoderOptions, IncrementalDecoder } from './generation/incremental-decoder.js';
import {
  type MegabyteSpec,
  megabyteLogits,
  megabyteSpec,
  modelParameters,
  patchLevelsForward,
} from './model-definition.js';

/**
 * MEGABYTE (Yu et al. 2023) on tfjs: the parameters its levels declare and the forward pass they
 * define (model-definition.ts), outermost level first: the global transformer over patches of P
 * bytes, any middle levels (each run inside every patch of the level above, over smaller
 * patches), and the local transformer that predicts the bytes of each patch.
 */
export class MegabyteModel extends ByteModel<MegabyteConfig> {
  private constructor(
    config: MegabyteConfig,
    /** The levels as the model definition reads them. */
    readonly spec: MegabyteSpec,
    params: NamedParameter[],
  ) {
    super(config, params);
  }

  /** A model with the parameters of the levels a config lists; `config` may be in either form (see `validateConfig`). */
  static create(
    config: MegabyteConfig | LegacyMegabyteConfig,
    options: { seed?: number } = {},
  ): MegabyteModel {
    const checked = validateConfig(config);
    if (checked.kind !== 'megabyte')
      throw new Error('MegabyteModel.create needs a config of kind "megabyte"');
    const params = createParameters(modelParameters(checked), options.seed ?? 0);
    return new MegabyteModel(checked, megabyteSpec(checked), params);
  }

  protected logits(ids: tf.Tensor2D, dropout: Dropout): tf.Tensor3D {
    const [batch, length] = ids.shape;
    const logits = megabyteLogits(this.ops(dropout), this.spec, ids); // [B*K, P, V]
    return tf.reshape(logits, [batch, length, this.config.vocabSize]);
  }

  /**
   * The local level, the widest in activations (D_L and V per byte), runs over a few thousand
   * bytes at a time: a window of a million bytes then needs the memory of one chunk, not of all.
   * With cross-patch attention each chunk starts as many patches early as the local model has
   * layers (a patch's last layer depends on that many patches before it) and drops their output.
   */
  protected override paddedNats(ids: tf.Tensor2D, chunkBytes: number): tf.Tensor2D {
    const [batch, length] = ids.shape;
    const { byteLevel: local } = this.spec;
    const ops = this.ops();
    const above = patchLevelsForward(ops, this.spec, ids);
    // One row per local patch, with the output above that conditions it.
    const rows = tf.reshape(above.rows, [-1, local.patchSize]) as tf.Tensor2D; // [R, P]
    const out = tf.reshape(above.out, [rows.shape[0], 1, -1]) as tf.Tensor3D; // [R, 1, P*D]
    const [count, bytesPerRow] = rows.shape;
    const chunk = Math.max(1, Math.floor(chunkBytes / bytesPerRow));
    const overlap = local.crossPatch > 0 ? local.stack.layers : 0;
    const patchesPerSequence = length / bytesPerRow;
    const parts: tf.Tensor2D[] = [];
    for (let first = 0; first < count; first += chunk) {
      const size = Math.min(chunk, count - first);
      const from = Math.max(0, first - overlap);
      parts.push(
        tf.tidy(() => {
          const chunkRows = tf.slice(rows, [from, 0], [first + size - from, bytesPerRow]);
          const chunkOut = tf.slice(out, [from, 0, 0], [first + size - from, 1, out.shape[2]]);
          const sequence = { patchesPerSequence, firstRow: from };
          const logits = byteLevel(ops, local, chunkOut, chunkRows, sequence) as tf.Tensor3D; // [rows, P, V]
          const nats = sequenceNats(logits, chunkRows);
          return tf.slice(nats, [first - from, 0], [size, bytesPerRow]); // [size, bytes per row]
        }),
      );
    }
    return tf.reshape(parts.length === 1 ? parts[0]! : tf.concat(parts, 0), [batch, length]);
  }

  /** An incremental decoder over this model, for generation (see `createDecoder`). */
  createDecoder(options: DecoderOptions = {}): IncrementalDecoder {
    return createDecoder(this, options);
  }
}
