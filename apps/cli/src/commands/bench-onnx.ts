import { cpus, loadavg } from 'node:os';
import { createModel, type GenerationModel, generate, presetConfig } from '@megabyte/core';
import { exportModel, type OnnxExport, OnnxModel } from '@megabyte/onnx';
import { Command, InvalidArgumentError, Option } from 'commander';
import { onnxruntimeNode, onnxruntimeWeb } from '../onnxruntime.js';
import { integer, userPath } from '../options.js';
import {
  benchRuntime,
  EngineMissing,
  list,
  publishReport,
  pytorchBench,
  renderTable,
} from './bench-harness.js';
import { defaultModelDirectory } from './generate.js';
import { loadModelArgument } from './model-loading.js';

/** Each way to run the model, in table order. */
const RUNTIMES = ['onnxruntime-node', 'onnxruntime-web', 'tfjs-cpu', 'tfjs-wasm', 'pytorch'] as const;
type RuntimeName = (typeof RUNTIMES)[number];

interface OnnxBenchFlags {
  model?: string;
  preset?: string;
  python: string;
  runtimes: RuntimeName[];
  bytes: number;
  warmupBytes: number;
  prompt: string;
  ortThreads: number;
  out: string;
  json: boolean;
}

export interface OnnxBenchRow {
  readonly runtime: RuntimeName;
  /** The ONNX Runtime execution provider or the tfjs backend. */
  readonly engine: string;
  readonly bytes: number;
  readonly seconds: number;
  readonly bytesPerSecond: number;
  /** Bytes/s over the second half of the run alone: nearer the steady state. */
  readonly secondHalfBytesPerSecond?: number;
  /** Where the greedy output first differs from the first runtime's; null when it does not. */
  readonly mismatchAt: number | null;
  readonly error?: string;
}

export function onnxBenchCommand(): Command {
  return new Command('onnx')
    .description(
      'generation speed (bytes/s, greedy, batch 1) of a model on onnxruntime-node, onnxruntime-web (wasm) and tfjs (cpu, wasm)',
    )
    .option('--model <dir>', 'checkpoint or run directory (default: the shipped @megabyte/model-default)')
    .option('--preset <name>', 'instead of --model: an untrained model of this preset (seed 0), e.g. small')
    .option('--python <path>', 'the Python with torch for the pytorch runtime', '/usr/bin/python3')
    .addOption(
      new Option('--runtimes <list>', `comma-separated: ${RUNTIMES.join(', ')}`)
        .argParser(runtimeList)
        .default([...RUNTIMES], RUNTIMES.join(',')),
    )
    .option('--bytes <n>', 'bytes generated in each timed run', integer(1), 2048)
    .option('--warmup-bytes <n>', 'bytes generated (and not timed) before it', integer(0), 32)
    .option('--prompt <text>', 'text the generation continues', 'The ')
    .option(
      '--ort-threads <n>',
      'intra-op threads of onnxruntime-node (tfjs-wasm and onnxruntime-web in Node run one)',
      integer(1),
      1,
    )
    .option('--out <file.json>', 'where to write the results', 'bench-results/onnx.json')
    .option('--json', 'print the results as JSON on stdout instead of the table', false)
    .addHelpText(
      'after',
      `
The model is exported to ONNX in memory (megabyte export's graphs) and generates greedily through
@megabyte/core's generate on each runtime, with the KV caches (the context slides by half when
full). onnxruntime-web runs its wasm execution provider in Node with one thread, onnxruntime-node
its cpu execution provider with --ort-threads threads (default 1, like the others). "same bytes"
compares each greedy output with the first runtime's. pytorch is the PyTorch twin
(python/megabyte_torch) generating the same number of bytes with its KV caches, batch 1, with
--ort-threads threads, on a model of the same config (its own random weights: a speed figure only;
at most one context of bytes).

Examples:
  megabyte bench onnx
  megabyte bench onnx --bytes 512 --runtimes onnxruntime-node,tfjs-wasm
  megabyte bench onnx --preset small --runtimes onnxruntime-node,pytorch`,
    )
    .action(async (flags: OnnxBenchFlags) => {
      await benchOnnx(flags);
    });
}

