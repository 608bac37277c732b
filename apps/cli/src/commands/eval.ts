import { Corpus, splitCorpus } from '@megabyte/patching';
import { resolveDataSource } from '@megabyte/patching/node';
import { EVALUATION_MODES, type EvaluationMode, evaluateStream } from '@megabyte/trainer';
import { Command, Option } from 'commander';
import {
  BACKEND_HELP,
  BACKENDS,
  collect,
  formatCount,
  formatDuration,
  integer,
  positiveNumber,
  userPath,
} from '../options.js';
import { startRuntime } from '../runtime.js';
import { loadModelArgument } from './model-loading.js';

interface EvalFlags {
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
  json: boolean;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('bits per byte of a model on a file, a directory or a dataset split')
    .requiredOption('--model <dir>', 'checkpoint or run directory')
    .option('--data <path|name>', 'a file, a directory or a dataset name', 'brown')
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
        "windows, sliding (see --stride) or strided (the paper's P/2-shifted second pass)",
      )
        .choices(EVALUATION_MODES)
        .default('windows'),
    )
    .option('--stride <n>', 'sliding mode: bytes each window moves (default: half the context)', integer(1))
    .option('--batch <n>', 'windows per forward pass', integer(1), 8)
    .option('--max-bytes <n>', 'score only the first n bytes', integer(1))
    .addOption(new Option('--backend <name>', BACKEND_HELP).choices(BACKENDS).default('auto'))
    .option('--json', 'print the result as JSON on stdout', false)
    .addHelpText(
      'after',
      `
Examples:
  megabyte eval --model runs/2026-11-28T04-00-00            # Brown held-out split
  megabyte eval --model models/default --data notes.txt --split all --mode strided`,
    )
    .action(async (flags: EvalFlags) => {
      const runtime = await startRuntime(flags.backend);
      const { model, dir } = await loadModelArgument(flags.model);
      const spec = flags.data.includes('/') || flags.data.startsWith('.') ? userPath(flags.data) : flags.data;
      const source = await resolveDataSource(spec, { include: flags.include, exclude: flags.exclude });
      const documents = source.documents.map((d) => d.bytes);
      const corpus =
        flags.split === 'validation' && documents.reduce((n, d) => n + d.length, 0) > 1
          ? splitCorpus(documents, { validationFraction: flags.validation, seed: 0 }).validation
          : Corpus.fromDocuments(documents);
      const length = Math.min(corpus.length, flags.maxBytes ?? corpus.length);
      if (length === 0) throw new Error(`data source "${flags.data}" holds no bytes to score`);
      const ids = corpus.readIds(0, length);
      const started = Date.now();
      const result = await evaluateStream(model, ids, {
        mode: flags.mode,
        stride: flags.stride,
        batchSize: flags.batch,
        onProgress: (done, total) => {
          if (process.stderr.isTTY) process.stderr.write(`\rscoring: ${done}/${total} windows`);
        },
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      const seconds = (Date.now() - started) / 1000;
      const report = {
        model: dir,
        data: flags.data,
        split: flags.split,
        mode: result.mode,
        bytes: result.bytes,
        bitsPerByte: result.bitsPerByte,
        compressionRatio: 8 / result.bitsPerByte,
        costMultiple: result.costMultiple,
        seconds,
        backend: runtime.backend,
      };
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        process.stdout.write(
          `${result.bitsPerByte.toFixed(4)} bits per byte on ${formatCount(result.bytes)} bytes (${flags.data}, ${flags.split}, ${result.mode} mode, cost ${result.costMultiple.toFixed(2)}x)\n` +
            `compression ratio ${(8 / result.bitsPerByte).toFixed(2)}x (8 / bpb); ${formatDuration(seconds)} on ${runtime.backend}\n`,
        );
      }
      model.dispose();
    });
}
