import { cpus } from 'node:os';
import { basename } from 'node:path';
import {
  type AnyModel,
  createModel,
  flopsPerByte,
  generate,
  type ModelConfig,
  modelGeometry,
  type ParameterBreakdown,
  parameterBreakdown,
  presetConfig,
} from '@megabyte/core';
import type { NodeRuntime } from '@megabyte/runtime-node';
import { Command, Option } from 'commander';
import { formatCount, integer, userPath } from '../options.js';
import { backendList, benchRuntime, list, publishReport, renderTable } from './bench-harness.js';
import { loadModelArgument } from './model-loading.js';

interface GenerateBenchFlags {
  presets: string[];
  backends: string[];
  bytes: number;
  uncachedBytes: number;
  warmupBytes: number;
  prompt: string;
  model?: string;
  baselineModel?: string;
  out: string;
  json: boolean;
}

/** Paper, Table 9: 8192 bytes in 93 s (MEGABYTE 1.3B + 218M, P=8) against 132 s (Transformer 350M). */
const PAPER = { speedup: 132 / 93, parameterRatio: (1300 + 218) / 350 } as const;

/** Side of the square matmul that measures the backend's peak FLOP/s. */
const MATMUL_SIDE = 256;
/** Floats per operand of the bandwidth measurement (64 MiB each: far past the CPU's caches). */
const STREAM_FLOATS = 16 * 1024 * 1024;
/** Seconds each round of a ceiling measurement runs for; the best round counts. */
const ROUND_SECONDS = 0.25;
const ROUNDS = 3;
/** Seconds between progress lines during a long generation. */
const PROGRESS_SECONDS = 15;

export function generateBenchCommand(): Command {
  return new Command('generate')
    .description(
      'generation speed (bytes/s, greedy, batch 1) of MEGABYTE and its baseline, with and without the KV cache, against FLOP and memory-bandwidth bounds',
    )
    .addOption(
      new Option('--presets <list>', 'comma-separated MEGABYTE presets, each run with transformer-<preset>')
        .argParser(list)
        .default(['tiny'], 'tiny'),
    )
    .addOption(
      new Option('--backends <list>', 'comma-separated tfjs backends (cpu is several times slower than wasm)')
        .argParser(backendList)
        .default(['wasm'], 'wasm'),
    )
    .option('--bytes <n>', 'bytes generated with the KV cache', integer(1), 8192)
    .option(
      '--uncached-bytes <n>',
      'bytes generated without the cache (a full forward pass per byte); 0 skips it',
      integer(0),
      128,
    )
    .option('--warmup-bytes <n>', 'bytes generated (and not timed) before each timed run', integer(0), 16)
    .option('--prompt <text>', 'text the generation continues', 'The ')
    .option('--model <dir>', 'bench this checkpoint or run directory instead of the untrained presets')
    .option('--baseline-model <dir>', 'with --model: the checkpoint to compare it with (default: none)')
    .option('--out <file.json>', 'where to write the results', 'bench-results/generate.json')
    .option('--json', 'print the results as JSON on stdout instead of the table', false)
    .addHelpText(
      'after',
      `
Each model generates greedily (temperature 0, batch 1) after --prompt: --bytes bytes with the KV
cache (the context slides by half when full, and each slide re-encodes the rest: included), then
--uncached-bytes bytes with cache: false (one full forward over the context per byte). Presets
are untrained (seed 0); --model benches a trained checkpoint (the baseline is then skipped unless
--baseline-model is given, and --presets is ignored).

Beside each rate, two upper bounds, both best cases measured on the spot on the same backend:
  FLOP bnd  peak FLOP/s / FLOPs per byte. Peak: a ${MATMUL_SIDE}x${MATMUL_SIDE} times ${MATMUL_SIDE}x${MATMUL_SIDE} matmul, repeated.
            Cached FLOPs/byte: 2 x (m_global / P + m_local); uncached: that times the mean
            forward length (attention's T^2 term left out in both).
  BW bnd    memory bandwidth / float32 weights read per byte. Cached MEGABYTE reads the local
            model every byte and the global model once per patch (m_local + m_global / P);
            the baseline all its non-embedding weights every byte; uncached, every forward
            reads all of them once. Bandwidth: the better of tf.add over ${STREAM_FLOATS / 1024 ** 2}M floats
            (2 reads + 1 write) and a Float32Array copy in JavaScript (1 read + 1 write).
Small models' weights may sit in the CPU's caches, which beat the DRAM bandwidth measured here.
cache x is the cached rate over the uncached one. V8 and the kernels warm up over the first few
hundred bytes, beyond the short warm-up: short runs read low (the JSON also holds the rate over
the second half of each run).

Examples:
  megabyte bench generate                                   # tiny on wasm, 8192 bytes
  megabyte bench generate --bytes 1024 --backends wasm,cpu
  megabyte bench generate --model runs/default --bytes 2048 --uncached-bytes 0`,
    )
    .action(async (flags: GenerateBenchFlags) => {
      await benchGeneration(flags);
    });
}

