import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { microMegabyteConfig } from '@megabyte/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'megabyte.mjs');
let dir: string;

beforeAll(async () => {
  await run('node', [join(import.meta.dirname, '..', 'build.mjs')]);
  dir = await mkdtemp(join(tmpdir(), 'megabyte-train-ort-'));
  await writeFile(join(dir, 'model.json'), JSON.stringify(microMegabyteConfig({ contextLength: 32 })));
  await writeFile(join(dir, 'data.txt'), 'the cat sat on the mat. a dog ate the old log. '.repeat(60));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function train(backend: string, out: string, extra: string[] = []) {
  const args = [
    'train',
    '--preset',
    join(dir, 'model.json'),
    '--data',
    join(dir, 'data.txt'),
    '--backend',
    backend,
  ];
  const common = [
    '--steps',
    '6',
    '--batch',
    '4',
    '--warmup',
    '2',
    '--eval-every',
    '0',
    '--eval-windows',
    '2',
  ];
  const { stderr } = await run('node', [CLI, ...args, ...common, '--out', join(dir, out), ...extra]);
  const metrics = (await readFile(join(dir, out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; loss?: number });
  return { stderr, losses: metrics.filter((m) => m.type === 'step').map((m) => m.loss!) };
}

describe('megabyte train and eval --backend onnxruntime', () => {
  it('trains on onnxruntime-node, says so, and follows the loss curve of tfjs-wasm', async () => {
    const ort = await train('onnxruntime', 'ort', ['--threads', '1']);
    expect(ort.stderr).toMatch(/backend: onnxruntime-node \(cpu, 1 thread\); weights of record on tfjs wasm/);
    const wasm = await train('wasm', 'wasm');
    expect(ort.losses).toHaveLength(6);
    ort.losses.forEach((loss, i) => expect(loss).toBeCloseTo(wasm.losses[i]!, 4));
    const summary = JSON.parse(await readFile(join(dir, 'ort', 'summary.json'), 'utf8'));
    expect(summary.backend).toBe('onnxruntime');
  });

  it('refuses a model with dropout before any step, naming the fix', async () => {
    await writeFile(
      join(dir, 'dropout.json'),
      JSON.stringify(microMegabyteConfig({ contextLength: 32, dropout: 0.1 })),
    );
    const args = ['train', '--preset', join(dir, 'dropout.json'), '--data', join(dir, 'data.txt')];
    const failed = run('node', [CLI, ...args, '--backend', 'onnxruntime', '--out', join(dir, 'dropout')]);
    await expect(failed).rejects.toMatchObject({
      stderr: expect.stringMatching(/dropout 0.1.*--backend wasm/s),
    });
  });

  it('evaluates on onnxruntime-node with the bits per byte of tfjs-wasm, in every mode', async () => {
    await train('onnxruntime', 'eval-model', ['--threads', '1']);
    for (const mode of ['windows', 'strided']) {
      const scores: Record<string, number> = {};
      for (const backend of ['onnxruntime', 'wasm']) {
        const args = [
          'eval',
          '--model',
          join(dir, 'eval-model'),
          '--data',
          join(dir, 'data.txt'),
          '--split',
          'all',
        ];
        const { stdout } = await run('node', [CLI, ...args, '--mode', mode, '--backend', backend, '--json']);
        const report = JSON.parse(stdout) as { bitsPerByte: number; backend: string };
        expect(report.backend).toBe(backend);
        scores[backend] = report.bitsPerByte;
      }
      expect(scores.onnxruntime).toBeCloseTo(scores.wasm!, 5);
    }
  });
});
