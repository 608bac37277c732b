import { cpus } from 'node:os';
import {
  type AnyModel,
  createModel,
  flopsPerByte,
  type ModelConfig,
  modelGeometry,
  type ParameterBreakdown,
  parameterBreakdown,
  presetConfig,
} from '@megabyte/core';
import '@megabyte/nn/gradients';
import type { NodeRuntime } from '@megabyte/runtime-node';
import { Command, Option } from 'commander';
import { BACKENDS, formatCount, integer, positiveNumber } from '../options.js';
import { generateBenchCommand } from './bench-generate.js';
import { backendList, benchRuntime, list, publishReport, renderTable } from './bench-harness.js';

/**
 * `megabyte bench`: the parent of the benchmarks (`model` and `generate`; more join through
 * `benchCommand([...])` or `addBenchSubcommands`). Each benchmark prints a table on stdout,
 * progress on stderr, and writes JSON.
 */
export function benchCommand(subcommands: readonly Command[] = []): Command {
  return addBenchSubcommands(
    new Command('bench')
      .description('benchmarks: print a table and write JSON (under bench-results/ by default)')
      .addHelpText(
        'after',
        '\nExamples:\n  megabyte bench model --presets tiny --backends wasm\n  megabyte bench generate --bytes 1024',
      ),
    [modelBenchCommand(), generateBenchCommand(), ...subcommands],
  );
}

/** Adds benchmarks under an existing `bench` command. */
export function addBenchSubcommands(bench: Command, subcommands: readonly Command[]): Command {
  for (const command of subcommands) bench.addCommand(command);
  return bench;
}

interface ModelBenchFlags {
  presets: string[];
  backends: string[];
  batch?: number;
  repeats: number;
  warmup: number;
  budget: number;
  includeSlow: boolean;
  out: string;
  json: boolean;
}

/** The default batch holds about this many bytes: 8 x 256 for tiny, 1 x 2048 for small. */
const DEFAULT_BATCH_BYTES = 2048;

/** The plain-JavaScript cpu backend takes many minutes from this context on: skipped unless asked. */
const SLOW_ON_CPU_FROM = 2048;

/**
 * tfjs-backend-wasm's heap is at most 4 GiB and an allocation past it aborts the whole backend for
 * the rest of the process; passes whose attention maps are estimated to exceed this are skipped.
 */
const WASM_ATTENTION_LIMIT = 3 * 1024 ** 3;

export function modelBenchCommand(): Command {
  return new Command('model')
    .description(
      'forward and forward+backward speed of MEGABYTE and the baseline transformer of the same preset, per backend',
    )
    .addOption(
      new Option('--presets <list>', 'comma-separated MEGABYTE presets, each run with transformer-<preset>')
        .argParser(list)
        .default(['tiny', 'small'], 'tiny,small'),
    )
    .addOption(
      new Option('--backends <list>', `comma-separated tfjs backends: ${BACKENDS.join(', ')}`)
        .argParser(backendList)
        .default(['cpu', 'wasm'], 'cpu,wasm'),
    )
    .option(
      '--batch <n>',
      `sequences per batch, each a full context (default: ${DEFAULT_BATCH_BYTES} bytes / context, at least 1)`,
      integer(1),
    )
    .option('--repeats <n>', 'timed runs per measurement; the median is reported', integer(1), 3)
    .option('--warmup <n>', 'untimed runs before them', integer(0), 1)
    .option(
      '--budget <seconds>',
      'no new timed run once a measurement has spent this long; a longer warm-up is the only run',
      positiveNumber,
      20,
    )
    .option(
      '--include-slow',
      `also run presets of context >= ${SLOW_ON_CPU_FROM} on the cpu backend (skipped by default: many minutes)`,
      false,
    )
    .option('--out <file.json>', 'where to write the results', 'bench-results/model.json')
    .option('--json', 'print the results as JSON on stdout instead of the table', false)
    .addHelpText(
      'after',
      `
forward: model.forward on random bytes, logits read back. forward+backward: tf.variableGrads
over model.loss, the work of a training step without the optimizer. FLOPs/B is the forward
estimate 2 x (m_global / P + m_local) over non-embedding parameters (attention's T^2 term left
out); GFLOP/s = FLOPs/B x bytes/s, times 3 for forward+backward. A time marked * is a single
warm-up run that outlasted --budget. On wasm (4 GiB heap), a pass whose attention maps are
estimated not to fit is skipped rather than left to abort the backend.

Examples:
  megabyte bench model                                  # tiny on cpu and wasm, small on wasm
  megabyte bench model --presets tiny --backends wasm --repeats 5
  megabyte bench model --presets small --backends cpu --include-slow --repeats 1`,
    )
    .action(async (flags: ModelBenchFlags) => {
      await benchModels(flags);
    });
}

