import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type ByteModel, createModel, type ModelConfigInput } from '@megabyte/core';
import { graphOptionConfigs, microMegabyteConfig, relativeError } from '@megabyte/core/testing';
import { Corpus } from '@megabyte/patching';
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVALUATION_MODES, evaluateStream } from './evaluate.js';
import { loadResumePoint, RunDirectory } from './node/run-directory.js';
import { onnxRuntimeEngine, onnxRuntimeScorer } from './onnxruntime-engine.js';
import { Trainer, type TrainerHooks, type TrainingOptions } from './trainer.js';

const TEXT = 'the cat sat on the mat. a dog ate the old log. time and tide wait for no man. '.repeat(40);
const data = () => ({
  train: Corpus.fromDocuments([TEXT]),
  validation: Corpus.fromDocuments([TEXT.slice(0, 300)]),
});

/** Two micro-batches per step and clipping that bites: every part of the step is exercised. */
const OPTIONS: Partial<TrainingOptions> = {
  batchSize: 4,
  accumulationSteps: 2,
  lr: 1e-2,
  warmupSteps: 2,
  clip: 0.5,
  evalEvery: 0,
  logEvery: 1,
  checkpointEvery: 0,
  seed: 5,
};

const ONNXRUNTIME: TrainerHooks = { engine: onnxRuntimeEngine({ ort, threads: 1 }) };

const CONFIGS = graphOptionConfigs();

const cleanup: Array<() => unknown> = [];
beforeAll(async () => {
  await tf.setBackend('cpu');
  ortWeb.env.wasm.numThreads = 1;
});
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function trainer(
  config: ModelConfigInput,
  hooks: TrainerHooks = {},
  options: Partial<TrainingOptions> = {},
): Trainer {
  const model = createModel(config, { seed: 2 });
  const t = new Trainer(model, data(), { ...OPTIONS, steps: 50, ...options }, hooks);
  cleanup.push(
    () => model.dispose(),
    () => t.dispose(),
  );
  return t;
}

function weights(model: ByteModel): Map<string, Float32Array> {
  return new Map(model.parameters().map((p) => [p.name, Float32Array.from(p.variable.dataSync())]));
}

/**
 * The largest relative error of any parameter but the attention's key biases: softmax ignores a
 * shift shared by every key, so their gradient is zero but for rounding noise, which AdamW's
 * normalisation blows up to full-size steps in arbitrary directions on any two engines.
 */
function weightError(a: ByteModel, b: ByteModel): number {
  const expected = weights(b);
  const compared = [...weights(a)].filter(([name]) => !name.endsWith('attn.wk.bias'));
  return Math.max(...compared.map(([name, values]) => relativeError(values, expected.get(name)!)));
}

async function losses(t: Trainer, steps: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push((await t.trainStep()).loss);
  return out;
}

