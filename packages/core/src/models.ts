import type { ByteModel } from './byte-model.js';
import { type ModelConfig, validateConfig } from './config.js';
import { MegabyteModel } from './megabyte-model.js';
import { TransformerModel } from './transformer-model.js';

export type AnyModel = MegabyteModel | TransformerModel;

/** Builds the model a (validated) config describes. */
export function createModel(config: ModelConfig, options: { seed?: number } = {}): AnyModel & ByteModel {
  const checked = validateConfig(config);
  return checked.kind === 'megabyte'
    ? MegabyteModel.create(checked, options)
    : TransformerModel.create(checked, options);
}
