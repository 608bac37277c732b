// Training throughput on WebGPU, with and without the fused WGSL kernels, and where the time goes
// per kernel. Made to be bundled by ../shared/gpu/prepare.sh and run on a GPU machine with no
// Node.js (see the README, "Benchmark on a GPU"); it runs anywhere Dawn finds an adapter. It must
// be bundled (tfjs-core's gradients entry does not load in plain Node), then:
//
//   bash .gpu-bundle/run.sh [--preset small] [--batch 16] [--length 2048] [--steps 10] \
//     [--warmup 2] [--kernels both|on|off] [--lr 1e-4] [--out DIR]
//
// Each timed step is what a training step does on the GPU: forward, loss, backward (tfjs
// gradients) and a plain SGD update of every parameter, then reading the loss back. (AdamW lives
// in @megabyte/trainer, which this package does not depend on; its update is a few elementwise
// ops per parameter, the same with or without the fused kernels.) Writes
// train-throughput.json to --out, else to $OUT, else to the working directory, and prints a table last.
import * as tf from '@tensorflow/tfjs-core';
import '@megabyte/nn/gradients';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type AnyModel, createModel, idsTensor, presetConfig } from '@megabyte/core';
import { createWebGpuRuntime, MEGABYTE_KERNELS, shutdown, type WebGpuRuntime } from '../src/node.js';

interface Options {
  preset: string;
  batch: number;
  length: number;
  steps: number;
  warmup: number;
  modes: boolean[];
  outDir: string;
  learningRate: number;
}

interface KernelTime {
  name: string;
  count: number;
  totalMs: number;
  percent: number;
}

interface ModeResult {
  fusedKernels: boolean;
  msPerStep: number;
  bytesPerSecond: number;
  /** Loss before the first and after the last timed step: both modes should agree. */
  firstLoss: number;
  lastLoss: number;
  /** One profiled step (not timed with the others): GPU time per tfjs kernel, largest first. */
  profile: { kernelMsTotal: number; wallMs: number; kernels: KernelTime[] };
}

const USAGE =
  'usage: train-throughput [--preset small] [--batch 16] [--length 2048] [--steps 10] [--warmup 2] ' +
  '[--kernels both|on|off] [--lr 1e-4] [--out DIR]';

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      preset: { type: 'string', default: 'small' },
      batch: { type: 'string', default: '16' },
      length: { type: 'string', default: '' },
      steps: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      kernels: { type: 'string', default: 'both' },
      lr: { type: 'string', default: '1e-4' },
      out: { type: 'string', default: '' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, text: string, allowZero = false): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) {
      throw new Error(
        `--${name}: expected a whole number${allowZero ? '' : ' > 0'}, got '${text}'\n${USAGE}`,
      );
    }
    return n;
  };
  const config = presetConfig(values.preset);
  const modes = { both: [false, true], on: [true], off: [false] }[values.kernels];
  if (!modes) throw new Error(`--kernels: expected both, on or off, got '${values.kernels}'\n${USAGE}`);
  const length = values.length === '' ? config.contextLength : positive('length', values.length);
  if (length > config.contextLength) {
    throw new Error(
      `--length ${length} exceeds the ${values.preset} preset's context of ${config.contextLength}`,
    );
  }
  return {
    preset: values.preset,
    batch: positive('batch', values.batch),
    length,
    steps: positive('steps', values.steps),
    warmup: positive('warmup', values.warmup, true),
    modes,
    outDir: values.out || process.env.OUT || '.',
    learningRate: Number(values.lr),
  };
}

/** Deterministic bytes: the same batch in both modes, so their losses can be compared. */
function batchIds(batch: number, length: number): tf.Tensor2D {
  const ids = new Int32Array(batch * length);
  let state = 12345;
  for (let i = 0; i < ids.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    ids[i] = state >>> 24;
  }
  return idsTensor(ids, batch, length);
}

/** Forward, backward and an SGD update; resolves with the loss once the GPU is done. */
async function trainStep(model: AnyModel, ids: tf.Tensor2D, step: number, lr: number): Promise<number> {
  const params = model.parameters();
  const { value, grads } = tf.variableGrads(
    () => model.loss(ids, { training: true, dropoutSeed: step }),
    params.map((p) => p.variable),
  );
  tf.tidy(() => {
    for (const p of params) p.variable.assign(tf.sub(p.variable, tf.mul(grads[p.variable.name]!, lr)));
  });
  const loss = (await value.data())[0]!;
  value.dispose();
  tf.dispose(grads);
  return loss;
}

