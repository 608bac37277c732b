import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type ByteModel, CheckpointError, createModel } from '@megabyte/core';
import { saveModel } from '@megabyte/core/node';
import { microMegabyteConfig } from '@megabyte/core/testing';
import { Corpus } from '@megabyte/patching';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CheckpointReason, Trainer, type TrainingState } from '../trainer.js';
import { loadResumePoint, RunDirectory } from './run-directory.js';

const MICRO = microMegabyteConfig({ dropout: 0.1 });

let root: string;
const disposables: Array<{ dispose(): void }> = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'megabyte-run-directory-'));
});

afterEach(async () => {
  for (const item of disposables.splice(0).reverse()) item.dispose();
  await rm(root, { recursive: true, force: true });
});

/** A model and a trainer that has taken `steps` steps, so the optimizer has moments. */
async function trained(steps: number): Promise<{ model: ByteModel; trainer: Trainer }> {
  const model = createModel(MICRO, { seed: 2 });
  const train = Corpus.fromDocuments(['the quick brown fox jumps over the lazy dog. '.repeat(4)]);
  const trainer = new Trainer(model, { train }, { batchSize: 2, steps: 10, warmupSteps: 1, seed: 5 });
  disposables.push(model, trainer);
  for (let i = 0; i < steps; i++) await trainer.trainStep();
  return { model, trainer };
}