/** One model (MEGABYTE or its baseline) on one backend. */
export interface ModelBenchRow {
  readonly preset: string;
  readonly model: string;
  readonly kind: ModelConfig['kind'];
  readonly backend: string;
  readonly batch: number;
  readonly contextLength: number;
  readonly bytesPerBatch: number;
  readonly parameters: ParameterBreakdown;
  readonly flopsPerByte: number;
  readonly forward?: Rate;
  readonly forwardBackward?: Rate;
  /** Why a pass was not timed (skipped or failed). */
  readonly notes: string[];
  /** Tensors left alive after the model was disposed (0 when nothing leaks). */
  readonly leakedTensors: number;
  readonly error?: string;
}

export interface Rate {
  /** Median seconds per batch. */
  readonly seconds: number;
  /** Every timed run, in seconds. */
  readonly runs: number[];
  /** The only run is the warm-up, which outlasted the budget. */
  readonly warmupOnly: boolean;
  readonly bytesPerSecond: number;
  /** Achieved GFLOP/s by the flopsPerByte estimate (x3 for forward+backward). */
  readonly gflops: number;
}

interface Skipped {
  readonly preset: string;
  readonly backend: string;
  readonly reason: string;
}

async function benchModels(flags: ModelBenchFlags): Promise<void> {
  // Unknown presets fail here, before any backend loads.
  const presets = flags.presets.map((name) => ({
    name,
    megabyte: presetConfig(name),
    baseline: presetConfig(`transformer-${name}`),
  }));
  const rows: ModelBenchRow[] = [];
  const skipped: Skipped[] = [];
  const runtimes: Record<string, string> = {};

  for (const backend of flags.backends) {
    const planned = presets.filter((preset) => {
      const slow = backend === 'cpu' && preset.megabyte.contextLength >= SLOW_ON_CPU_FROM;
      if (!slow || flags.includeSlow) return true;
      skipped.push({
        preset: preset.name,
        backend,
        reason: `context ${preset.megabyte.contextLength} on the plain-JavaScript cpu backend takes many minutes; --include-slow runs it`,
      });
      return false;
    });
    if (planned.length === 0) continue;
    const runtime = await benchRuntime(backend, (reason) => {
      for (const preset of planned) skipped.push({ preset: preset.name, backend, reason });
    });
    if (!runtime) continue;
    runtimes[runtime.name] = runtime.description;
    let broken: string | undefined;
    for (const preset of planned) {
      for (const [model, config] of [
        [preset.name, preset.megabyte],
        [`transformer-${preset.name}`, preset.baseline],
      ] as const) {
        if (broken !== undefined) {
          skipped.push({ preset: model, backend, reason: broken });
          continue;
        }
        const batch = flags.batch ?? Math.max(1, Math.floor(DEFAULT_BATCH_BYTES / config.contextLength));
        const row = await benchOne(runtime, preset.name, model, config, batch, flags);
        rows.push(row);
        // An aborted WebAssembly instance stays aborted: later models on it would only fail.
        if (row.error?.includes('Aborted')) broken = `the ${runtime.name} backend aborted on ${model}`;
      }
    }
  }

  const report = {
    benchmark: 'model',
    createdAt: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    options: {
      presets: flags.presets,
      backends: flags.backends,
      batch: flags.batch ?? `${DEFAULT_BATCH_BYTES} bytes / context`,
      repeats: flags.repeats,
      warmup: flags.warmup,
      budgetSeconds: flags.budget,
    },
    runtimes,
    rows,
    skipped,
  };
  await publishReport(flags, report, rows, () => {
    const notes = [
      ...rows.flatMap((row) => row.notes.map((note) => `${row.model} on ${row.backend}: ${note}`)),
      ...skipped.map((s) => `${s.preset} on ${s.backend} skipped: ${s.reason}`),
    ];
    return `${modelBenchTable(rows)}${[...speedups(rows), ...(notes.length > 0 ? ['', ...notes] : [])].join('\n')}\n`;
  });
}

