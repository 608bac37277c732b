// tfjs-core first, fenced off by the side-effect import (see backends.test.ts).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AnyModel, idsTensor } from '@megabyte/core';
import { loadModel } from '@megabyte/core/node';
import { relativeError } from '@megabyte/core/testing';
import { type Corpus, splitCorpus } from '@megabyte/patching';
import { Trainer } from '@megabyte/trainer';
import { loadResumePoint } from '@megabyte/trainer/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON_FIXTURES } from './python-fixtures.js';

/**
 * The PyTorch twin (python/megabyte_torch) against @megabyte/core on the same checkpoints: the
 * shipped default model and the committed fixtures give the same logits, and a checkpoint written
 * by PyTorch loads here and scores the same bits per byte. Needs /usr/bin/python3 with torch,
 * which CI installs (Debian's python3-torch); elsewhere the suite is skipped, in CI it fails.
 */
const PYTHON = '/usr/bin/python3';
const REPO = join(import.meta.dirname, '..', '..', '..');
const HELPER = join(REPO, 'python', 'tests', 'ts_parity.py');
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const TOLERANCE = 1e-5;
const FIXTURE = join(REPO, 'python', 'tests', 'fixtures', 'conv');

interface PythonAnswer {
  logits: number[];
  bitsPerByte: number;
}

function askPython(request: object): PythonAnswer {
  const run = spawnSync(PYTHON, [HELPER], {
    input: JSON.stringify(request),
    cwd: REPO,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    timeout: 120_000,
  });
  if (run.status !== 0) throw new Error(`${HELPER} failed (${run.status}):\n${run.stderr}`);
  return JSON.parse(run.stdout) as PythonAnswer;
}

/** Text bytes plus byte 0 and the boundary id, `rows` rows of `length` ids. */
function inputIds(rows: number, length: number): number[][] {
  const text = new TextEncoder().encode(
    'The jury said it did find that the city had been well run. MEGABYTE predicts bytes, \u00e9\u00e8 \u4e2d. '.repeat(
      8,
    ),
  );
  return Array.from({ length: rows }, (_, row) =>
    Array.from({ length }, (_, i) => (i === 5 ? 0 : i === 11 ? 257 : text[(i + row * 37) % text.length]!)),
  );
}

async function tsLogitsAndBits(model: AnyModel, ids: number[][]): Promise<PythonAnswer> {
  const input = idsTensor(ids.flat(), ids.length, ids[0]!.length);
  const logits = model.forward(input);
  const values = Array.from(await logits.data());
  const bitsPerByte = await model.bitsPerByte(input);
  tf.dispose([input, logits]);
  return { logits: values, bitsPerByte };
}

