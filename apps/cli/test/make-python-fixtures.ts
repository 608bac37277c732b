/**
 * Writes python/tests/fixtures: the checkpoints of python-fixtures.ts, made by @megabyte/core.
 *
 *   cd apps/cli && node --conditions=@megabyte/source --import tsx test/make-python-fixtures.ts
 */
import '@tensorflow/tfjs-backend-cpu';
import { join } from 'node:path';
import { createModel } from '@megabyte/core';
import { saveModel } from '@megabyte/core/node';
import * as tf from '@tensorflow/tfjs-core';
import { PYTHON_FIXTURES } from './python-fixtures.js';

await tf.setBackend('cpu');
const root = join(import.meta.dirname, '..', '..', '..', 'python', 'tests', 'fixtures');
for (const [name, config] of Object.entries(PYTHON_FIXTURES)) {
  const model = createModel(config, { seed: 7 });
  await saveModel(model, join(root, name));
  model.dispose();
  process.stdout.write(`wrote ${join(root, name)}\n`);
}
