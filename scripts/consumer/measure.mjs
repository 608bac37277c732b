#!/usr/bin/env node
// What each kind of user pays: for every user path (patching only, ONNX inference, tfjs
// inference, training) a fresh npm project outside the repository installs the packed tarballs,
// then we measure node_modules on disk and the minified browser bundle of a typical script
// (esbuild, everything bundled; the .wasm binaries the backends fetch at run time are not counted),
// and whether the script runs in plain Node.
//   node scripts/consumer/measure.mjs --tarballs DIR/tarballs.json --work /tmp/measure --json out.json
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const root = resolve(import.meta.dirname, '../..');
const esbuild = createRequire(join(root, 'apps/cli/package.json'))('esbuild');

/** One user path: what it installs and a script that does the typical thing. */
const PATHS = [
  {
    name: 'patching only',
    dependencies: ['@megabyte/patching'],
    script: `import { Corpus, decodeText, encodeText, Utf8StreamDecoder } from '@megabyte/patching';
const decoder = new Utf8StreamDecoder();
let text = '';
for (const byte of encodeText('café')) text += decoder.push(byte);
console.log(text + decoder.flush(), Corpus.fromDocuments(['abc', 'de']).length, decodeText(encodeText('ok')));
`,
  },
  {
    name: 'ONNX inference',
    dependencies: ['@megabyte/onnx', 'onnxruntime-web'],
    // in Node: the export at $MEGABYTE_ONNX (default /tmp/tiny.json, as `megabyte export` writes it)
    nodeScript: `import * as ort from 'onnxruntime-web';
import { generateText, scoreText } from '@megabyte/onnx';
import { loadModel } from '@megabyte/onnx/node';
ort.env.wasm.numThreads = 1;
const model = await loadModel(process.env.MEGABYTE_ONNX ?? '/tmp/tiny.json', { onnxruntime: ort, executionProvider: 'wasm' });
let text = '';
for await (const piece of generateText(model, { prompt: 'The ', maxBytes: 16, seed: 1 })) text += piece;
const { bitsPerByte } = await scoreText(model, text.repeat(40));
console.log(JSON.stringify(text), bitsPerByte.toFixed(2));
await model.release();
`,
    script: `import * as ort from 'onnxruntime-web';
import { generateText, loadModel } from '@megabyte/onnx';
export async function complete(url) {
  const model = await loadModel(url, { onnxruntime: ort, executionProvider: 'wasm', cache: true });
  let text = '';
  for await (const piece of generateText(model, { prompt: 'The ', maxBytes: 32, seed: 1 })) text += piece;
  const { bitsPerByte } = await model.scoreBytes(new TextEncoder().encode(text));
  await model.release();
  return { text, bitsPerByte };
}
`,
  },
  {
    name: 'tfjs inference',
    dependencies: ['@megabyte/core', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu'],
    script: `import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createModel, decodeModel, generateText, presetConfig } from '@megabyte/core';
await tf.setBackend('cpu');
const model = globalThis.checkpoint ? decodeModel(globalThis.checkpoint) : createModel(presetConfig('tiny'), { seed: 0 });
let text = '';
for await (const piece of generateText(model, { prompt: 'The ', maxBytes: 8, seed: 1 })) text += piece;
console.log(JSON.stringify(text));
`,
  },
  {
    name: 'training',
    dependencies: [
      '@megabyte/trainer',
      '@megabyte/core',
      '@megabyte/patching',
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-backend-cpu',
    ],
    script: `import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createModel, presetConfig } from '@megabyte/core';
import { Corpus } from '@megabyte/patching';
import { Trainer } from '@megabyte/trainer';
await tf.setBackend('cpu');
const config = { ...presetConfig('tiny'), contextLength: 32 };
const model = createModel(config, { seed: 0 });
const train = Corpus.fromDocuments(['The quick brown fox jumps over the lazy dog. '.repeat(20)]);
const trainer = new Trainer(model, { train }, { steps: 1, batchSize: 2, warmupSteps: 0, evalEvery: 0, logEvery: 1, checkpointEvery: 0 }, {
  onEvent: (event) => { if (event.type === 'step') console.log('loss', event.metrics.loss.toFixed(3)); },
});
await trainer.run();
trainer.dispose();
model.dispose();
`,
  },
];

function overridesFor(tarballs) {
  return Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`]));
}

function directorySize(dir) {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

function installedPackages(dir) {
  const out = spawnSync('npm', ['ls', '--all', '--parseable'], { cwd: dir, encoding: 'utf8' }).stdout;
  return out.split('\n').filter((line) => line.includes('node_modules')).length;
}

/** Minified browser bundle of the script; bytes per top-level package from the metafile. */
async function bundle(dir, entry) {
  const result = await esbuild.build({
    absWorkingDir: dir,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    outdir: join(dir, 'bundle'),
    logLevel: 'silent',
    // node:* imports inside packages meant for the browser would fail the build: count them
    external: ['node:*'],
    loader: { '.wasm': 'file' },
  });
  const js = result.outputFiles.filter((file) => file.path.endsWith('.js'));
  const bytes = js.reduce((sum, file) => sum + file.contents.length, 0);
  const gzip = js.reduce((sum, file) => sum + gzipSync(file.contents).length, 0);
  const byPackage = {};
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(input);
      const name = match ? match[1] : input;
      byPackage[name] = (byPackage[name] ?? 0) + bytesInOutput;
    }
  }
  const nodeImports = [
    ...new Set(Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path))),
  ].filter((path) => path.startsWith('node:'));
  return { bytes, gzip, byPackage, nodeImports };
}

async function measurePath(path, tarballs, work) {
  const dir = join(work, path.name.replace(/\W+/g, '-'));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const dependencies = Object.fromEntries(
    path.dependencies.map((name) => [name, tarballs[name] ? `file:${tarballs[name]}` : 'latest']),
  );
  // third-party packages at the versions the workspace uses
  for (const name of path.dependencies) if (!tarballs[name]) dependencies[name] = workspaceVersionOf(name);
  const manifest = {
    name: 'consumer',
    private: true,
    type: 'module',
    dependencies,
    overrides: overridesFor(tarballs),
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(dir, 'main.mjs'), path.script);
  if (path.nodeScript) writeFileSync(join(dir, 'node.mjs'), path.nodeScript);
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  if (install.status !== 0) throw new Error(`npm install failed for ${path.name}:\n${install.stderr}`);
  const installBytes = directorySize(join(dir, 'node_modules'));
  const packages = installedPackages(dir);
  let built;
  try {
    built = await bundle(dir, './main.mjs');
  } catch (error) {
    built = { error: String(error.message).split('\n').slice(0, 3).join(' ') };
  }
  let node;
  {
    const run = spawnSync('node', [path.nodeScript ? 'node.mjs' : 'main.mjs'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 300_000,
    });
    node =
      run.status === 0
        ? 'ok'
        : `fails: ${(run.stderr.match(/\w*Error[^\n]*/) ?? [run.stderr.slice(0, 200)])[0]}`;
  }
  return {
    path: path.name,
    dependencies: path.dependencies,
    installBytes,
    packages,
    bundle: built,
    tfjsInstalled: existsSync(join(dir, 'node_modules', '@tensorflow', 'tfjs-core')),
    plainNode: node,
  };
}

function workspaceVersionOf(name) {
  for (const folder of ['packages/core', 'packages/onnx', 'apps/web', 'apps/cli']) {
    const manifest = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8'));
    const all = { ...manifest.devDependencies, ...manifest.dependencies };
    if (all[name] && !all[name].startsWith('workspace:')) return all[name];
  }
  return 'latest';
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const kb = (bytes) => `${(bytes / 1e3).toFixed(0)} KB`;

export function table(results) {
  const lines = [
    '| path | install (node_modules) | packages | tfjs-core installed | bundle min | gzip | of which tfjs | of which onnxruntime | node:* in bundle | plain Node |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const b = r.bundle;
    const part = (prefix) =>
      kb(
        Object.entries(b.byPackage ?? {})
          .filter(([n]) => n.startsWith(prefix))
          .reduce((s, [, v]) => s + v, 0),
      );
    lines.push(
      b.error
        ? `| ${r.path} | ${mb(r.installBytes)} | ${r.packages} | ${r.tfjsInstalled ? 'yes' : 'no'} | build fails: ${b.error} | | | | | ${r.plainNode} |`
        : `| ${r.path} | ${mb(r.installBytes)} | ${r.packages} | ${r.tfjsInstalled ? 'yes' : 'no'} | ${kb(b.bytes)} | ${kb(b.gzip)} | ${part('@tensorflow/')} | ${part('onnxruntime')} | ${b.nodeImports.join(' ') || 'none'} | ${r.plainNode} |`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      tarballs: { type: 'string' },
      work: { type: 'string' },
      json: { type: 'string' },
      only: { type: 'string' },
    },
  });
  const tarballs = JSON.parse(readFileSync(values.tarballs, 'utf8'));
  const work = resolve(values.work ?? '/tmp/megabyte-measure');
  const results = [];
  for (const path of PATHS) {
    if (values.only && !path.name.includes(values.only)) continue;
    console.error(`measuring ${path.name}...`);
    results.push(await measurePath(path, tarballs, work));
  }
  console.log(table(results));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
}
