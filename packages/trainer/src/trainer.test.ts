import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type ByteModel, createModel } from '@megabyte/core';
import { loadModel } from '@megabyte/core/node';
import { microMegabyteConfig } from '@megabyte/core/testing';
import { Corpus } from '@megabyte/patching';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { evaluateStream } from './evaluate.js';
import { loadResumePoint, RunDirectory } from './node/run-directory.js';
import {
  divergenceReason,
  type StepMetrics,
  Trainer,
  type TrainerData,
  type TrainerEvent,
  TrainingDivergedError,
  type TrainingOptions,
} from './trainer.js';

const MICRO = microMegabyteConfig({ dropout: 0.1 });

const SENTENCES = [
  'the cat sat on the mat. ',
  'a dog ate the old log. ',
  'she sells sea shells by the sea shore. ',
  'time and tide wait for no man. ',
];
const TRAIN_TEXT = SENTENCES.join('').repeat(30);
const VALIDATION_TEXT = [...SENTENCES].reverse().join('').repeat(2);

function data(): TrainerData {
  return { train: Corpus.fromDocuments([TRAIN_TEXT]), validation: Corpus.fromDocuments([VALIDATION_TEXT]) };
}

/** Small-run options; evaluation and checkpoints off unless a test turns them on. */
const BASE: Partial<TrainingOptions> = {
  batchSize: 2,
  lr: 1e-2,
  warmupSteps: 2,
  evalEvery: 0,
  evalWindows: 4,
  logEvery: 1,
  checkpointEvery: 0,
  seed: 7,
};

const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function model(seed = 1): ByteModel {
  const m = createModel(MICRO, { seed });
  cleanup.push(() => m.dispose());
  return m;
}

