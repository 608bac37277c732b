/**
 * Writes the legacy run directories under test/fixtures/ that `legacy-runs.test.ts` resumes:
 * a two-level and a three-level MEGABYTE model in the config form of before the `levels` list
 * (`patchSize` + `global` + `middle` + `local`), trained 4 steps on the cpu backend with a
 * checkpoint after steps 2 and 4. It was run once, on the code of commit 8957530; running it
 * again with later code would no longer test anything, so the files are committed.
 *
 *   see test/fixtures/README.md for the command
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createModel, type LegacyMegabyteConfig } from '@megabyte/core';
import { Corpus } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { RunDirectory } from '../src/node/run-directory.js';
import { Trainer } from '../src/trainer.js';
import { LEGACY_RUNS, LEGACY_TEXT, LEGACY_TRAINING } from './legacy-runs.js';

const out = process.argv[2];
if (!out) throw new Error('usage: make-legacy-runs FIXTURES_DIR');
await tf.setBackend('cpu');
for (const [name, config] of Object.entries(LEGACY_RUNS)) {
  const dir = join(out, name);
  await rm(dir, { recursive: true, force: true });
  const model = createModel(config as LegacyMegabyteConfig, { seed: 3 });
  const trainer = new Trainer(model, { train: Corpus.fromDocuments([LEGACY_TEXT]) }, LEGACY_TRAINING);
  const run = new RunDirectory(dir, { data: 'legacy-runs.ts LEGACY_TEXT', keepLast: 2 });
  for (let step = 1; step <= 4; step++) {
    await trainer.trainStep();
    if (step % 2 === 0) {
      const state = trainer.state();
      await run.save(model, state, 'interval');
      tf.dispose([...state.optimizer.tensors.values()]);
    }
  }
  trainer.dispose();
  model.dispose();
  console.log(`wrote ${dir}`);
}