/** What the backend can do at best, measured on the spot. */
export interface Ceilings {
  /** Best GFLOP/s of the square matmul. */
  readonly peakGflops: number;
  /** Best GB/s (1e9 bytes) of tf.add over large tensors, counting two reads and one write. */
  readonly tfAddGBs: number;
  /** Best GB/s of a Float32Array copy in JavaScript, counting one read and one write. */
  readonly jsCopyGBs: number;
  /** The better of the two, used for the bounds. */
  readonly bandwidthGBs: number;
}

export interface GenerationRate {
  /** Bytes generated (and counted) in the timed run. */
  readonly bytes: number;
  readonly seconds: number;
  readonly bytesPerSecond: number;
  /** Bytes/s over the second half of the run alone: nearer the steady state. */
  readonly secondHalfBytesPerSecond?: number;
  /** Achieved GFLOP/s by the FLOPs-per-byte estimate of the run. */
  readonly gflops: number;
  /** Upper bound on bytes/s from the peak FLOP/s. */
  readonly flopBound: number;
  /** Upper bound on bytes/s from the memory bandwidth and the weights read per byte. */
  readonly bandwidthBound: number;
  /** FLOPs per generated byte assumed by the bound. */
  readonly flopsPerByte: number;
  /** Bytes of float32 weights read per generated byte, assumed by the bound. */
  readonly weightBytesPerByte: number;
}

export interface GenerateBenchRow {
  /** The preset, or `checkpoint` under --model: rows of one group and backend are compared. */
  readonly group: string;
  readonly model: string;
  readonly kind: ModelConfig['kind'];
  readonly checkpoint?: string;
  readonly backend: string;
  readonly contextLength: number;
  readonly patchSize: number;
  readonly parameters: ParameterBreakdown;
  readonly cached?: GenerationRate & { readonly windowSlides: number };
  readonly uncached?: GenerationRate & { readonly meanForwardLength: number };
  /** Cached bytes/s over uncached bytes/s. */
  readonly cacheSpeedup?: number;
  /** The first bytes of the cached and uncached greedy outputs should match; null when they do. */
  readonly greedyMismatchAt?: number | null;
  readonly sample?: string;
  readonly notes: string[];
  readonly leakedTensors: number;
  readonly error?: string;
}

interface Job {
  readonly group: string;
  readonly name: string;
  readonly config?: ModelConfig;
  readonly path?: string;
}

interface Skipped {
  readonly model: string;
  readonly backend: string;
  readonly reason: string;
}