describe.skipIf(!hasTorch && !process.env.CI)('the PyTorch twin', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'megabyte-twin-'));
  beforeAll(async () => {
    await tf.setBackend('cpu');
    if (!hasTorch) throw new Error(`${PYTHON} with torch is missing: apt-get install python3-torch`);
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const checkpoints: [string, string][] = [
    ['the shipped default model', join(REPO, 'packages', 'model-default')],
    ...Object.keys(PYTHON_FIXTURES).map((name): [string, string] => [
      `fixture ${name}`,
      join(REPO, 'python', 'tests', 'fixtures', name),
    ]),
  ];

  it.each(checkpoints)('computes the logits of %s to 1e-5 relative', async (_, dir) => {
    const model = await loadModel(dir);
    // A length that is not a whole number of patches, so that padding is exercised too.
    const ids = inputIds(2, model.config.contextLength - 3);
    const ours = await tsLogitsAndBits(model, ids);
    model.dispose();
    const theirs = askPython({ checkpoint: dir, ids });
    expect(relativeError(theirs.logits, ours.logits)).toBeLessThan(TOLERANCE);
    expect(theirs.bitsPerByte).toBeCloseTo(ours.bitsPerByte, 5);
  });

  it.each(Object.entries(PYTHON_FIXTURES))(
    'writes %s checkpoints that load here and score the same',
    async (name, config) => {
      const dir = join(scratch, name);
      const ids = inputIds(2, config.contextLength);
      const theirs = askPython({ create: config, seed: 3, save: dir, ids });
      const model = await loadModel(dir);
      const ours = await tsLogitsAndBits(model, ids);
      model.dispose();
      expect(ours.bitsPerByte).toBeCloseTo(theirs.bitsPerByte, 5);
      expect(relativeError(ours.logits, theirs.logits)).toBeLessThan(TOLERANCE);
    },
  );

  /** The data and options of the training comparisons, and a PyTorch run with them (steps 2 and 4 kept). */
  const training = (() => {
    let made: { train: Corpus; run: string } | undefined;
    return () => {
      if (made) return made;
      const words = 'the of and to a in that is was he for it with as his on be at by'.split(' ');
      const documents = Array.from({ length: 6 }, (_, d) =>
        Array.from({ length: 200 }, (_, i) => words[(i * 7 + d * 3) % words.length]).join(' '),
      );
      const data = join(scratch, 'data');
      mkdirSync(data);
      documents.forEach((text, d) => writeFileSync(join(data, `doc${d}.txt`), text));
      const run = join(scratch, 'run');
      const flags = ['--init', FIXTURE, '--data', data, '--run', run, '--validation', '0.2'];
      const recipe = ['--steps', '4', '--batch', '4', '--accumulation', '2', '--lr', '3e-3', '--warmup', '2'];
      const rest = [
        '--clip',
        '0.5',
        '--seed',
        '5',
        '--eval-every',
        '0',
        '--checkpoint-every',
        '2',
        '--threads',
        '1',
      ];
      const done = spawnSync(PYTHON, ['-m', 'megabyte_torch.train', ...flags, ...recipe, ...rest], {
        encoding: 'utf8',
        env: { ...process.env, PYTHONPATH: join(REPO, 'python') },
        timeout: 120_000,
      });
      if (done.status !== 0) throw new Error(`megabyte_torch.train failed:\n${done.stderr}`);
      const encoded = documents.map((d) => new TextEncoder().encode(d));
      made = { train: splitCorpus(encoded, { validationFraction: 0.2, seed: 0 }).train, run };
      return made;
    };
  })();

  /** Per-tensor relative errors at or above 1e-4 between a model and a checkpoint. */
  async function differences(model: AnyModel, dir: string): Promise<[string, number][]> {
    const trained = await loadModel(dir);
    const theirs = new Map(trained.parameters().map((p) => [p.name, p.variable]));
    // A key bias shifts every score of a query alike, which softmax ignores: its true gradient is
    // zero, so Adam turns each engine's rounding noise into full-size steps of random sign.
    const errors = await Promise.all(
      model
        .parameters()
        .filter((p) => !p.name.endsWith('attn.wk.bias'))
        .map(
          async (p): Promise<[string, number]> => [
            p.name,
            relativeError(await theirs.get(p.name)!.data(), await p.variable.data()),
          ],
        ),
    );
    trained.dispose();
    return errors.filter(([, error]) => error >= 1e-4);
  }

  it('trains as @megabyte/trainer does: same windows, AdamW, schedule and clipping', async () => {
    const { train, run } = training();
    const model = await loadModel(FIXTURE);
    // Options far from the defaults, so that each one matters; a low clip so that clipping acts.
    const trainer = new Trainer(
      model,
      { train },
      { steps: 4, batchSize: 4, accumulationSteps: 2, lr: 3e-3, warmupSteps: 2, clip: 0.5, seed: 5 },
    );
    for (let step = 0; step < 4; step++) await trainer.trainStep();
    expect(await differences(model, join(run, 'checkpoints', 'step-0000004'))).toEqual([]);
    trainer.dispose();
    model.dispose();
  });

  it('writes run directories that @megabyte/trainer resumes where PyTorch would have gone on', async () => {
    const { train, run } = training();
    const resume = await loadResumePoint(join(run, 'checkpoints', 'step-0000002'));
    const trainer = new Trainer(resume.model, { train }, resume.options);
    trainer.restore(resume.state);
    while (trainer.step < 4) await trainer.trainStep();
    expect(await differences(resume.model, join(run, 'checkpoints', 'step-0000004'))).toEqual([]);
    trainer.dispose();
    resume.model.dispose();
  });
});