function trainer(...args: ConstructorParameters<typeof Trainer>): Trainer {
  const t = new Trainer(...args);
  cleanup.push(() => t.dispose());
  return t;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'megabyte-trainer-test-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A copy of every parameter's values, by name. */
function weights(m: ByteModel): Map<string, Float32Array> {
  return new Map(
    m.parameters().map((p) => [p.name, Float32Array.from(p.variable.dataSync() as Float32Array)]),
  );
}

/** Names of the parameters whose values differ in any bit (NaN equals NaN). */
function differing(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  expect([...a.keys()]).toEqual([...b.keys()]);
  return [...a.keys()].filter((name) => {
    const x = a.get(name)!;
    const y = b.get(name)!;
    return x.length !== y.length || x.some((value, i) => !Object.is(value, y[i]));
  });
}

/** Sets one element of a parameter to NaN, so every loss after it is NaN. */
function poison(m: ByteModel, name = 'local.norm.weight'): void {
  const parameter = m.parameters().find((p) => p.name === name)!;
  const values = Float32Array.from(parameter.variable.dataSync() as Float32Array);
  values[0] = Number.NaN;
  tf.tidy(() => parameter.variable.assign(tf.tensor(values, parameter.variable.shape)));
}

/** Resumes a run from disk into a new model and trainer, as `megabyte train --resume` does. */
async function resume(dir: string, trainData: TrainerData, hooks = {}): Promise<Trainer> {
  const point = await loadResumePoint(dir);
  cleanup.push(() => point.model.dispose());
  const t = trainer(point.model, trainData, point.options, hooks);
  t.restore(point.state);
  tf.dispose([...point.state.optimizer.tensors.values()]);
  return t;
}

describe('Trainer', () => {
  it('resumes exactly: N steps, a checkpoint on disk, N more steps equal 2N steps bit for bit', async () => {
    const N = 4;
    // Dropout, two micro-batches per step and a seeded sampler: every piece of state matters.
    const options: Partial<TrainingOptions> = { ...BASE, steps: 2 * N, batchSize: 4, accumulationSteps: 2 };
    expect(MICRO.dropout).toBeGreaterThan(0);

    const straight = trainer(model(), data(), options);
    const straightLosses: number[] = [];
    for (let i = 0; i < 2 * N; i++) straightLosses.push((await straight.trainStep()).loss);

    const dir = await tempDir();
    const run = new RunDirectory(dir, { data: 'test corpus' });
    const first = trainer(model(), data(), options);
    const firstLosses: number[] = [];
    for (let i = 0; i < N; i++) firstLosses.push((await first.trainStep()).loss);
    const midway = weights(first.model);
    const state = first.state();
    await run.save(first.model, state, 'interval');
    tf.dispose([...state.optimizer.tensors.values()]);

    const second = await resume(dir, data());
    expect(second.step).toBe(N);
    expect(second.options).toEqual(straight.options);
    expect(differing(weights(second.model), midway)).toEqual([]);
    const secondLosses: number[] = [];
    for (let i = 0; i < N; i++) secondLosses.push((await second.trainStep()).loss);

    expect(firstLosses).toEqual(straightLosses.slice(0, N));
    expect(secondLosses).toEqual(straightLosses.slice(N));
    expect(differing(weights(second.model), weights(straight.model))).toEqual([]);

    // The comparison can fail: continuing from the same weights without the saved state does not match.
    const point = await loadResumePoint(dir);
    cleanup.push(() => point.model.dispose());
    tf.dispose([...point.state.optimizer.tensors.values()]);
    const unrestored = trainer(point.model, data(), options);
    for (let i = 0; i < N; i++) await unrestored.trainStep();
    expect(differing(weights(unrestored.model), weights(straight.model)).length).toBeGreaterThan(0);
  });

  it('learns: validation bits per byte fall well below the initial ~8 on a repetitive corpus', async () => {
    const t = trainer(model(), data(), { ...BASE, steps: 60, batchSize: 2, warmupSteps: 5, evalWindows: 8 });
    const initial = (await t.validate())!;
    expect(initial).toBeGreaterThan(7.5); // ~log2(258) for a fresh model
    expect(initial).toBeLessThan(8.5);
    const result = await t.run();
    expect(result.step).toBe(60);
    expect(result.validationBitsPerByte).toBeLessThan(initial * 0.6);
  });

  it('trains a three-level model: validation bits per byte fall the same way', async () => {
    const deep = createModel(
      microMegabyteConfig({
        dropout: 0.1,
        patchSize: 8,
        global: { byteDim: 2, layers: 1, heads: 2 },
        middle: [{ patchSize: 4, byteDim: 4, layers: 1, heads: 2 }],
      }),
      { seed: 1 },
    );
    cleanup.push(() => deep.dispose());
    const t = trainer(deep, data(), { ...BASE, steps: 60, batchSize: 2, warmupSteps: 5, evalWindows: 8 });
    const initial = (await t.validate())!;
    expect(initial).toBeGreaterThan(7.5);
    const result = await t.run();
    expect(result.validationBitsPerByte).toBeLessThan(initial * 0.6);
  });

  describe('divergence', () => {
    it('trainStep rejects with TrainingDivergedError naming the step and leaves the weights untouched', async () => {
      const m = model();
      const t = trainer(m, data(), { ...BASE, steps: 10 });
      await t.trainStep();
      poison(m);
      const before = weights(m);
      let error: unknown;
      try {
        await t.trainStep();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TrainingDivergedError);
      expect((error as TrainingDivergedError).step).toBe(2);
      expect((error as Error).message).toMatch(/diverged at step 2/);
      expect(Number.isNaN((error as TrainingDivergedError).loss)).toBe(true);
      expect(differing(weights(m), before)).toEqual([]);
      expect(t.step).toBe(1);
    });

    it('divergenceReason: non-finite values, and a spike over spikeFactor x the recent mean and a nat above it', () => {
      const recent = Array.from({ length: 10 }, () => 2);
      expect(divergenceReason(Number.NaN, 1, [], 4)).toMatch(/not finite/);
      expect(divergenceReason(1, Number.POSITIVE_INFINITY, [], 4)).toMatch(/not finite/);
      expect(divergenceReason(8, 1, recent, 4)).toBeUndefined();
      expect(divergenceReason(8.01, 1, recent, 4)).toBe(
        'the loss spiked to more than 4 x the mean of the last 10 steps (2.000)',
      );
      expect(divergenceReason(30, 1, [5.5], 4)).toMatch(/more than 4 x the mean of the last 1 steps/);
      expect(divergenceReason(100, 1, [], 4)).toBeUndefined();
      expect(divergenceReason(0.5, 1, [0.01], 4)).toBeUndefined();
      expect(divergenceReason(100, 1, recent, 0)).toBeUndefined();
    });

    it('stops at a finite loss spike from exploded weights, before applying the step or saving it', async () => {
      const dir = await tempDir();
      const run = new RunDirectory(dir, { data: 'test corpus', keepLast: 5 });
      const m = model();
      const t = trainer(m, data(), { ...BASE, steps: 30, checkpointEvery: 12 }, { checkpoints: run });
      for (let i = 0; i < 12; i++) await t.trainStep();
      // What a learning rate far too high does over a few steps: weights of 1e4 and more.
      const head = m.parameters().find((p) => p.name.endsWith('head.weight'))!;
      tf.tidy(() => head.variable.assign(tf.mul(head.variable, 1e5)));
      const before = weights(m);
      const error = await t.trainStep().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TrainingDivergedError);
      const diverged = error as TrainingDivergedError;
      expect(Number.isFinite(diverged.loss)).toBe(true);
      expect(diverged.message).toMatch(
        /diverged at step 13: the loss spiked to more than 4 x the mean of the last 12 steps/,
      );
      expect(differing(weights(m), before)).toEqual([]);
      expect(await run.checkpoints()).toEqual([]);
    });

    it('stops the same way without clipping (clip 0)', async () => {
      const m = model();
      const t = trainer(m, data(), { ...BASE, steps: 10, clip: 0 });
      const metrics = await t.trainStep();
      expect(Number.isFinite(metrics.gradNorm)).toBe(true); // measured, though not clipped
      poison(m);
      const before = weights(m);
      await expect(t.trainStep()).rejects.toThrow(TrainingDivergedError);
      expect(differing(weights(m), before)).toEqual([]);
    });

    it('run() stops and keeps the last good checkpoint on disk intact', async () => {
      const dir = await tempDir();
      const run = new RunDirectory(dir, { data: 'test corpus', keepLast: 5 });
      const m = model();
      let saved: Map<string, Float32Array> | undefined;
      const t = trainer(
        m,
        data(),
        { ...BASE, steps: 12, checkpointEvery: 3 },
        {
          checkpoints: run,
          onEvent: (event: TrainerEvent) => {
            if (event.type === 'checkpoint' && event.step === 6) {
              saved = weights(m);
              poison(m);
            }
          },
        },
      );
      await expect(t.run()).rejects.toThrow(/diverged at step 7/);
      expect(t.step).toBe(6);
      expect((await run.checkpoints()).map((c) => basename(c))).toEqual(['step-0000003', 'step-0000006']);
      const point = await loadResumePoint(dir);
      cleanup.push(() => point.model.dispose());
      tf.dispose([...point.state.optimizer.tensors.values()]);
      expect(point.state.step).toBe(6);
      expect(differing(weights(point.model), saved!)).toEqual([]);
      for (const values of weights(point.model).values()) expect(values.every(Number.isFinite)).toBe(true);
    });
  });

  it('keeps tensor memory flat over 200 steps with evaluation', async () => {
    const m = model();
    const trainData = data();
    const t = trainer(m, trainData, {
      ...BASE,
      steps: 200,
      batchSize: 1,
      accumulationSteps: 1,
      evalWindows: 2,
    });
    const validationIds = trainData.validation!.toIds().subarray(0, 40);
    const evaluateAll = async () => {
      await t.validate();
      await evaluateStream(m, validationIds, { mode: 'sliding', stride: 8 });
      await evaluateStream(m, validationIds, { mode: 'strided' });
    };
    for (let i = 0; i < 3; i++) await t.trainStep();
    await evaluateAll();
    const baseline = tf.memory().numTensors;
    const counts: number[] = [];
    for (let i = 3; i < 200; i++) {
      const metrics = await t.trainStep();
      expect(metrics.tensors).toBe(tf.memory().numTensors);
      if (i % 25 === 0) await evaluateAll();
      counts.push(tf.memory().numTensors);
    }
    expect(Math.max(...counts)).toBe(baseline);
    expect(Math.min(...counts)).toBe(baseline);
  });

  describe('too little data', () => {
    it('says how many bytes the data has and how many one window needs', () => {
      const m = model();
      const tooSmall = { train: Corpus.fromBytes(new Uint8Array(10)) };
      expect(() => new Trainer(m, tooSmall, BASE)).toThrow(
        /the training data has 10 bytes but one window of the model's context needs 16: use more data or a preset with a shorter context/,
      );
      expect(() => new Trainer(m, tooSmall, BASE)).not.toThrow(/plus 1 for the last target/);
    });

    it('trains on exactly one window of data', async () => {
      const t = trainer(
        model(),
        { train: Corpus.fromBytes(new TextEncoder().encode('exactly16 bytes.')) },
        BASE,
      );
      expect(Number.isFinite((await t.trainStep()).loss)).toBe(true);
    });
  });

  it('reports step, eval, checkpoint and done events, and writes metrics.jsonl', async () => {
    const dir = await tempDir();
    const run = new RunDirectory(dir, { data: 'test corpus' });
    const events: TrainerEvent[] = [];
    const writes: Promise<void>[] = [];
    const t = trainer(
      model(),
      data(),
      { ...BASE, steps: 6, logEvery: 2, evalEvery: 3, checkpointEvery: 3 },
      {
        checkpoints: run,
        onEvent: (event: TrainerEvent) => {
          events.push(event);
          writes.push(run.record(event));
        },
      },
    );
    const result = await t.run();
    await Promise.all(writes);
    expect(result).toEqual({ step: 6, validationBitsPerByte: expect.any(Number), interrupted: false });

    const steps = events.filter((e) => e.type === 'step').map((e) => e.metrics);
    expect(steps.map((s) => s.step)).toEqual([2, 4, 6]);
    for (const s of steps) {
      expect(s.loss).toBeGreaterThan(0);
      expect(s.bitsPerByte).toBeCloseTo(s.loss / Math.LN2, 10);
      expect(s.lr).toBeGreaterThan(0);
      expect(s.lr).toBeLessThanOrEqual(1e-2);
      expect(Number.isFinite(s.gradNorm) && s.gradNorm > 0).toBe(true);
      expect(s.bytesPerSecond).toBeGreaterThan(0);
      expect(s.seconds).toBeGreaterThan(0);
      expect(s.tensors).toBeGreaterThan(0);
      expect(s.tensorBytes).toBeGreaterThan(0);
    }
    const evals = events.filter((e) => e.type === 'eval');
    expect(evals.map((e) => e.step)).toEqual([3, 6]);
    expect(evals[0]!.best).toBe(true);
    for (const e of evals) expect(e.bitsPerByte).toBeGreaterThan(0);
    const checkpoints = events.filter((e) => e.type === 'checkpoint');
    expect(checkpoints.map((e) => e.step)).toEqual(checkpoints.map(() => expect.any(Number)));
    expect(checkpoints.filter((e) => e.reason === 'interval').map((e) => e.step)).toEqual([3]);
    expect(checkpoints.filter((e) => e.reason === 'final').map((e) => e.step)).toEqual([6]);
    expect(checkpoints.filter((e) => e.reason === 'best').map((e) => e.step)).toEqual(
      evals.filter((e) => e.best).map((e) => e.step),
    );
    expect(events.at(-1)).toEqual({ type: 'done', step: 6, validationBitsPerByte: evals[1]!.bitsPerByte });
    expect(events.filter((e) => e.type === 'done')).toHaveLength(1);

    const lines = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trimEnd().split('\n');
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const stepRecords = records.filter((r) => r.type === 'step');
    expect(stepRecords.map((r) => r.step)).toEqual([2, 4, 6]);
    for (const r of stepRecords) {
      for (const field of ['step', 'loss', 'bpb', 'lr', 'gradNorm', 'bytesPerSecond', 'tensors'] as const) {
        expect(typeof r[field], field).toBe('number');
        expect(Number.isFinite(r[field]), field).toBe(true);
      }
    }
    expect(stepRecords.map((r) => r.bpb)).toEqual(steps.map((s: StepMetrics) => s.bitsPerByte));
    const evalRecords = records.filter((r) => r.type === 'eval');
    expect(evalRecords.map((r) => [r.step, r.bpb])).toEqual(evals.map((e) => [e.step, e.bitsPerByte]));
  });

  it('keeps only the newest keepLast step checkpoints, and the best validation checkpoint in best/', async () => {
    const dir = await tempDir();
    const run = new RunDirectory(dir, { data: 'test corpus', keepLast: 2 });
    const evals: Array<{ step: number; bitsPerByte: number }> = [];
    const trainData = data();
    const t = trainer(
      model(),
      trainData,
      { ...BASE, steps: 10, evalEvery: 2, checkpointEvery: 2, evalWindows: 2 },
      {
        checkpoints: run,
        onEvent: (event: TrainerEvent) => {
          if (event.type === 'eval') evals.push(event);
        },
      },
    );
    await t.run();
    expect(await readdir(join(dir, 'checkpoints'))).toEqual(['step-0000008', 'step-0000010']);

    const best = evals.reduce((a, b) => (b.bitsPerByte < a.bitsPerByte ? b : a));
    const saved = JSON.parse(await readFile(join(dir, 'best', 'trainer.json'), 'utf8'));
    expect(saved.reason).toBe('best');
    expect(saved.step).toBe(best.step);
    expect(saved.bestValidationBitsPerByte).toBe(best.bitsPerByte);
    // The model in best/ really scores that on the validation windows.
    const bestModel = await loadModel(join(dir, 'best'));
    cleanup.push(() => bestModel.dispose());
    const validationIds = trainData.validation!.readIds(0, 2 * MICRO.contextLength);
    expect((await evaluateStream(bestModel, validationIds, { batchSize: 2 })).bitsPerByte).toBeCloseTo(
      best.bitsPerByte,
      5,
    );
  });

  it('writes an interrupted checkpoint when aborted, and resuming from it matches an uninterrupted run', async () => {
    const options: Partial<TrainingOptions> = { ...BASE, steps: 8, accumulationSteps: 2 };
    const straight = trainer(model(), data(), options);
    await straight.run();

    const dir = await tempDir();
    const run = new RunDirectory(dir, { data: 'test corpus' });
    const controller = new AbortController();
    const events: TrainerEvent[] = [];
    const first = trainer(model(), data(), options, {
      checkpoints: run,
      onEvent: (event: TrainerEvent) => {
        events.push(event);
        if (event.type === 'step' && event.metrics.step === 3) controller.abort();
      },
    });
    const stopped = await first.run(controller.signal);
    expect(stopped).toEqual({ step: 3, validationBitsPerByte: undefined, interrupted: true });
    expect(events.at(-1)).toEqual({ type: 'checkpoint', step: 3, reason: 'interrupted' });
    const saved = JSON.parse(
      await readFile(join(dir, 'checkpoints', 'step-0000003', 'trainer.json'), 'utf8'),
    );
    expect(saved.reason).toBe('interrupted');

    const second = await resume(dir, data(), { checkpoints: run });
    expect(second.step).toBe(3);
    const finished = await second.run();
    expect(finished.interrupted).toBe(false);
    expect(finished.step).toBe(8);
    expect(differing(weights(second.model), weights(straight.model))).toEqual([]);
  });
});