async function benchGeneration(flags: GenerateBenchFlags): Promise<void> {
  if (flags.baselineModel !== undefined && flags.model === undefined) {
    throw new Error('--baseline-model needs --model (the checkpoint it is compared with)');
  }
  // Unknown presets fail here, before any backend loads.
  const jobs: Job[] =
    flags.model !== undefined
      ? [
          { group: 'checkpoint', name: basename(userPath(flags.model)), path: flags.model },
          ...(flags.baselineModel !== undefined
            ? [
                {
                  group: 'checkpoint',
                  name: basename(userPath(flags.baselineModel)),
                  path: flags.baselineModel,
                },
              ]
            : []),
        ]
      : flags.presets.flatMap((name) => [
          { group: name, name, config: presetConfig(name) },
          { group: name, name: `transformer-${name}`, config: presetConfig(`transformer-${name}`) },
        ]);

  const rows: GenerateBenchRow[] = [];
  const skipped: Skipped[] = [];
  const runtimes: Record<string, string> = {};
  const ceilings: Record<string, Ceilings> = {};

  for (const backend of flags.backends) {
    const runtime = await benchRuntime(backend, (reason) => {
      for (const job of jobs) skipped.push({ model: job.name, backend, reason });
    });
    if (!runtime) continue;
    runtimes[runtime.name] = runtime.description;
    process.stderr.write(`${runtime.name}: measuring peak FLOP/s and memory bandwidth\n`);
    const measured = await measureCeilings(runtime);
    ceilings[runtime.name] = measured;
    process.stderr.write(`${runtime.name}: ${describeCeilings(measured)}\n`);
    let broken: string | undefined;
    for (const job of jobs) {
      if (broken !== undefined) {
        skipped.push({ model: job.name, backend, reason: broken });
        continue;
      }
      const row = await benchOne(runtime, measured, job, flags);
      rows.push(row);
      // An aborted WebAssembly instance stays aborted: later models on it would only fail.
      if (row.error?.includes('Aborted')) broken = `the ${runtime.name} backend aborted on ${job.name}`;
    }
  }

  const report = {
    benchmark: 'generate',
    createdAt: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    options: {
      presets: flags.model === undefined ? flags.presets : [],
      model: flags.model,
      baselineModel: flags.baselineModel,
      backends: flags.backends,
      bytes: flags.bytes,
      uncachedBytes: flags.uncachedBytes,
      warmupBytes: flags.warmupBytes,
      prompt: flags.prompt,
      temperature: 0,
      batch: 1,
    },
    runtimes,
    ceilings,
    paper: { table: 9, bytes: 8192, megabyteSeconds: 93, transformerSeconds: 132, ...PAPER },
    rows,
    comparisons: comparisons(rows),
    skipped,
  };
  await publishReport(flags, report, rows, () => {
    const lines = [
      ...Object.entries(ceilings).map(([name, c]) => `${name}: ${describeCeilings(c)}`),
      '',
      generateBenchTable(rows).trimEnd(),
      '',
      ...comparisonLines(report.comparisons),
      ...rows.flatMap((row) => row.notes.map((note) => `${row.model} on ${row.backend}: ${note}`)),
      ...skipped.map((s) => `${s.model} on ${s.backend} skipped: ${s.reason}`),
    ];
    return `${lines.join('\n')}\n`;
  });
}

