import { basename, dirname, join } from 'node:path';
import { type AnyModel, idsTensor } from '@megabyte/core';
import { relativeError } from '@megabyte/core/testing';
import { exportModel, type GraphRole, OnnxModel } from '@megabyte/onnx';
import { encodeText } from '@megabyte/patching';
import { writeFileAtomic } from '@megabyte/patching/node';
import { Command, InvalidArgumentError, Option } from 'commander';
import { tryOnnxruntimeNode, tryOnnxruntimeWeb } from '../onnxruntime.js';
import { userPath } from '../options.js';
import { startRuntime } from '../runtime.js';
import { loadModelArgument } from './model-loading.js';

/** The check run after writing: ONNX and tfjs logits of this text must agree. */
const CHECK_TEXT = 'The jury said it did find that the city had been well run.';
const CHECK_TOLERANCE = 1e-4;
const FLOAT16_TOLERANCE = 1e-2;

interface ExportFlags {
  model: string;
  out: string;
  dtype: 'float32' | 'float16';
  check: boolean;
}

export function exportCommand(): Command {
  return new Command('export')
    .description('export a model to ONNX: scoring and KV-cached decoding graphs plus a JSON manifest')
    .requiredOption('--model <dir>', 'checkpoint or run directory')
    .requiredOption(
      '--out <file.onnx>',
      'the scoring graph; the decoding graphs and FILE.json go beside it',
      onnxPath,
    )
    .addOption(
      new Option('--dtype <dtype>', 'storage type of the weights (the graphs compute in float32 either way)')
        .choices(['float32', 'float16'])
        .default('float32'),
    )
    .option('--no-check', 'skip loading the graphs in ONNX Runtime and comparing logits with tfjs')
    .addHelpText(
      'after',
      `
Writes FILE.onnx (scoring: bytes -> logits), FILE.global.onnx (+ FILE.middle.<i>.onnx) + FILE.local.onnx (MEGABYTE) or
FILE.step.onnx (the baseline transformer) for generation with KV caches, and FILE.json (config,
opset, input/output names and shapes). See packages/onnx/README.md for the graphs' I/O.

float16 halves the files; for a model whose weights are float16 values already (the shipped
default model, or one written by \`megabyte convert --dtype float16\`) it changes no logit.

Examples:
  megabyte export --model packages/model-default --out dist/tiny.onnx
  megabyte export --model runs/latest --out dist/mine.onnx --dtype float16`,
    )
    .action(async (flags: ExportFlags) => {
      await exportOnnx(flags);
    });
}

async function exportOnnx(flags: ExportFlags): Promise<void> {
  // The weights are read with dataSync: the plain cpu backend always allows it.
  await startRuntime('cpu', false);
  const { model, dir } = await loadModelArgument(flags.model);
  const out = userPath(flags.out);
  const base = basename(out, '.onnx');
  try {
    const { manifest, graphs } = exportModel(model, { base, weightType: flags.dtype });
    // Checked before anything is written, so a failed export leaves no files behind.
    if (flags.check) await checkExport(model, { manifest, graphs }, flags.dtype);
    for (const [role, bytes] of Object.entries(graphs) as [GraphRole, Uint8Array][]) {
      const path = join(dirname(out), manifest.graphs[role]!.file);
      await writeFileAtomic(path, bytes);
      process.stderr.write(`wrote ${path} (${role}, ${(bytes.length / 1e6).toFixed(2)} MB)\n`);
    }
    const manifestPath = join(dirname(out), `${base}.json`);
    await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    process.stderr.write(`wrote ${manifestPath} (manifest) from ${dir}\n`);
  } finally {
    model.dispose();
  }
}

/**
 * Loads every graph in onnxruntime-node (or onnxruntime-web's wasm where it is not installed) and
 * compares the scoring logits with the tfjs model's. With neither installed it refuses, naming
 * both and --no-check, before anything is written.
 */
async function checkExport(
  model: AnyModel,
  exported: ReturnType<typeof exportModel>,
  dtype: ExportFlags['dtype'],
): Promise<void> {
  const native = await tryOnnxruntimeNode();
  const web = native ? undefined : await tryOnnxruntimeWeb();
  if (!native && !web) {
    throw new Error(
      'export checks its graphs on ONNX Runtime, and neither onnxruntime-node nor onnxruntime-web is installed: ' +
        'add one (`npm install -g onnxruntime-web`, beside a global megabyte), or pass --no-check',
    );
  }
  const runtime = native ? 'onnxruntime-node' : 'onnxruntime-web (wasm; onnxruntime-node is not installed)';
  const onnx = native
    ? await OnnxModel.load(native, exported)
    : await OnnxModel.load(web!, exported, { executionProvider: 'wasm' });
  const ids = Array.from(encodeText(CHECK_TEXT)).slice(0, model.config.contextLength);
  const expected = idsTensor(ids, 1, ids.length);
  const logits = model.forward(expected);
  const error = relativeError(await onnx.forward(ids, 1), logits.dataSync());
  // float16 storage rounds weights that are not float16 values already: a looser bound.
  const tolerance = dtype === 'float16' ? FLOAT16_TOLERANCE : CHECK_TOLERANCE;
  const decoder = onnx.createDecoder();
  await decoder.prime([ids.slice(0, 5)]);
  decoder.dispose();
  await onnx.release();
  expected.dispose();
  logits.dispose();
  if (!(error < tolerance)) {
    throw new Error(
      `the exported scoring graph disagrees with the tfjs model (relative error ${error.toExponential(2)}, expected < ${tolerance}); nothing was written: please report this as a bug`,
    );
  }
  process.stderr.write(
    `check: every graph loads in ${runtime}; scoring logits match tfjs (relative error ${error.toExponential(2)})\n`,
  );
}

function onnxPath(value: string): string {
  if (!value.endsWith('.onnx') || basename(value) === '.onnx') {
    throw new InvalidArgumentError(`expected a file name ending in .onnx, got "${value}"`);
  }
  return value;
}