describe('onnxruntime training engine', () => {
  for (const [label, config] of Object.entries(CONFIGS)) {
    it(`${label}: 5 AdamW steps give the weights the tfjs trainer gives`, async () => {
      const onTfjs = trainer(config);
      const onOrt = trainer(config, ONNXRUNTIME);
      const tfjsLosses = await losses(onTfjs, 5);
      const ortLosses = await losses(onOrt, 5);
      await onOrt.syncModel();
      expect(relativeError(ortLosses, tfjsLosses)).toBeLessThan(1e-5);
      expect(weightError(onOrt.model, onTfjs.model)).toBeLessThan(1e-5);
      // The comparison can fail: the weights moved away from their initial values.
      expect(weightError(onOrt.model, createModel(config, { seed: 2 }))).toBeGreaterThan(1e-3);
    });
  }

  it('a 50-step run has the loss curve of the tfjs trainer', async () => {
    const config = CONFIGS.megabyte!;
    const tfjsLosses = await losses(trainer(config), 50);
    const ortLosses = await losses(trainer(config, ONNXRUNTIME), 50);
    expect(relativeError(ortLosses, tfjsLosses)).toBeLessThan(1e-4);
    expect(ortLosses.at(-1)!).toBeLessThan(ortLosses[0]! - 1); // it learns
  });

  it('resumes across engines: onnxruntime then tfjs, and tfjs then onnxruntime, equal a straight run', async () => {
    const config = CONFIGS.megabyte!;
    const straight = trainer(config);
    const straightLosses = await losses(straight, 6);
    for (const [before, after] of [
      [ONNXRUNTIME, {}],
      [{}, ONNXRUNTIME],
    ] as const) {
      const dir = await mkdtemp(join(tmpdir(), 'megabyte-engine-test-'));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      const first = trainer(config, before);
      const firstLosses = await losses(first, 3);
      await first.syncModel();
      const state = first.state();
      await new RunDirectory(dir, { data: 'test' }).save(first.model, state, 'interval');
      tf.dispose([...state.optimizer.tensors.values()]);
      const point = await loadResumePoint(dir);
      const second = new Trainer(point.model, data(), point.options, after);
      cleanup.push(
        () => point.model.dispose(),
        () => second.dispose(),
      );
      second.restore(point.state);
      tf.dispose([...point.state.optimizer.tensors.values()]);
      const secondLosses = await losses(second, 3);
      await second.syncModel();
      expect(relativeError([...firstLosses, ...secondLosses], straightLosses)).toBeLessThan(1e-5);
      expect(weightError(second.model, straight.model)).toBeLessThan(1e-5);
    }
  });

  it('names a missing execution provider before any step', async () => {
    const t = trainer(CONFIGS.transformer!, {
      engine: onnxRuntimeEngine({ ort, executionProvider: 'webgpu' }),
    });
    await expect(t.trainStep()).rejects.toThrow(/"webgpu" execution provider.*onnxruntime-web/s);
    expect(t.step).toBe(0);
  });

  it('refuses a config with dropout before any step, naming the fix', () => {
    expect(() => trainer(microMegabyteConfig({ dropout: 0.1 }), ONNXRUNTIME)).toThrow(
      /dropout.*--backend wasm/s,
    );
  });

  it('validates on its own weights as tfjs validates the same model', async () => {
    const config = CONFIGS.megabyte!;
    const onTfjs = trainer(config);
    const onOrt = trainer(config, ONNXRUNTIME);
    await losses(onTfjs, 3);
    await losses(onOrt, 3);
    const [tfjsBpb, ortBpb] = [await onTfjs.validate(), await onOrt.validate()];
    expect(Math.abs(ortBpb! - tfjsBpb!) / tfjsBpb!).toBeLessThan(1e-5);
  });

  it('scores windows, sliding windows and strided inference as tfjs does', async () => {
    const model = createModel(CONFIGS.megabyte!, { seed: 4 });
    cleanup.push(() => model.dispose());
    const ids = Int32Array.from(TEXT.slice(0, 150), (c) => c.charCodeAt(0));
    const nats = await onnxRuntimeScorer(model, { ort, threads: 1 });
    for (const mode of EVALUATION_MODES) {
      const expected = await evaluateStream(model, ids, { mode, batchSize: 3 });
      const actual = await evaluateStream(model, ids, { mode, batchSize: 3, nats });
      expect(relativeError(actual.surprisal, expected.surprisal), mode).toBeLessThan(1e-5);
    }
  });

  it('resumes on onnxruntime bit for bit', async () => {
    const config = CONFIGS.megabyte!;
    const straight = trainer(config, ONNXRUNTIME);
    const straightLosses = await losses(straight, 4);
    await straight.syncModel();
    const first = trainer(config, ONNXRUNTIME);
    const firstLosses = await losses(first, 2);
    await first.syncModel();
    const state = first.state();
    const second = trainer(config, ONNXRUNTIME);
    for (const [p, q] of second.model.parameters().map((p, i) => [p, first.model.parameters()[i]!] as const))
      p.variable.assign(q.variable);
    second.restore({ ...state, optimizer: state.optimizer });
    tf.dispose([...state.optimizer.tensors.values()]);
    const secondLosses = await losses(second, 2);
    await second.syncModel();
    expect([...firstLosses, ...secondLosses]).toEqual(straightLosses);
    expect(weightError(second.model, straight.model)).toBe(0);
  });

  it('trains on onnxruntime-web (wasm) as on onnxruntime-node', async () => {
    const config = CONFIGS.transformer!;
    const onNode = trainer(config, ONNXRUNTIME);
    const onWeb = trainer(config, { engine: onnxRuntimeEngine({ ort: ortWeb, executionProvider: 'wasm' }) });
    const nodeLosses = await losses(onNode, 3);
    const webLosses = await losses(onWeb, 3);
    expect(relativeError(webLosses, nodeLosses)).toBeLessThan(1e-5);
  });
});