async function benchOne(
  runtime: NodeRuntime,
  ceilings: Ceilings,
  job: Job,
  flags: GenerateBenchFlags,
): Promise<GenerateBenchRow> {
  const { tf } = runtime;
  const notes: string[] = [];
  const progress = (what: string) => process.stderr.write(`${runtime.name} ${job.name}: ${what}\n`);
  const before = tf.memory().numTensors;
  let model: AnyModel | undefined;
  let checkpoint: string | undefined;
  let cached: GenerateBenchRow['cached'];
  let uncached: GenerateBenchRow['uncached'];
  let greedyMismatchAt: number | null | undefined;
  let sample: string | undefined;
  let error: string | undefined;
  try {
    if (job.path !== undefined) {
      const loaded = await loadModelArgument(job.path);
      model = loaded.model;
      checkpoint = loaded.dir;
    } else {
      model = createModel(job.config!, { seed: 0 });
    }
    const config = model.config;
    const parts = parameterBreakdown(config);
    const patchSize = model.geometry.stepBytes;
    const promptLength = new TextEncoder().encode(flags.prompt).length;

    if (flags.warmupBytes > 0) {
      progress(`warm-up, ${flags.warmupBytes} bytes with the cache`);
      await run(model, flags.prompt, flags.warmupBytes, true);
    }
    progress(`${flags.bytes} bytes with the cache`);
    const withCache = await run(model, flags.prompt, flags.bytes, true, (done) =>
      progress(`  ${done} of ${flags.bytes} bytes`),
    );
    const cachedFlops = flopsPerByte(config);
    const cachedWeights = 4 * (parts.global / patchSize + parts.local);
    cached = {
      ...rate(withCache, cachedFlops, cachedWeights, ceilings),
      windowSlides: windowSlides(config, promptLength, withCache.bytes),
    };
    sample = new TextDecoder().decode(withCache.output.subarray(0, 48));
    if (withCache.bytes < flags.bytes)
      notes.push(`cached generation stopped after ${withCache.bytes} of ${flags.bytes} bytes`);

    if (flags.uncachedBytes > 0) {
      if (flags.warmupBytes > 0) {
        progress(`warm-up, ${flags.warmupBytes} bytes without the cache`);
        await run(model, flags.prompt, flags.warmupBytes, false);
      }
      progress(`${flags.uncachedBytes} bytes without the cache`);
      const withoutCache = await run(model, flags.prompt, flags.uncachedBytes, false, (done) =>
        progress(`  ${done} of ${flags.uncachedBytes} bytes`),
      );
      const meanForwardLength = meanForward(config, promptLength, withoutCache.bytes);
      uncached = {
        ...rate(withoutCache, cachedFlops * meanForwardLength, 4 * (parts.global + parts.local), ceilings),
        meanForwardLength,
      };
      const compared = Math.min(withCache.bytes, withoutCache.bytes);
      const at = withCache.output.subarray(0, compared).findIndex((b, i) => b !== withoutCache.output[i]);
      greedyMismatchAt = at < 0 ? null : at;
      if (at >= 0)
        notes.push(
          `the cached and uncached greedy outputs differ from byte ${at} on (a near tie in the logits, or a cache bug)`,
        );
    }
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
    notes.push(`failed: ${error}`);
    progress(`failed: ${error}`);
  } finally {
    model?.dispose();
  }
  const leakedTensors = tf.memory().numTensors - before;
  if (leakedTensors !== 0 && error === undefined)
    progress(`warning: ${leakedTensors} tensors left after disposing the model`);
  const config = model?.config ?? job.config;
  return {
    group: job.group,
    model: job.name,
    kind: config?.kind ?? 'megabyte',
    ...(checkpoint !== undefined && { checkpoint }),
    backend: runtime.name,
    contextLength: config?.contextLength ?? 0,
    patchSize: config ? modelGeometry(config).stepBytes : 1,
    parameters: config
      ? parameterBreakdown(config)
      : { embeddings: 0, global: 0, middle: 0, local: 0, total: 0 },
    ...(cached && { cached }),
    ...(uncached && { uncached }),
    ...(cached && uncached && { cacheSpeedup: cached.bytesPerSecond / uncached.bytesPerSecond }),
    ...(greedyMismatchAt !== undefined && { greedyMismatchAt }),
    ...(sample !== undefined && { sample }),
    notes,
    leakedTensors,
    ...(error !== undefined && { error }),
  };
}

/**
 * Generates greedily and times it, counting the bytes that come out; also the rate over the
 * second half alone (V8 and the kernels warm up over the first few hundred bytes).
 */
async function run(
  model: AnyModel,
  prompt: string,
  maxBytes: number,
  cache: boolean,
  onProgress?: (done: number) => void,
): Promise<{ bytes: number; seconds: number; secondHalfBytesPerSecond: number; output: Uint8Array }> {
  const output = new Uint8Array(maxBytes);
  const half = Math.ceil(maxBytes / 2);
  let count = 0;
  const start = performance.now();
  let halfway = start;
  let reported = start;
  for await (const byte of generate(model, { prompt, maxBytes, temperature: 0, cache })) {
    output[count++] = byte;
    if (count === half) halfway = performance.now();
    if (onProgress && performance.now() - reported > PROGRESS_SECONDS * 1000) {
      reported = performance.now();
      onProgress(count);
    }
  }
  const end = performance.now();
  return {
    bytes: count,
    seconds: (end - start) / 1000,
    secondHalfBytesPerSecond: count > half ? ((count - half) * 1000) / (end - halfway) : Number.NaN,
    output: output.subarray(0, count),
  };
}

