import { inferenceMemoryProblems } from '@megabyte/core';
import { Corpus, type MediaSpec, type SavedMedia, splitCorpus } from '@megabyte/patching';
import { describeMediaCorpora, loadMediaCorpora, resolveDataSource } from '@megabyte/patching/node';
import { EVALUATION_MODES, type EvaluationMode, evaluateStream } from '@megabyte/trainer';
import { Command, Option } from 'commander';
import { chooseEngineBackend, ENGINE_BACKEND_HELP, ENGINE_BACKENDS } from '../engine-backend.js';
import { type MediaFlags, mediaDataPath, readSavedMedia, resolveMedia, withMediaOptions } from '../media.js';
import {
  collect,
  formatBytes,
  formatCount,
  formatDuration,
  integer,
  positiveNumber,
  userPath,
} from '../options.js';
import { loadModelArgument } from './model-loading.js';

interface EvalFlags extends MediaFlags {
  maxFiles?: number;
  model: string;
  data: string;
  include?: string[];
  exclude?: string[];
  split: 'validation' | 'all';
  validation: number;
  mode: EvaluationMode;
  stride?: number;
  batch: number;
  maxBytes?: number;
  backend: string;
  threads?: number;
  json: boolean;
}

export function evalCommand(): Command {
  return withMediaOptions(new Command('eval'))
    .description('bits per byte of a model on a file, a directory, a dataset split, or images or audio')
    .requiredOption('--model <dir>', 'checkpoint or run directory')
    .option(
      '--data <path|name>',
      'a file, a directory or a dataset name (images and audio: default the data the model was trained on)',
      'brown',
    )
    .option('--include <glob>', 'with a directory: only files matching this glob (repeatable)', collect)
    .option('--exclude <glob>', 'with a directory: skip files matching this glob (repeatable)', collect)
    .addOption(
      new Option(
        '--split <which>',
        'score the held-out split (the same one `megabyte train` holds out) or all of the data',
      )
        .choices(['validation', 'all'])
        .default('validation'),
    )
    .option('--validation <fraction>', 'held-out share, as given to train', positiveNumber, 0.05)
    .addOption(
      new Option(
        '--mode <mode>',
        "windows, sliding (see --stride), strided (the paper's P/2-shifted second pass, each byte from the pass where it is in the first half of its patch) or strided-late (from the pass where it is in the second half)",
      )
        .choices(EVALUATION_MODES)
        .default('windows'),
    )
    .option('--stride <n>', 'sliding mode: bytes each window moves (default: half the context)', integer(1))
    .option('--batch <n>', 'windows per forward pass', integer(1), 8)
    .option('--max-bytes <n>', 'score only the first n bytes', integer(1))
    .addOption(new Option('--backend <name>', ENGINE_BACKEND_HELP).choices(ENGINE_BACKENDS).default('auto'))
    .option('--threads <n>', 'onnxruntime: intra-op threads (default: one per core)', integer(1))
    .option('--max-files <n>', 'images or audio: the seeded sample of n files given to train', integer(1))
    .option('--json', 'print the result as JSON on stdout', false)
    .addHelpText(
      'after',
      `
Examples:
  megabyte eval --model runs/2026-11-28T04-00-00            # Brown held-out split
  megabyte eval --model packages/model-default --data notes.txt --split all --mode strided
  megabyte eval --model runs/images                        # held-out images of its own training data`,
    )
    .action(async (flags: EvalFlags, command: Command) => {
      const backend = await chooseEngineBackend(flags.backend, flags.threads);
      const { model, dir } = await loadModelArgument(flags.model);
      const memory = inferenceMemoryProblems(model.config, flags.batch);
      if (memory.length > 0) {
        model.dispose();
        throw new Error(`--batch ${flags.batch}: ${memory[0]}`);
      }
      const { nats, description } = await backend.natsFor(model);
      process.stderr.write(`backend: ${description}\n`);
      const saved = await readSavedMedia(dir);
      const media = resolveMedia(flags, model.config, saved);
      const given = (name: string) => command.getOptionValueSource(name) === 'cli';
      const { corpus, data } = media
        ? await mediaCorpus(media, saved, flags, given)
        : { corpus: await textCorpus(flags), data: flags.data };
      const length = Math.min(corpus.length, flags.maxBytes ?? corpus.length);
      if (length === 0) throw new Error(`data source "${data}" holds no bytes to score`);
      const ids = corpus.readIds(0, length);
      const started = Date.now();
      const result = await evaluateStream(model, ids, {
        mode: flags.mode,
        stride: flags.stride,
        batchSize: flags.batch,
        ...(nats && { nats }),
        onProgress: (done, total) => {
          if (process.stderr.isTTY) process.stderr.write(`\rscoring: ${done}/${total} windows`);
        },
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      const seconds = (Date.now() - started) / 1000;
      const report = {
        model: dir,
        data,
        split: flags.split,
        mode: result.mode,
        bytes: result.bytes,
        bitsPerByte: result.bitsPerByte,
        compressionRatio: 8 / result.bitsPerByte,
        costMultiple: result.costMultiple,
        seconds,
        // The process's peak resident memory, the wasm heap included (it never shrinks).
        peakMemoryBytes: process.resourceUsage().maxRSS * 1024,
        backend: nats ? 'onnxruntime' : backend.runtime.backend,
      };
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        process.stdout.write(
          `${result.bitsPerByte.toFixed(4)} bits per byte on ${formatCount(result.bytes)} bytes (${data}, ${flags.split}, ${result.mode} mode, cost ${result.costMultiple.toFixed(2)}x)\n` +
            `compression ratio ${(8 / result.bitsPerByte).toFixed(2)}x (8 / bpb); ${formatDuration(seconds)} on ${report.backend}, peak memory ${formatBytes(report.peakMemoryBytes)}\n`,
        );
      }
      model.dispose();
    });
}

async function textCorpus(flags: EvalFlags): Promise<Corpus> {
  if (flags.maxFiles !== undefined) throw new Error('--max-files applies to --modality image or audio');
  const spec = flags.data.includes('/') || flags.data.startsWith('.') ? userPath(flags.data) : flags.data;
  const source = await resolveDataSource(spec, { include: flags.include, exclude: flags.exclude });
  const documents = source.documents.map((d) => d.bytes);
  return flags.split === 'validation' && documents.reduce((n, d) => n + d.length, 0) > 1
    ? splitCorpus(documents, { validationFraction: flags.validation, seed: 0 }).validation
    : Corpus.fromDocuments(documents);
}

/**
 * Images or audio: by default the data, sample and held-out share the model was trained with
 * (its media.json), so `eval --model run` scores exactly the files training never saw.
 */
async function mediaCorpus(
  media: MediaSpec,
  saved: SavedMedia | undefined,
  flags: EvalFlags,
  given: (name: string) => boolean,
): Promise<{ corpus: Corpus; data: string }> {
  const data = given('data')
    ? flags.data
    : (saved?.data ?? (media.modality === 'image' ? 'openclipart' : undefined));
  if (data === undefined) throw new Error('--modality audio: give --data <directory of WAV files>');
  const validationFraction = given('validation')
    ? flags.validation
    : (saved?.validationFraction ?? flags.validation);
  const loaded = await loadMediaCorpora(media, mediaDataPath(data), {
    validationFraction: flags.split === 'validation' ? validationFraction : 0,
    maxFiles: flags.maxFiles ?? saved?.maxFiles,
    include: flags.include,
    exclude: flags.exclude,
  });
  process.stderr.write(`data: ${describeMediaCorpora(media, loaded)}\n`);
  if (flags.split === 'all') return { corpus: loaded.train, data };
  if (!loaded.validation) {
    throw new Error(`data "${data}" has too few files to hold any out: use --split all`);
  }
  return { corpus: loaded.validation, data };
}