async function save(
  run: RunDirectory,
  model: ByteModel,
  trainer: Trainer,
  reason: CheckpointReason = 'interval',
) {
  const state = trainer.state();
  try {
    await run.save(model, state, reason);
  } finally {
    tf.dispose([...state.optimizer.tensors.values()]);
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

function values(tensor: tf.Tensor): number[] {
  return Array.from(tensor.dataSync());
}

describe('RunDirectory', () => {
  it('saves a checkpoint that loads back exactly: weights, optimizer, sampler, options', async () => {
    const { model, trainer } = await trained(3);
    const run = new RunDirectory(root, { data: 'fox.txt' });
    const state: TrainingState = trainer.state();
    try {
      await run.save(model, state, 'interval');
      const dir = join(root, 'checkpoints', 'step-0000003');
      expect((await readdir(dir)).sort()).toEqual([
        'config.json',
        'model.safetensors',
        'optimizer.safetensors',
        'trainer.json',
      ]);

      const point = await loadResumePoint(root);
      disposables.push(point.model, {
        dispose: () => tf.dispose([...point.state.optimizer.tensors.values()]),
      });
      expect(point.dir).toBe(dir);
      expect(point.data).toBe('fox.txt');
      expect(point.options).toEqual(trainer.options);
      expect(point.model.config).toEqual(model.config);
      expect(point.state.step).toBe(3);
      expect(point.state.sampler).toEqual(state.sampler);
      expect(point.state.bestValidationBitsPerByte).toBeUndefined();
      const loaded = point.model.parameters();
      expect(loaded.map((p) => p.name)).toEqual(model.parameters().map((p) => p.name));
      model.parameters().forEach((p, i) => {
        expect(values(loaded[i]!.variable), p.name).toEqual(values(p.variable));
      });
      expect(point.state.optimizer.step).toBe(state.optimizer.step);
      expect([...point.state.optimizer.tensors.keys()].sort()).toEqual(
        [...state.optimizer.tensors.keys()].sort(),
      );
      expect(point.state.optimizer.tensors.size).toBe(2 * model.parameters().length);
      for (const [name, tensor] of state.optimizer.tensors) {
        const back = point.state.optimizer.tensors.get(name)!;
        expect(back.shape, name).toEqual(tensor.shape);
        expect(values(back), name).toEqual(values(tensor));
      }

      // The same checkpoint loads when its own directory is named.
      const direct = await loadResumePoint(dir);
      disposables.push(direct.model, {
        dispose: () => tf.dispose([...direct.state.optimizer.tensors.values()]),
      });
      expect(direct.state.step).toBe(3);
    } finally {
      tf.dispose([...state.optimizer.tensors.values()]);
    }
  });

  it('resumes from the newest step checkpoint, not from best/', async () => {
    const { model, trainer } = await trained(1);
    const run = new RunDirectory(root, { data: 'fox.txt' });
    await save(run, model, trainer);
    await trainer.trainStep();
    await save(run, model, trainer);
    await trainer.trainStep();
    await save(run, model, trainer, 'best');
    expect(await readdir(root)).toContain('best');
    const point = await loadResumePoint(root);
    disposables.push(point.model, { dispose: () => tf.dispose([...point.state.optimizer.tensors.values()]) });
    expect(point.state.step).toBe(2);
  });

  it('prunes all but the newest keepLast step checkpoints', async () => {
    const { model, trainer } = await trained(1);
    const run = new RunDirectory(root, { data: 'fox.txt', keepLast: 2 });
    for (let i = 0; i < 4; i++) {
      await save(run, model, trainer);
      await trainer.trainStep();
    }
    expect(await readdir(join(root, 'checkpoints'))).toEqual(['step-0000003', 'step-0000004']);
    expect((await run.checkpoints()).map((c) => basename(c))).toEqual(['step-0000003', 'step-0000004']);
  });

  it('keeps metrics.jsonl lines in the order the events came, even when writes are not awaited', async () => {
    const run = new RunDirectory(root, { data: 'fox.txt' });
    const writes: Promise<void>[] = [];
    for (let step = 1; step <= 40; step++) {
      writes.push(
        run.record({
          type: 'step',
          metrics: {
            step,
            loss: 2,
            bitsPerByte: 2 / Math.LN2,
            lr: 1e-3,
            gradNorm: 0.5,
            bytesPerSecond: 100,
            seconds: 0.1,
            tensors: 10,
            tensorBytes: 40,
          },
        }),
      );
      if (step % 10 === 0) writes.push(run.record({ type: 'eval', step, bitsPerByte: 3, best: true }));
    }
    await Promise.all(writes);
    const lines = (await readFile(join(root, 'metrics.jsonl'), 'utf8')).trimEnd().split('\n');
    const records = lines.map((line) => JSON.parse(line) as { type: string; step: number; bpb: number });
    expect(records).toHaveLength(44);
    expect(records.filter((r) => r.type === 'step').map((r) => r.step)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    expect(records.filter((r) => r.type === 'eval').map((r) => [r.step, r.bpb])).toEqual([
      [10, 3],
      [20, 3],
      [30, 3],
      [40, 3],
    ]);
    expect(records[0]!.bpb).toBeCloseTo(2 / Math.LN2, 12);
  });

  describe('errors', () => {
    it('a corrupt trainer.json is a CheckpointError that names the file', async () => {
      const { model, trainer } = await trained(1);
      const run = new RunDirectory(root, { data: 'fox.txt' });
      await save(run, model, trainer);
      const file = join(root, 'checkpoints', 'step-0000001', 'trainer.json');
      await writeFile(file, '{"step": 1, "sampler": {');
      const error = await rejection(loadResumePoint(root));
      expect(error).toBeInstanceOf(CheckpointError);
      expect(error.message).toMatch(/cannot resume from .*step-0000001/);
      expect(error.message).toMatch(/trainer\.json is not valid JSON/);
      expect(error.message).toMatch(/older checkpoint/);
    });

    it('a trainer.json with missing fields is a CheckpointError listing them', async () => {
      const { model, trainer } = await trained(1);
      const run = new RunDirectory(root, { data: 'fox.txt' });
      await save(run, model, trainer);
      const file = join(root, 'checkpoints', 'step-0000001', 'trainer.json');
      await writeFile(file, JSON.stringify({ step: 1, options: {} }));
      const error = await rejection(loadResumePoint(root));
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as CheckpointError).problems).toEqual([
        'trainer.json: optimizerStep: expected an integer in 0..9007199254740991, got undefined',
        'trainer.json: sampler: expected an object, got undefined',
        'trainer.json: options.steps: expected an integer >= 1, got undefined',
      ]);
    });

    it('a trainer.json whose step is past the run or not a safe integer is refused', async () => {
      const { model, trainer } = await trained(1);
      const run = new RunDirectory(root, { data: 'fox.txt' });
      await save(run, model, trainer);
      const file = join(root, 'checkpoints', 'step-0000001', 'trainer.json');
      const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      await writeFile(file, JSON.stringify({ ...saved, step: 1e20 }));
      expect(((await rejection(loadResumePoint(root))) as CheckpointError).problems).toEqual([
        'trainer.json: step: expected an integer in 0..9007199254740991, got 100000000000000000000',
      ]);
      await writeFile(file, JSON.stringify({ ...saved, step: 1_000_000 }));
      expect(((await rejection(loadResumePoint(root))) as CheckpointError).problems).toEqual([
        `trainer.json: step: 1000000 is past the run's last step (options.steps ${(saved.options as { steps: number }).steps})`,
      ]);
    });

    it('a missing optimizer.safetensors is a CheckpointError that names it', async () => {
      const { model, trainer } = await trained(1);
      const run = new RunDirectory(root, { data: 'fox.txt' });
      await save(run, model, trainer);
      await rm(join(root, 'checkpoints', 'step-0000001', 'optimizer.safetensors'));
      const error = await rejection(loadResumePoint(root));
      expect(error).toBeInstanceOf(CheckpointError);
      expect(error.message).toMatch(/optimizer\.safetensors is missing or unreadable/);
    });

    it('a model-only checkpoint cannot be resumed, and the error says what to do instead', async () => {
      const model = createModel(MICRO);
      disposables.push(model);
      await saveModel(model, join(root, 'checkpoints', 'step-0000001'));
      const error = await rejection(loadResumePoint(root));
      expect(error).toBeInstanceOf(CheckpointError);
      expect(error.message).toMatch(/trainer\.json is missing/);
      expect(error.message).toMatch(/--init/);
    });

    it('a directory with no checkpoints, or none at all, is a clear CheckpointError', async () => {
      for (const path of [root, join(root, 'does-not-exist')]) {
        const error = await rejection(loadResumePoint(path));
        expect(error).toBeInstanceOf(CheckpointError);
        expect(error.message).toContain(`cannot resume from ${path}`);
        expect(error.message).toMatch(/no checkpoints\/step-\* directory with a trainer\.json/);
        expect(error.message).toMatch(/Pass the run directory/);
      }
    });
  });
});
