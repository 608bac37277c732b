import { GlobalModel } from '@megabyte/global';
import { LocalModel } from '@megabyte/local';
import { type Dropout, type NamedParameter, NO_DROPOUT, ParameterStore } from '@megabyte/nn';
import * as tf from '@tensorflow/tfjs-core';
import { ByteModel, sequenceNats } from './byte-model.js';
import {
  byteLevel,
  type LegacyMegabyteConfig,
  levelScope,
  type MegabyteConfig,
  patchLevels,
  validateConfig,
} from './config.js';
import { createDecoder } from './generation/decoder.js';
import type { DecoderOptions, IncrementalDecoder } from './generation/incremental-decoder.js';

/**
 * MEGABYTE (Yu et al. 2023) as a list of levels, outermost first: the global transformer over
 * patches of P bytes, any middle levels (each a global model run inside every patch of the level
 * above, over smaller patches), and the local transformer that predicts the bytes of each patch.
 */
export class MegabyteModel extends ByteModel<MegabyteConfig> {
  /** Every level above the byte level, outermost (the global model) first. */
  readonly patchLevels: readonly GlobalModel[];
  readonly local: LocalModel;

  private constructor(
    config: MegabyteConfig,
    patchLevels: GlobalModel[],
    local: LocalModel,
    params: NamedParameter[],
  ) {
    super(config, params);
    this.patchLevels = patchLevels;
    this.local = local;
  }

  /** The outermost level, over patches of the whole context. */
  get global(): GlobalModel {
    return this.patchLevels[0]!;
  }

  /** The levels between global and local, outermost first; empty for the paper's two levels. */
  get middle(): readonly GlobalModel[] {
    return this.patchLevels.slice(1);
  }

  /** Builds the levels a config lists, outermost first; `config` may be in either form (see `validateConfig`). */
  static create(
    config: MegabyteConfig | LegacyMegabyteConfig,
    options: { seed?: number } = {},
  ): MegabyteModel {
    const checked = validateConfig(config);
    if (checked.kind !== 'megabyte')
      throw new Error('MegabyteModel.create needs a config of kind "megabyte"');
    const store = ParameterStore.create(options.seed ?? 0);
    const { vocabSize, contextLength, levels } = checked;
    const shared = {
      mlpRatio: checked.mlpRatio,
      activation: checked.activation,
      norm: checked.norm,
      bias: checked.bias,
      initStd: checked.initStd,
    };
    const scope = (i: number) => store.scope(levelScope(i, levels.length));
    // Each patch level runs inside one patch of the level above (the outermost: the context) and,
    // below the outermost, is conditioned on that level's output, as the byte level is.
    let above: { patchSize: number; byteDim: number } | undefined;
    const patchModels = patchLevels(checked).map((level, i) => {
      const model = new GlobalModel(scope(i), {
        vocabSize,
        patchSize: level.patchSize,
        byteDim: level.byteDim,
        contextLength: above?.patchSize ?? contextLength,
        transformer: { ...shared, layers: level.layers, heads: level.heads },
        ...(above && { parentByteDim: above.byteDim }),
        ...(level.convKernels && { convKernels: level.convKernels }),
      });
      above = level;
      return model;
    });
    const bytes = byteLevel(checked);
    const localModel = new LocalModel(scope(levels.length - 1), {
      vocabSize,
      patchSize: above!.patchSize,
      globalByteDim: above!.byteDim,
      transformer: { ...shared, dim: bytes.dim, layers: bytes.layers, heads: bytes.heads },
      tieHead: checked.tieHead,
      crossPatch: bytes.crossPatch ?? 0,
    });
    return new MegabyteModel(checked, patchModels, localModel, store.parameters());
  }

  protected logits(ids: tf.Tensor2D, dropout: Dropout): tf.Tensor3D {
    const [batch, length] = ids.shape;
    const { rows, out } = this.levelsAboveLocal(ids, dropout);
    const sequence = { patchesPerSequence: length / this.local.options.patchSize };
    const logits = this.local.apply(out, rows, dropout, sequence); // [rows, bytes per row, V]
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
    const { rows, out } = this.levelsAboveLocal(ids, NO_DROPOUT);
    const [count, bytesPerRow] = rows.shape;
    const chunk = Math.max(1, Math.floor(chunkBytes / bytesPerRow));
    const overlap = (this.local.options.crossPatch ?? 0) > 0 ? this.local.options.transformer.layers : 0;
    const patchesPerSequence = length / bytesPerRow;
    const parts: tf.Tensor2D[] = [];
    for (let first = 0; first < count; first += chunk) {
      const size = Math.min(chunk, count - first);
      const from = Math.max(0, first - overlap);
      parts.push(
        tf.tidy(() => {
          const chunkRows = tf.slice(rows, [from, 0], [first + size - from, bytesPerRow]);
          const chunkOut = tf.slice(out, [from, 0, 0], [first + size - from, out.shape[1], out.shape[2]]);
          const sequence = { patchesPerSequence, firstRow: from };
          const nats = sequenceNats(this.local.apply(chunkOut, chunkRows, undefined, sequence), chunkRows);
          return tf.slice(nats, [first - from, 0], [size, bytesPerRow]); // [size, bytes per row]
        }),
      );
    }
    return tf.reshape(parts.length === 1 ? parts[0]! : tf.concat(parts, 0), [batch, length]);
  }

  /**
   * Every level above the local one: the global model over the whole sequence, then each middle
   * level inside the patches of the level above. Returns the bytes of each patch of the last of
   * them, one row per local patch [R, P_L], and the output that conditions each [R, 1, P_L*D].
   */
  private levelsAboveLocal(ids: tf.Tensor2D, dropout: Dropout): { rows: tf.Tensor2D; out: tf.Tensor3D } {
    let rows = ids; // [B, T]: the outermost level's sequences
    let out: tf.Tensor3D | undefined;
    this.patchLevels.forEach((level, i) => {
      // Below the outermost level, one sequence per patch of the level above: [B*K, P]
      if (i > 0) rows = tf.reshape(rows, [-1, level.options.contextLength]);
      out = level.apply(rows, dropout, out); // [rows, patches, P'*D']
    });
    // One row per local patch, with the slice of the level above that conditions it.
    const [, , width] = out!.shape;
    return {
      rows: tf.reshape(rows, [-1, this.local.options.patchSize]),
      out: tf.reshape(out!, [-1, 1, width]),
    };
  }

  /** An incremental decoder over this model, for generation (see `createDecoder`). */
  createDecoder(options: DecoderOptions = {}): IncrementalDecoder {
    return createDecoder(this, options);
  }
}
