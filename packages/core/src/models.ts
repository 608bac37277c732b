import type { ByteModel } from './byte-model.js';
import { type ModelConfigInput, validateConfig } from './config.js';
import { MegabyteModel } from './megabyte-model.js';
import { TransformerModel } from './transformer-model.js';

export type AnyModel = MegabyteModel | TransformerModel;

/** Builds the model a config describes (either MEGABYTE form; see `validateConfig`). */
export function createModel(config: ModelConfigInput, options: { seed?: number } = {}): AnyModel & ByteModel {
  const checked = validateConfig(config);
  return checked.kind === 'megabyte'
    ? MegabyteModel.create(checked, options)
    : TransformerModel.create(checked, options);
}
