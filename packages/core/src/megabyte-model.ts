import { GlobalModel } from '@megabyte/global';
import { LocalModel } from '@megabyte/local';
import { type Dropout, type NamedParameter, ParameterStore } from '@megabyte/nn';
import { PAD_ID } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import { ByteModel } from './byte-model.js';
import { type MegabyteConfig, validateConfig } from './config.js';

/**
 * MEGABYTE (Yu et al. 2023): a global transformer over patches of P bytes and a local transformer
 * that predicts the bytes inside each patch.
 */
export class MegabyteModel extends ByteModel<MegabyteConfig> {
  readonly global: GlobalModel;
  readonly local: LocalModel;

  private constructor(
    config: MegabyteConfig,
    global: GlobalModel,
    local: LocalModel,
    params: NamedParameter[],
  ) {
    super(config, params);
    this.global = global;
    this.local = local;
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
    const localModel = new LocalModel(store.scope('local'), {
      vocabSize,
      patchSize,
      globalByteDim: global.byteDim,
      transformer: { ...shared, dim: local.dim, layers: local.layers, heads: local.heads },
      tieHead: checked.tieHead,
    });
    return new MegabyteModel(checked, globalModel, localModel, store.parameters());
  }

  protected override padInput(ids: tf.Tensor2D): tf.Tensor2D {
    const [batch, length] = ids.shape;
    const extra = (this.config.patchSize - (length % this.config.patchSize)) % this.config.patchSize;
    return extra === 0 ? ids : tf.concat([ids, tf.fill([batch, extra], PAD_ID, 'int32')], 1);
  }

  protected logits(ids: tf.Tensor2D, dropout: Dropout): tf.Tensor3D {
    const globalOut = this.global.apply(ids, dropout); // [B, K, P*D_G]
    return this.local.apply(globalOut, ids, dropout); // [B, T, V]
  }
}
