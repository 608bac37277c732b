import { GlobalModel } from '@megabyte/global';
import { LocalModel } from '@megabyte/local';
import { type Dropout, type NamedParameter, ParameterStore } from '@megabyte/nn';
import { PAD_ID } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import { ByteModel } from './byte-model.js';
import { localPatchSize, type MegabyteConfig, validateConfig } from './config.js';

/**
 * MEGABYTE (Yu et al. 2023): a global transformer over patches of P bytes and a local transformer
 * that predicts the bytes inside each patch. Deeper hierarchies put middle levels between them:
 * each is a global model run inside every patch of the level above, over smaller patches.
 */
export class MegabyteModel extends ByteModel<MegabyteConfig> {
  readonly global: GlobalModel;
  /** The levels between global and local, outermost first; empty for the paper's two levels. */
  readonly middle: readonly GlobalModel[];
  readonly local: LocalModel;

  private constructor(
    config: MegabyteConfig,
    levels: { global: GlobalModel; middle: GlobalModel[]; local: LocalModel },
    params: NamedParameter[],
  ) {
    super(config, params);
    this.global = levels.global;
    this.middle = levels.middle;
    this.local = levels.local;
  }

  static create(config: MegabyteConfig, options: { seed?: number } = {}): MegabyteModel {
    const checked = validateConfig(config);
    if (checked.kind !== 'megabyte')
      throw new Error('MegabyteModel.create needs a config of kind "megabyte"');
    const store = ParameterStore.create(options.seed ?? 0);
    const { vocabSize, patchSize, contextLength, global, local } = checked;
    const shared = {
      mlpRatio: checked.mlpRatio,
      activation: checked.activation,
      norm: checked.norm,
      bias: checked.bias,
      initStd: checked.initStd,
    };
    const globalModel = new GlobalModel(store.scope('global'), {
      vocabSize,
      patchSize,
      byteDim: global.byteDim,
      contextLength,
      transformer: { ...shared, layers: global.layers, heads: global.heads },
    });
    let above = { patchSize, byteDim: global.byteDim };
    const middle = (checked.middle ?? []).map((level, i) => {
      const model = new GlobalModel(store.scope('middle').scope(String(i)), {
        vocabSize,
        patchSize: level.patchSize,
        byteDim: level.byteDim,
        contextLength: above.patchSize,
        transformer: { ...shared, layers: level.layers, heads: level.heads },
        parentByteDim: above.byteDim,
      });
      above = level;
      return model;
    });
    const localModel = new LocalModel(store.scope('local'), {
      vocabSize,
      patchSize: localPatchSize(checked),
      globalByteDim: above.byteDim,
      transformer: { ...shared, dim: local.dim, layers: local.layers, heads: local.heads },
      tieHead: checked.tieHead,
    });
    return new MegabyteModel(checked, { global: globalModel, middle, local: localModel }, store.parameters());
  }

  protected override padInput(ids: tf.Tensor2D): tf.Tensor2D {
    const [batch, length] = ids.shape;
    const extra = (this.config.patchSize - (length % this.config.patchSize)) % this.config.patchSize;
    return extra === 0 ? ids : tf.concat([ids, tf.fill([batch, extra], PAD_ID, 'int32')], 1);
  }

  protected logits(ids: tf.Tensor2D, dropout: Dropout): tf.Tensor3D {
    const [batch, length] = ids.shape;
    let out = this.global.apply(ids, dropout); // [B, K, P*D_G]
    let rows = ids; // each row: the bytes the level above has as one patch
    for (const level of this.middle) {
      rows = tf.reshape(rows, [-1, level.options.contextLength]); // [B*K, P]
      out = level.apply(rows, dropout, out); // [B*K, P/P', P'*D']
    }
    const logits = this.local.apply(out, rows, dropout); // [rows, bytes per row, V]
    return tf.reshape(logits, [batch, length, this.config.vocabSize]);
  }
}