async function benchOnnx(flags: OnnxBenchFlags): Promise<void> {
  if (flags.model !== undefined && flags.preset !== undefined)
    throw new InvalidArgumentError('give --model or --preset, not both');
  const modelPath = flags.model ?? defaultModelDirectory();
  // A preset's untrained model (seed 0), or the checkpoint, on the active tfjs backend.
  const loadModel = async () =>
    flags.preset === undefined
      ? (await loadModelArgument(modelPath)).model
      : createModel(presetConfig(flags.preset), { seed: 0 });
  const rows: OnnxBenchRow[] = [];
  const skipped: { runtime: string; reason: string }[] = [];
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  let exported: OnnxExport | undefined;
  let reference: Uint8Array | undefined;

  const record = async (runtime: RuntimeName, engine: string, source: () => Promise<GenerationModel>) => {
    let row: OnnxBenchRow;
    try {
      const model = await source();
      progress(`${runtime}: warm-up, ${flags.warmupBytes} bytes`);
      await timeGeneration(model, flags.prompt, flags.warmupBytes);
      progress(`${runtime}: ${flags.bytes} bytes`);
      const timing = await timeGeneration(model, flags.prompt, flags.bytes);
      reference ??= timing.output;
      const compared = Math.min(reference.length, timing.output.length);
      const at = timing.output.subarray(0, compared).findIndex((byte, i) => byte !== reference![i]);
      row = {
        runtime,
        engine,
        bytes: timing.bytes,
        seconds: timing.seconds,
        bytesPerSecond: timing.bytes / timing.seconds,
        ...(Number.isFinite(timing.secondHalf) && { secondHalfBytesPerSecond: timing.secondHalf }),
        mismatchAt: at < 0 ? null : at,
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      progress(`${runtime}: failed: ${message}`);
      row = { runtime, engine, bytes: 0, seconds: 0, bytesPerSecond: 0, mismatchAt: null, error: message };
    }
    rows.push(row);
  };

  for (const runtime of flags.runtimes) {
    if (runtime === 'pytorch') {
      await benchRuntime('cpu', () => {});
      const model = await loadModel();
      const config = model.config;
      model.dispose();
      try {
        const length = Math.min(flags.bytes, config.contextLength);
        const python = {
          batch: 1,
          length,
          steps: 1,
          warmup: 0,
          threads: flags.ortThreads,
          python: flags.python,
        };
        const result = await pytorchBench({ config, mode: 'generate', ...python });
        rows.push({
          runtime,
          engine: result.note,
          bytes: length,
          seconds: length / result.bytesPerSecond,
          bytesPerSecond: result.bytesPerSecond,
          mismatchAt: null,
        });
      } catch (error) {
        if (!(error instanceof EngineMissing)) throw error;
        skipped.push({ runtime, reason: error.message });
      }
      continue;
    }
    if (runtime.startsWith('tfjs-')) {
      const backend = runtime.slice('tfjs-'.length);
      const tfRuntime = await benchRuntime(backend, (reason) => skipped.push({ runtime, reason }));
      if (!tfRuntime) continue;
      let loaded: Awaited<ReturnType<typeof loadModel>> | undefined;
      await record(runtime, backend, async () => {
        loaded = await loadModel();
        return loaded;
      });
      loaded?.dispose();
      continue;
    }
    if (!exported) {
      // The weights are read with dataSync: the plain cpu backend always allows it.
      await benchRuntime('cpu', () => {});
      const model = await loadModel();
      exported = exportModel(model);
      model.dispose();
    }
    const graphs = exported;
    let onnx: OnnxModel | undefined;
    const provider = runtime === 'onnxruntime-node' ? 'cpu' : 'wasm';
    const sessionOptions = runtime === 'onnxruntime-node' ? { intraOpNumThreads: flags.ortThreads } : {};
    await record(runtime, provider, async () => {
      const ort =
        runtime === 'onnxruntime-node'
          ? await onnxruntimeNode('bench onnx --runtimes onnxruntime-node')
          : await onnxruntimeWeb('bench onnx --runtimes onnxruntime-web');
      if (runtime === 'onnxruntime-web') (ort as typeof import('onnxruntime-web')).env.wasm.numThreads = 1;
      onnx = await OnnxModel.load(ort, graphs, { executionProvider: provider, sessionOptions });
      return onnx;
    });
    await onnx?.release();
  }

  const report = {
    benchmark: 'onnx',
    createdAt: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    loadAverage: loadavg(),
    options: {
      model: flags.preset === undefined ? userPath(modelPath) : `preset ${flags.preset} (untrained, seed 0)`,
      runtimes: flags.runtimes,
      bytes: flags.bytes,
      warmupBytes: flags.warmupBytes,
      prompt: flags.prompt,
      ortThreads: flags.ortThreads,
      temperature: 0,
      batch: 1,
    },
    rows,
    skipped,
  };
  await publishReport(flags, report, rows, () => {
    const lines = [
      onnxBenchTable(rows).trimEnd(),
      `(load average at the end: ${loadavg()
        .map((x) => x.toFixed(1))
        .join(', ')} on ${cpus().length} cores)`,
      ...rows.filter((r) => r.error).map((r) => `${r.runtime} failed: ${r.error}`),
      ...skipped.map((s) => `${s.runtime} skipped: ${s.reason}`),
    ];
    return `${lines.join('\n')}\n`;
  });
}

export function onnxBenchTable(rows: readonly OnnxBenchRow[]): string {
  const n = (value: number) => (value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US'));
  // PyTorch generates with weights of its own: its bytes are not compared, its speed is the anchor.
  const pytorch = rows.find((row) => row.runtime === 'pytorch' && !row.error)?.bytesPerSecond;
  const header = [
    'runtime',
    'engine',
    'bytes',
    'seconds',
    'bytes/s',
    '2nd half B/s',
    'same bytes',
    'x PyTorch',
  ];
  const cells = rows.map((row) =>
    row.error
      ? [row.runtime, row.engine, '-', '-', 'failed', '-', '-', '-']
      : [
          row.runtime,
          row.engine,
          String(row.bytes),
          row.seconds.toFixed(2),
          n(row.bytesPerSecond),
          row.secondHalfBytesPerSecond === undefined ? '-' : n(row.secondHalfBytesPerSecond),
          row.runtime === 'pytorch' ? '-' : row.mismatchAt === null ? 'yes' : `from ${row.mismatchAt}`,
          pytorch === undefined ? '-' : (row.bytesPerSecond / pytorch).toFixed(2),
        ],
  );
  return renderTable(header, cells);
}

/** Greedy generation, timed; also the rate over the second half alone. */
async function timeGeneration(
  model: GenerationModel,
  prompt: string,
  maxBytes: number,
): Promise<{ bytes: number; seconds: number; secondHalf: number; output: Uint8Array }> {
  const output = new Uint8Array(maxBytes);
  const half = Math.ceil(maxBytes / 2);
  let count = 0;
  const start = performance.now();
  let halfway = start;
  for await (const byte of generate(model, { prompt, maxBytes, temperature: 0 })) {
    output[count++] = byte;
    if (count === half) halfway = performance.now();
  }
  const end = performance.now();
  return {
    bytes: count,
    seconds: (end - start) / 1000,
    secondHalf: count > half ? ((count - half) * 1000) / (end - halfway) : Number.NaN,
    output: output.subarray(0, count),
  };
}

function runtimeList(value: string): RuntimeName[] {
  const items = list(value);
  for (const item of items) {
    if (!(RUNTIMES as readonly string[]).includes(item)) {
      throw new InvalidArgumentError(`unknown runtime "${item}": expected one of ${RUNTIMES.join(', ')}`);
    }
  }
  return items as RuntimeName[];
}