async function profileStep(model: AnyModel, ids: tf.Tensor2D, lr: number): Promise<ModeResult['profile']> {
  const start = performance.now();
  const info = await tf.profile(async () => {
    await trainStep(model, ids, -1, lr);
  });
  const wallMs = performance.now() - start;
  const byName = new Map<string, { count: number; totalMs: number }>();
  for (const kernel of info.kernels) {
    const entry = byName.get(kernel.name) ?? { count: 0, totalMs: 0 };
    entry.count += 1;
    entry.totalMs += Number(kernel.kernelTimeMs) || 0;
    byName.set(kernel.name, entry);
  }
  const kernelMsTotal = [...byName.values()].reduce((sum, k) => sum + k.totalMs, 0);
  const kernels = [...byName.entries()]
    .map(([name, k]) => ({ name, ...k, percent: (100 * k.totalMs) / Math.max(kernelMsTotal, 1e-9) }))
    .sort((a, b) => b.totalMs - a.totalMs);
  return { kernelMsTotal, wallMs, kernels };
}

async function runMode(
  options: Options,
  fusedKernels: boolean,
): Promise<{ runtime: WebGpuRuntime; result: ModeResult }> {
  const runtime = await createWebGpuRuntime({ fusedKernels, log: (line) => console.error(line) });
  // Time every op on the GPU: tfjs otherwise runs small ops whose inputs are on the CPU there.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const config = presetConfig(options.preset);
  const model = createModel(config, { seed: 1 });
  const ids = batchIds(options.batch, options.length);
  try {
    console.error(`${fusedKernels ? 'fused kernels' : 'composite ops'}: ${options.warmup} warm-up steps`);
    for (let step = 0; step < options.warmup; step++) await trainStep(model, ids, step, options.learningRate);
    const losses: number[] = [];
    const start = performance.now();
    for (let step = 0; step < options.steps; step++) {
      losses.push(await trainStep(model, ids, options.warmup + step, options.learningRate));
    }
    const seconds = (performance.now() - start) / 1000;
    console.error(
      `${fusedKernels ? 'fused kernels' : 'composite ops'}: ${options.steps} steps in ${seconds.toFixed(2)} s; profiling one more`,
    );
    const profile = await profileStep(model, ids, options.learningRate);
    return {
      runtime,
      result: {
        fusedKernels,
        msPerStep: (1000 * seconds) / options.steps,
        bytesPerSecond: (options.batch * options.length * options.steps) / seconds,
        firstLoss: losses[0]!,
        lastLoss: losses.at(-1)!,
        profile,
      },
    };
  } finally {
    ids.dispose();
    model.dispose();
  }
}

function writeJson(dir: string, value: unknown): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'train-throughput.json');
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}

function table(rows: Record<string, string | number>[]): string {
  const keys = Object.keys(rows[0] ?? {});
  const cells = [keys, ...rows.map((r) => keys.map((k) => String(r[k])))];
  const widths = keys.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => cell.padStart(widths[i]!)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const results: ModeResult[] = [];
  let runtime: WebGpuRuntime | undefined;
  for (const fused of options.modes) {
    const mode = await runMode(options, fused);
    runtime = mode.runtime;
    results.push(mode.result);
  }
  const adapter = runtime!.adapter;
  const timestamps = adapter.features.includes('timestamp-query');
  const report = {
    bench: 'train-throughput',
    date: new Date().toISOString(),
    device: runtime!.description,
    adapter: { vendor: adapter.vendor, architecture: adapter.architecture, description: adapter.description },
    kernelTime: timestamps
      ? 'GPU time per kernel from WebGPU timestamp queries (one compute pass per program while profiling)'
      : 'no timestamp-query on this adapter: tfjs reports 0 ms per kernel; only wall times are meaningful',
    preset: options.preset,
    batch: options.batch,
    length: options.length,
    steps: options.steps,
    warmup: options.warmup,
    step: 'forward + loss + backward + SGD update, loss read back each step',
    fusedKernelNames: MEGABYTE_KERNELS,
    results,
  };
  const path = writeJson(options.outDir, report);

  for (const r of results) {
    console.log(
      `\nper-kernel GPU time, one step, fused kernels ${r.fusedKernels ? 'on' : 'off'} (${r.profile.kernelMsTotal.toFixed(1)} ms of kernels, ${r.profile.wallMs.toFixed(0)} ms wall while profiling):`,
    );
    console.log(
      table(
        r.profile.kernels.slice(0, 15).map((k) => ({
          kernel: k.name,
          count: k.count,
          'total ms': k.totalMs.toFixed(2),
          '%': k.percent.toFixed(1),
        })),
      ),
    );
  }
  console.log(`\n${report.device}\n${report.kernelTime}\nJSON: ${path}\n`);
  console.log(
    table(
      results.map((r) => ({
        preset: options.preset,
        'batch x length': `${options.batch} x ${options.length}`,
        kernels: r.fusedKernels ? 'on' : 'off',
        'ms/step': r.msPerStep.toFixed(1),
        'bytes/s': Math.round(r.bytesPerSecond),
        'loss first': r.firstLoss.toFixed(4),
        'loss last': r.lastLoss.toFixed(4),
      })),
    ),
  );
}

try {
  await main();
  shutdown();
  // Dawn can keep the process alive; the results are written.
  process.exit(0);
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
}