function rate(
  timing: { bytes: number; seconds: number; secondHalfBytesPerSecond: number },
  flops: number,
  weightBytes: number,
  ceilings: Ceilings,
): GenerationRate {
  const bytesPerSecond = timing.bytes / timing.seconds;
  return {
    bytes: timing.bytes,
    seconds: timing.seconds,
    bytesPerSecond,
    ...(Number.isFinite(timing.secondHalfBytesPerSecond) && {
      secondHalfBytesPerSecond: timing.secondHalfBytesPerSecond,
    }),
    gflops: (flops * bytesPerSecond) / 1e9,
    flopBound: (ceilings.peakGflops * 1e9) / flops,
    bandwidthBound: (ceilings.bandwidthGBs * 1e9) / weightBytes,
    flopsPerByte: flops,
    weightBytesPerByte: weightBytes,
  };
}

/** The decoder's window rule: times the full context slid by half and was re-encoded. */
function windowSlides(config: ModelConfig, promptLength: number, generated: number): number {
  const { slideBytes, contextLength } = windowOf(config);
  let start =
    promptLength < contextLength
      ? 0
      : (Math.floor((promptLength - contextLength) / slideBytes) + 1) * slideBytes;
  let slides = 0;
  // The last byte sampled is emitted, not fed back.
  for (let length = promptLength + 1; length < promptLength + generated; length++) {
    if (length - start >= contextLength) {
      start += slideBytes;
      slides++;
    }
  }
  return slides;
}

/** Mean length of the forward pass (window plus the position predicted) per uncached byte. */
function meanForward(config: ModelConfig, promptLength: number, generated: number): number {
  const { slideBytes, contextLength } = windowOf(config);
  let start =
    promptLength < contextLength
      ? 0
      : (Math.floor((promptLength - contextLength) / slideBytes) + 1) * slideBytes;
  let total = 0;
  for (let length = promptLength; length < promptLength + generated; length++) {
    if (length - start >= contextLength) start += slideBytes;
    total += length - start + 1;
  }
  return generated > 0 ? total / generated : 0;
}

function windowOf(config: ModelConfig): { slideBytes: number; contextLength: number } {
  return { slideBytes: modelGeometry(config).slideBytes(), contextLength: config.contextLength };
}

/** Peak FLOP/s (a square matmul) and memory bandwidth on the runtime's backend; best rounds. */
export async function measureCeilings(runtime: NodeRuntime): Promise<Ceilings> {
  const { tf } = runtime;
  const n = MATMUL_SIDE;
  const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
  const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
  const peakGflops = await best(async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
    return 2 * n ** 3;
  });
  tf.dispose([a, b]);

  const x = tf.fill([STREAM_FLOATS], 1, 'float32');
  const y = tf.fill([STREAM_FLOATS], 2, 'float32');
  const tfAdd = await best(async () => {
    const sum = tf.add(x, y);
    // One element read back waits for the whole op on an asynchronous backend, without copying 64 MiB.
    const last = tf.slice(sum, [STREAM_FLOATS - 1], [1]);
    await last.data();
    tf.dispose([sum, last]);
    return 3 * 4 * STREAM_FLOATS;
  });
  tf.dispose([x, y]);

  const source = new Float32Array(STREAM_FLOATS).fill(1);
  const target = new Float32Array(STREAM_FLOATS);
  const jsCopy = await best(async () => {
    target.set(source);
    return 2 * 4 * STREAM_FLOATS;
  });
  const tfAddGBs = tfAdd / 1e9;
  const jsCopyGBs = jsCopy / 1e9;
  return { peakGflops: peakGflops / 1e9, tfAddGBs, jsCopyGBs, bandwidthGBs: Math.max(tfAddGBs, jsCopyGBs) };
}

/** The best rate (units per second) of `fn`, which returns the units one call does, after one untimed call. */
async function best(fn: () => Promise<number>): Promise<number> {
  await fn();
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let units = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_SECONDS) {
      units += await fn();
      elapsed = (performance.now() - start) / 1000;
    }
    rates.push(units / elapsed);
  }
  return Math.max(...rates);
}