async function benchOne(
  runtime: NodeRuntime,
  preset: string,
  name: string,
  config: ModelConfig,
  batch: number,
  timing: TimingOptions,
): Promise<ModelBenchRow> {
  const { tf } = runtime;
  const T = config.contextLength;
  const bytes = batch * T;
  const flops = flopsPerByte(config);
  const notes: string[] = [];
  const progress = (what: string) =>
    process.stderr.write(`${runtime.name} ${name} (${batch} x ${T} bytes): ${what}\n`);
  const tooBig = (pass: 'forward' | 'forward+backward') => {
    if (runtime.backend !== 'wasm') return false;
    const maps = attentionMapBytes(config, batch);
    // forward: scores, scaled, masked and softmax of one layer at a time; backward keeps three
    // maps per layer for the gradient, and needs about four more while it runs.
    const need = pass === 'forward' ? 4 * maps.largest : 3 * maps.total + 4 * maps.largest;
    if (need <= WASM_ATTENTION_LIMIT) return false;
    notes.push(
      `${pass} skipped: its attention maps need about ${(need / 1024 ** 3).toFixed(1)} GiB, more than the wasm heap (4 GiB) holds with the rest; try a smaller --batch`,
    );
    return true;
  };

  const before = tf.memory().numTensors;
  let model: AnyModel | undefined;
  let ids: ReturnType<typeof tf.tensor2d> | undefined;
  let forward: Rate | undefined;
  let forwardBackward: Rate | undefined;
  let error: string | undefined;
  try {
    model = createModel(config, { seed: 0 });
    ids = tf.tensor2d(randomBytes(bytes, 1), [batch, T], 'int32');
    const built = model;
    const input = ids;
    const variables = built.parameters().map((p) => p.variable);

    if (!tooBig('forward')) {
      progress('forward');
      forward = rate(
        await time(timing, async () => {
          const logits = built.forward(input);
          await logits.data();
          logits.dispose();
        }),
        bytes,
        flops,
      );
    }

    if (!tooBig('forward+backward')) {
      progress('forward+backward');
      let step = 0;
      forwardBackward = rate(
        await time(timing, async () => {
          step += 1;
          const { value, grads } = tf.variableGrads(
            () => built.loss(input, { training: true, dropoutSeed: step }),
            variables,
          );
          await value.data();
          // The first parameter (the byte embedding) gets its gradient last: reading it waits for all.
          await grads[variables[0]!.name]?.data();
          value.dispose();
          tf.dispose(grads);
        }),
        bytes,
        3 * flops,
      );
    }
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
    notes.push(`failed: ${error}`);
    progress(`failed: ${error}`);
  } finally {
    ids?.dispose();
    model?.dispose();
  }
  const leakedTensors = tf.memory().numTensors - before;
  if (leakedTensors !== 0 && error === undefined)
    progress(`warning: ${leakedTensors} tensors left after disposing the model`);
  return {
    preset,
    model: name,
    kind: config.kind,
    backend: runtime.name,
    batch,
    contextLength: T,
    bytesPerBatch: bytes,
    parameters: parameterBreakdown(config),
    flopsPerByte: flops,
    ...(forward && { forward }),
    ...(forwardBackward && { forwardBackward }),
    notes,
    leakedTensors,
    ...(error !== undefined && { error }),
  };
}

/** Bytes of one float32 attention map [batch, heads, L, L]: the largest, and summed over layers. */
function attentionMapBytes(config: ModelConfig, batch: number): { largest: number; total: number } {
  const map = (rows: number, heads: number, length: number) => rows * heads * length * length * 4;
  // Each level runs its sequences side by side: as many per window as its span fits in the context.
  const levels = modelGeometry(config).levels.map((level) => {
    const sequences = config.contextLength / (level.positions * level.bytesPerPosition);
    return { one: map(batch * sequences, level.heads, level.positions), layers: level.layers };
  });
  return {
    largest: Math.max(...levels.map((level) => level.one)),
    total: levels.reduce((sum, level) => sum + level.one * level.layers, 0),
  };
}

