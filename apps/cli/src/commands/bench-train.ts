import { availableParallelism } from 'node:os';
import {
  type ByteModel,
  createModel,
  flopsPerByte,
  type ModelConfig,
  parameterBreakdown,
  presetConfig,
} from '@megabyte/core';
import {
  type OptimizerSettings,
  onnxRuntimeEngine,
  TfjsEngine,
  type TrainingEngine,
} from '@megabyte/trainer';
import { Command, Option } from 'commander';
import { onnxruntimeNode } from '../onnxruntime.js';
import { formatCount, integer } from '../options.js';
import {
  benchRuntime,
  EngineMissing,
  list,
  publishReport,
  pytorchBench,
  renderTable,
} from './bench-harness.js';

/**
 * `megabyte bench train`: optimizer steps per second of each engine on the same model and the
 * same random bytes, in one run, with the PyTorch twin (python/megabyte_torch) beside them when a
 * Python with torch is here. Engines: `onnxruntime` (onnxruntime-node, by thread count), tfjs
 * backends by name (`wasm`, `webgpu`, ...), `pytorch` (by thread count).
 */

interface TrainBenchFlags {
  presets: string[];
  engines: string[];
  threads: number[];
  batch: number;
  steps: number;
  warmup: number;
  rounds: number;
  python: string;
  out: string;
  json: boolean;
}

export interface TrainBenchRow {
  readonly preset: string;
  readonly engine: string;
  readonly threads: number;
  readonly batch: number;
  readonly contextLength: number;
  readonly parameters: number;
  readonly bytesPerSecond?: number;
  readonly msPerStep?: number;
  /** Useful work by the 3 x forward FLOPs/byte estimate (attention's T^2 term left out). */
  readonly gflops?: number;
  /** bytes/s over the fastest PyTorch row of the same preset in this run. */
  readonly ratioToPyTorch?: number;
  readonly note?: string;
  /** Why the engine did not run here (not installed): not a failure. */
  readonly skipped?: string;
  readonly error?: string;
}

/** The settings of our trainer (the paper's recipe); the PyTorch bench uses the same. */
const OPTIMIZER: OptimizerSettings = { lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 };

export function trainBenchCommand(): Command {
  const cores = availableParallelism();
  return new Command('train')
    .description(
      'training speed (bytes/s, AdamW steps) of every engine on the same model, with PyTorch in the same run',
    )
    .addOption(
      new Option('--presets <list>', 'comma-separated presets (MEGABYTE or transformer-*)')
        .argParser(list)
        .default(['small', 'transformer-small'], 'small,transformer-small'),
    )
    .addOption(
      new Option(
        '--engines <list>',
        'comma-separated: onnxruntime, pytorch, and tfjs backends (wasm, webgpu, cpu, ...)',
      )
        .argParser(list)
        .default(['onnxruntime', 'pytorch', 'wasm'], 'onnxruntime,pytorch,wasm'),
    )
    .addOption(
      new Option('--threads <list>', 'thread counts for onnxruntime and pytorch (tfjs-wasm runs one)')
        .argParser((value) => list(value).map((t) => integer(1)(t)))
        .default([...new Set([1, cores])], `1,${cores}`),
    )
    .option('--batch <n>', 'windows of the full context per step', integer(1), 2)
    .option('--steps <n>', 'timed optimizer steps (the median is reported)', integer(1), 3)
    .option('--warmup <n>', 'untimed steps first (graph building, allocation)', integer(0), 1)
    .option(
      '--rounds <n>',
      'times every engine is measured, in turn; the fastest round is kept',
      integer(1),
      2,
    )
    .option('--python <path>', 'the Python with torch for the PyTorch rows', '/usr/bin/python3')
    .option('--out <file.json>', 'where to write the results', 'bench-results/train.json')
    .option('--json', 'print the results as JSON on stdout instead of the table', false)
    .addHelpText(
      'after',
      `
Every engine trains the same seeded model on the same random bytes with AdamW and clipping, as
@megabyte/trainer does (PyTorch: python/megabyte_torch, the same architecture; fused attention
and torch.compile where that torch has them). ratio: bytes/s over the fastest PyTorch row of the
same preset in this run. The engines are measured in turn --rounds times and each keeps its
fastest round, so that load on a shared machine weighs on all alike; compare rows of one run only.

Examples:
  megabyte bench train                                   # small and transformer-small
  megabyte bench train --presets tiny --engines onnxruntime,wasm --steps 5`,
    )
    .action(async (flags: TrainBenchFlags) => {
      await benchTraining(flags);
    });
}

async function benchTraining(flags: TrainBenchFlags): Promise<void> {
  const presets = flags.presets.map((name) => ({ name, config: presetConfig(name) }));
  const rows: TrainBenchRow[] = [];
  for (const { name, config } of presets) {
    const plan = flags.engines.flatMap((engine) =>
      (engine === 'onnxruntime' || engine === 'pytorch' ? flags.threads : [1]).map((threads) => ({
        engine,
        threads,
      })),
    );
    // Rounds take the engines in turn, so that a burst of load on a shared machine hits them all
    // alike; each row keeps its fastest round.
    const best = new Map<string, TrainBenchRow>();
    for (let round = 1; round <= flags.rounds; round++) {
      for (const { engine, threads } of plan) {
        const key = `${engine} ${threads}`;
        if (best.get(key)?.error || best.get(key)?.skipped) continue;
        process.stderr.write(`${name}, round ${round}/${flags.rounds}: ${engine}, ${threads} thread(s)...\n`);
        const row = await measureRow(name, config, engine, threads, flags);
        const kept = best.get(key);
        if (!kept?.msPerStep || (row.msPerStep !== undefined && row.msPerStep < kept.msPerStep) || row.error)
          best.set(key, row);
      }
    }
    const rowsOfPreset = [...best.values()];
    const pytorch = Math.max(
      0,
      ...rowsOfPreset.filter((r) => r.engine === 'pytorch' && r.bytesPerSecond).map((r) => r.bytesPerSecond!),
    );
    rows.push(
      ...rowsOfPreset.map((r) =>
        pytorch > 0 && r.bytesPerSecond ? { ...r, ratioToPyTorch: r.bytesPerSecond / pytorch } : r,
      ),
    );
  }
  const report = {
    benchmark: 'train',
    date: new Date().toISOString(),
    cores: availableParallelism(),
    flags,
    rows,
  };
  await publishReport(flags, report, rows, () => trainTable(rows));
}