function describeCeilings(c: Ceilings): string {
  return `peak ${c.peakGflops.toFixed(1)} GFLOP/s (${MATMUL_SIDE}^3 matmul, best case); memory ${c.bandwidthGBs.toFixed(1)} GB/s (tf.add ${c.tfAddGBs.toFixed(1)}, JS copy ${c.jsCopyGBs.toFixed(1)})`;
}

export function generateBenchTable(rows: readonly GenerateBenchRow[]): string {
  const header = [
    'backend',
    'model',
    'params',
    'FLOPs/B',
    'MB read/B',
    'cached B/s',
    'FLOP bnd',
    'BW bnd',
    'uncached B/s',
    'FLOP bnd',
    'BW bnd',
    'cache x',
  ];
  const cells = rows.map((row) => [
    row.backend,
    row.model,
    formatCount(row.parameters.total),
    row.cached ? formatCount(Math.round(row.cached.flopsPerByte)) : '-',
    row.cached ? (row.cached.weightBytesPerByte / 1e6).toFixed(2) : '-',
    ...rateCells(row.cached, row.error),
    ...rateCells(row.uncached, row.error),
    row.cacheSpeedup !== undefined ? row.cacheSpeedup.toFixed(1) : '-',
  ]);
  return renderTable(header, cells);
}

function rateCells(rate: GenerationRate | undefined, error: string | undefined): string[] {
  if (!rate) return [error ? 'failed' : 'skipped', '-', '-'];
  const n = (value: number) => (value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US'));
  return [n(rate.bytesPerSecond), n(rate.flopBound), n(rate.bandwidthBound)];
}

interface Comparison {
  readonly group: string;
  readonly backend: string;
  readonly megabyte: string;
  readonly baseline: string;
  /** MEGABYTE bytes/s over the baseline's, with the cache. */
  readonly cachedSpeedup?: number;
  readonly uncachedSpeedup?: number;
  /** MEGABYTE's parameters over the baseline's. */
  readonly parameterRatio: number;
}

/** MEGABYTE against the baseline of its group, per backend. */
function comparisons(rows: readonly GenerateBenchRow[]): Comparison[] {
  const out: Comparison[] = [];
  for (const row of rows) {
    if (row.kind !== 'megabyte' || row.error !== undefined) continue;
    const baseline = rows.find(
      (r) => r.kind === 'transformer' && r.group === row.group && r.backend === row.backend && !r.error,
    );
    if (!baseline) continue;
    const ratio = (a?: GenerationRate, b?: GenerationRate) =>
      a && b ? a.bytesPerSecond / b.bytesPerSecond : undefined;
    const cachedSpeedup = ratio(row.cached, baseline.cached);
    const uncachedSpeedup = ratio(row.uncached, baseline.uncached);
    out.push({
      group: row.group,
      backend: row.backend,
      megabyte: row.model,
      baseline: baseline.model,
      ...(cachedSpeedup !== undefined && { cachedSpeedup }),
      ...(uncachedSpeedup !== undefined && { uncachedSpeedup }),
      parameterRatio: row.parameters.total / baseline.parameters.total,
    });
  }
  return out;
}

function comparisonLines(list: readonly Comparison[]): string[] {
  const x = (value?: number) => (value === undefined ? 'n/a' : `${value.toFixed(2)}x`);
  const lines = list.map(
    (c) =>
      `${c.megabyte} over ${c.baseline} on ${c.backend}: cached ${x(c.cachedSpeedup)}, uncached ${x(c.uncachedSpeedup)} the bytes/s, with ${x(c.parameterRatio)} the parameters`,
  );
  if (lines.length > 0)
    lines.push(
      `(paper, Table 9, 8192 bytes: MEGABYTE ${x(PAPER.speedup)} the bytes/s of its Transformer with ${x(PAPER.parameterRatio)} the parameters)`,
    );
  return lines.length > 0 ? [...lines, ''] : [];
}
