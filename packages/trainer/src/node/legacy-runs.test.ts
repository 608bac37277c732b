import { join } from 'node:path';
import { decodeSafetensors } from '@megabyte/core';
import { Corpus } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_RUNS, LEGACY_TEXT } from '../../test/legacy-runs.js';
import { Trainer } from '../trainer.js';
import { loadResumePoint } from './run-directory.js';

// Run directories written by the code of commit 8957530 (test/make-legacy-runs.ts), in the config
// form of before the `levels` list: they must load and resume to the very bits the old code reached.
const FIXTURES = new URL('../../test/fixtures/', import.meta.url).pathname;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Every tensor of a safetensors file, as raw bytes by name. */
async function tensorBytes(file: string): Promise<Map<string, Uint8Array>> {
  const { tensors } = decodeSafetensors(await readFile(file), file);
  return new Map(
    [...tensors].map(([name, t]) => {
      const data = t.data as Float32Array;
      return [name, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
    }),
  );
}

function asBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

describe.each(Object.keys(LEGACY_RUNS))('the legacy %s run directory', (name) => {
  const run = join(FIXTURES, name);
  const checkpoint = (step: number) => join(run, 'checkpoints', `step-${String(step).padStart(7, '0')}`);

  it('resumes from its newest checkpoint', async () => {
    const resumed = await loadResumePoint(run);
    expect(resumed.dir).toBe(checkpoint(4));
    expect(resumed.state.step).toBe(4);
    resumed.model.dispose();
    tf.dispose([...resumed.state.optimizer.tensors.values()]);
  });

  it('continues from step 2 to the weights and optimizer state the old code saved at step 4', async () => {
    const resumed = await loadResumePoint(checkpoint(2));
    const trainer = new Trainer(
      resumed.model,
      { train: Corpus.fromDocuments([LEGACY_TEXT]) },
      resumed.options,
    );
    trainer.restore(resumed.state);
    tf.dispose([...resumed.state.optimizer.tensors.values()]);
    await trainer.trainStep();
    await trainer.trainStep();
    const expectedWeights = await tensorBytes(join(checkpoint(4), 'model.safetensors'));
    const weights = resumed.model.parameters();
    expect(weights.map((p) => p.name).sort()).toEqual([...expectedWeights.keys()].sort());
    for (const p of weights) {
      expect(asBytes(p.variable.dataSync() as Float32Array), p.name).toEqual(expectedWeights.get(p.name));
    }
    const expectedMoments = await tensorBytes(join(checkpoint(4), 'optimizer.safetensors'));
    const state = trainer.state();
    expect(state.step).toBe(4);
    expect([...state.optimizer.tensors.keys()].sort()).toEqual([...expectedMoments.keys()].sort());
    for (const [key, tensor] of state.optimizer.tensors) {
      expect(asBytes(tensor.dataSync() as Float32Array), key).toEqual(expectedMoments.get(key));
    }
    tf.dispose([...state.optimizer.tensors.values()]);
    trainer.dispose();
    resumed.model.dispose();
  });
});