/** One engine's row: its median step, or why it did not run. */
async function measureRow(
  preset: string,
  config: ModelConfig,
  engine: string,
  threads: number,
  flags: TrainBenchFlags,
): Promise<TrainBenchRow> {
  const base = {
    preset,
    engine,
    threads,
    batch: flags.batch,
    contextLength: config.contextLength,
    parameters: parameterBreakdown(config).total,
  };
  try {
    const measured =
      engine === 'pytorch'
        ? await pytorchRate(config, threads, flags)
        : await engineRate(engine, config, threads, flags);
    const bytesPerSecond = (flags.batch * config.contextLength) / (measured.msPerStep / 1000);
    return {
      ...base,
      ...measured,
      bytesPerSecond,
      gflops: (3 * flopsPerByte(config) * bytesPerSecond) / 1e9,
    };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    return { ...base, ...(error instanceof EngineMissing ? { skipped: message } : { error: message }) };
  }
}

/** Median milliseconds per optimizer step of one of our engines. */
async function engineRate(
  engine: string,
  config: ModelConfig,
  threads: number,
  flags: TrainBenchFlags,
): Promise<{ msPerStep: number; note: string }> {
  let note = '';
  if (engine === 'onnxruntime') {
    // The weights of record live on a tfjs runtime; wasm reads them back synchronously.
    await benchRuntime('wasm', (reason) => {
      throw new Error(reason);
    });
    const ort = await onnxruntimeNode('bench train --engines onnxruntime');
    return measure(
      config,
      flags,
      (model) => onnxRuntimeEngine({ ort, threads })(model, OPTIMIZER),
      'onnxruntime-node',
    );
  }
  const runtime = await benchRuntime(engine, (reason) => {
    throw new Error(reason);
  });
  note = runtime!.description;
  return measure(config, flags, (model) => new TfjsEngine(model, OPTIMIZER), note);
}

async function measure(
  config: ModelConfig,
  flags: TrainBenchFlags,
  makeEngine: (model: ByteModel) => TrainingEngine,
  note: string,
): Promise<{ msPerStep: number; note: string }> {
  const model = createModel(config, { seed: 0 });
  const engine = makeEngine(model);
  try {
    await engine.pullWeights();
    const ids = randomBytes(flags.batch * config.contextLength, 1);
    const batch = { ids, batch: flags.batch, length: config.contextLength, dropoutSeed: 0 };
    const times: number[] = [];
    for (let i = 0; i < flags.warmup + flags.steps; i++) {
      const started = performance.now();
      const { loss } = await engine.step([batch], { lr: OPTIMIZER.lr, clip: 1 });
      if (!Number.isFinite(loss)) throw new Error(`the loss is ${loss} at step ${i + 1}`);
      if (i >= flags.warmup) times.push(performance.now() - started);
    }
    return { msPerStep: median(times), note };
  } finally {
    engine.dispose();
    model.dispose();
  }
}

async function pytorchRate(
  config: ModelConfig,
  threads: number,
  flags: TrainBenchFlags,
): Promise<{ msPerStep: number; note: string }> {
  const result = await pytorchBench({
    config,
    mode: 'train',
    batch: flags.batch,
    length: config.contextLength,
    steps: flags.steps,
    warmup: flags.warmup,
    threads,
    python: flags.python,
  });
  return { msPerStep: result.msPerStep, note: result.note };
}

/** Deterministic byte ids 0..255 (a linear congruential sequence: no dependency on Math.random). */
function randomBytes(count: number, seed: number): Int32Array {
  const ids = new Int32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    ids[i] = state >>> 24;
  }
  return ids;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function trainTable(rows: readonly TrainBenchRow[]): string {
  const header = [
    'model',
    'engine',
    'threads',
    'params',
    'batch',
    'bytes/s',
    'ms/step',
    'GFLOP/s',
    'x PyTorch',
  ];
  const body = rows.map((r) => [
    r.preset,
    r.engine,
    String(r.threads),
    formatCount(r.parameters),
    `${r.batch} x ${r.contextLength}`,
    r.bytesPerSecond === undefined
      ? r.error
        ? 'failed'
        : 'skipped'
      : Math.round(r.bytesPerSecond).toLocaleString('en-US'),
    r.msPerStep === undefined ? '-' : r.msPerStep.toFixed(0),
    r.gflops === undefined ? '-' : r.gflops.toFixed(1),
    r.ratioToPyTorch === undefined ? '-' : r.ratioToPyTorch.toFixed(2),
  ]);
  const errors = rows
    .filter((r) => r.error || r.skipped)
    .map((r) => `${r.preset} on ${r.engine}: ${r.error ? 'failed' : 'skipped'}: ${r.error ?? r.skipped}`);
  const notes = [...new Set(rows.filter((r) => r.note).map((r) => `${r.engine}: ${r.note}`))];
  return renderTable(header, body) + [...notes, ...errors].map((line) => `${line}\n`).join('');
}