export interface TimingOptions {
  /** Timed runs wanted. */
  readonly repeats: number;
  /** Untimed runs first. */
  readonly warmup: number;
  /** Seconds: no new timed run starts once the timed runs add up to this (at least one runs). */
  readonly budget: number;
}

/**
 * Seconds of each timed run of `fn`, after the warm-up runs. A warm-up run longer than the budget
 * ends the measurement and is returned as its only run (`warmupOnly`). `fn` must wait for its
 * results: GPU backends run asynchronously.
 */
export async function time(
  options: TimingOptions,
  fn: () => Promise<void>,
): Promise<{ runs: number[]; warmupOnly: boolean }> {
  const once = async () => {
    const start = performance.now();
    await fn();
    return (performance.now() - start) / 1000;
  };
  for (let i = 0; i < options.warmup; i++) {
    const seconds = await once();
    if (seconds > options.budget) return { runs: [seconds], warmupOnly: true };
  }
  const runs: number[] = [];
  let spent = 0;
  while (runs.length < options.repeats && (runs.length === 0 || spent < options.budget)) {
    const seconds = await once();
    runs.push(seconds);
    spent += seconds;
  }
  return { runs, warmupOnly: false };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function rate(
  timing: { runs: number[]; warmupOnly: boolean },
  bytes: number,
  flopsPerByteOfPass: number,
): Rate {
  const seconds = median(timing.runs);
  const bytesPerSecond = bytes / seconds;
  return { seconds, ...timing, bytesPerSecond, gflops: (flopsPerByteOfPass * bytesPerSecond) / 1e9 };
}

/** Seeded bytes 0..255 (xorshift32), so every run scores the same input. */
function randomBytes(count: number, seed: number): Int32Array {
  const out = new Int32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = state & 255;
  }
  return out;
}

export function modelBenchTable(rows: readonly ModelBenchRow[]): string {
  const header = [
    'backend',
    'model',
    'params',
    'FLOPs/B',
    'batch',
    'fwd ms',
    'fwd B/s',
    'fwd GFLOP/s',
    'f+b ms',
    'f+b B/s',
    'f+b GFLOP/s',
  ];
  const cells = rows.map((row) => [
    row.backend,
    row.model,
    formatCount(row.parameters.total),
    formatCount(row.flopsPerByte),
    `${row.batch} x ${row.contextLength}`,
    ...rateCells(row.forward, row.error),
    ...rateCells(row.forwardBackward, row.error),
  ]);
  return renderTable(header, cells);
}

function rateCells(rate: Rate | undefined, error: string | undefined): string[] {
  if (!rate) return [error ? 'failed' : 'skipped', '-', '-'];
  return [
    `${(rate.seconds * 1000).toFixed(rate.seconds < 1 ? 1 : 0)}${rate.warmupOnly ? '*' : ''}`,
    Math.round(rate.bytesPerSecond).toLocaleString('en-US'),
    rate.gflops.toFixed(2),
  ];
}

/** MEGABYTE's bytes/s over its baseline's, per preset and backend. */
function speedups(rows: readonly ModelBenchRow[]): string[] {
  const lines: string[] = [];
  const ratio = (a?: Rate, b?: Rate) =>
    a && b ? `${(a.bytesPerSecond / b.bytesPerSecond).toFixed(2)}x` : 'n/a';
  for (const row of rows) {
    if (row.kind !== 'megabyte') continue;
    const baseline = rows.find(
      (r) => r.kind === 'transformer' && r.preset === row.preset && r.backend === row.backend,
    );
    if (!baseline) continue;
    lines.push(
      `${row.preset} on ${row.backend}: MEGABYTE bytes/s over transformer-${row.preset}: forward ${ratio(row.forward, baseline.forward)}, forward+backward ${ratio(row.forwardBackward, baseline.forwardBackward)}`,
    );
  }
  return lines.length > 0 ? ['', ...lines] : [];
}
