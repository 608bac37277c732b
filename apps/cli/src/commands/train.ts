import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AnyModel,
  createModel,
  type ModelConfig,
  parameterBreakdown,
  presetConfig,
  trainingMemoryProblems,
  validateConfig,
} from '@megabyte/core';
import { Corpus, imageByteLength, type MediaSpec, splitCorpus } from '@megabyte/patching';
import {
  describeMediaCorpora,
  loadMediaCorpora,
  resolveDataSource,
  writeFileAtomic,
} from '@megabyte/patching/node';
import {
  DEFAULT_TRAINING_OPTIONS,
  runDirectoryOf,
  Trainer,
  type TrainerEvent,
  TrainingDivergedError,
  type TrainingOptions,
  unigramBitsPerByte,
} from '@megabyte/trainer';
import { loadResumePoint, RunDirectory } from '@megabyte/trainer/node';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { chooseEngineBackend, ENGINE_BACKEND_HELP, ENGINE_BACKENDS } from '../engine-backend.js';
import { type MediaFlags, mediaDataPath, resolveMedia, withMediaOptions, writeSavedMedia } from '../media.js';
import {
  collect,
  formatCount,
  formatDuration,
  integer,
  nonNegativeNumber,
  positiveNumber,
  userPath,
} from '../options.js';
import { EXIT_INTERRUPTED, markInterrupted } from '../process-exit.js';
import { loadModelArgument } from './model-loading.js';

/** How the data was chosen, stored with each checkpoint so a resume reads the same bytes. */
interface DataSpec {
  readonly source: string;
  readonly include?: string[] | undefined;
  readonly exclude?: string[] | undefined;
  readonly validationFraction: number;
  /** Images or audio: how files become bytes (absent for text). */
  readonly media?: MediaSpec | undefined;
  readonly maxFiles?: number | undefined;
}

interface TrainFlags extends MediaFlags {
  maxFiles?: number;
  data: string;
  include?: string[];
  exclude?: string[];
  preset: string;
  backend: string;
  threads?: number;
  steps: number;
  batch: number;
  accumulate: number;
  lr: number;
  warmup: number;
  schedule: TrainingOptions['schedule'];
  clip: number;
  spikeFactor: number;
  weightDecay: number;
  evalEvery: number;
  evalWindows: number;
  checkpointEvery: number;
  keep: number;
  validation: number;
  seed: number;
  out?: string;
  resume?: string;
  init?: string;
}

/** The flags that set a TrainingOptions field: a resumed run keeps its own unless one is given. */
const RESUMABLE_FLAGS = [
  ['steps', 'steps', 'steps'],
  ['batch', 'batchSize', 'batch'],
  ['accumulate', 'accumulationSteps', 'accumulate'],
  ['lr', 'lr', 'lr'],
  ['warmup', 'warmupSteps', 'warmup'],
  ['schedule', 'schedule', 'schedule'],
  ['clip', 'clip', 'clip'],
  ['spikeFactor', 'spikeFactor', 'spike-factor'],
  ['weightDecay', 'weightDecay', 'weight-decay'],
  ['evalEvery', 'evalEvery', 'eval-every'],
  ['evalWindows', 'evalWindows', 'eval-windows'],
  ['checkpointEvery', 'checkpointEvery', 'checkpoint-every'],
] as const satisfies readonly (readonly [keyof TrainFlags, keyof TrainingOptions, string])[];

/** Flags that choose the model or the data: a resumed run cannot change them. */
const FIXED_ON_RESUME = [
  ['preset', 'preset'],
  ['data', 'data'],
  ['include', 'include'],
  ['exclude', 'exclude'],
  ['validation', 'validation'],
  ['seed', 'seed'],
  ['modality', 'modality'],
  ['maxFiles', 'max-files'],
  ['out', 'out'],
  ['init', 'init'],
] as const;

export function trainCommand(): Command {
  return withMediaOptions(new Command('train'))
    .description(
      'train a byte-level model (MEGABYTE or the baseline transformer) on files or a named dataset',
    )
    .option(
      '--data <path|name>',
      'a file, a directory (read recursively) or a dataset name (brown; images: openclipart)',
      'brown',
    )
    .option('--include <glob>', 'with a directory: only files matching this glob (repeatable)', collect)
    .option('--exclude <glob>', 'with a directory: skip files matching this glob (repeatable)', collect)
    .option(
      '--preset <name|file.json>',
      'tiny, small, base, image-tiny, audio-tiny, transformer-tiny, ... or a config JSON file (default: tiny; image-tiny or audio-tiny with --modality)',
      'tiny',
    )
    .option('--max-files <n>', 'images or audio: train on a seeded sample of n files', integer(1))
    .addOption(new Option('--backend <name>', ENGINE_BACKEND_HELP).choices(ENGINE_BACKENDS).default('auto'))
    .option('--threads <n>', 'onnxruntime: intra-op threads (default: one per core)', integer(1))
    .option('--steps <n>', 'optimizer steps', integer(1), 600)
    .option('--batch <n>', 'windows per step', integer(1), 8)
    .option('--accumulate <n>', 'micro-batches per step (gradient accumulation)', integer(1), 1)
    .option('--lr <x>', 'peak learning rate', positiveNumber, 2e-3)
    .option('--warmup <n>', 'warm-up steps', integer(0), 50)
    .addOption(
      new Option('--schedule <kind>', 'decay after warm-up')
        .choices(['cosine', 'polynomial', 'constant'])
        .default('cosine'),
    )
    .option('--clip <x>', 'global gradient-norm clip (0: off)', nonNegativeNumber, 1)
    .option(
      '--spike-factor <x>',
      'stop as diverged when a step loss is more than x times the mean of the last 20 (0: only non-finite losses)',
      spikeFactor,
      4,
    )
    .option('--weight-decay <x>', 'AdamW weight decay', nonNegativeNumber, 0.1)
    .option('--eval-every <n>', 'validate every n steps (0: only at the end)', integer(0), 100)
    .option('--eval-windows <n>', 'validation windows scored each time', integer(1), 64)
    .option('--checkpoint-every <n>', 'checkpoint every n steps (0: only at the end)', integer(0), 200)
    .option('--keep <n>', 'step checkpoints to keep', integer(1), 3)
    .option('--validation <fraction>', 'share of the data held out for validation', positiveNumber, 0.05)
    .option('--seed <n>', 'seed for initialisation, data order and dropout', integer(0), 0)
    .option('--out <dir>', 'run directory (default runs/<timestamp>)')
    .option(
      '--resume <dir>',
      'continue a run (its directory or one of its checkpoints) exactly as it was; --steps, --lr, --warmup, --schedule, --eval-every, ... change it',
    )
    .option(
      '--init <checkpoint>',
      'fine-tune: start from these weights (a checkpoint or run directory) with a fresh optimizer and schedule',
    )
    .addHelpText(
      'after',
      `
Examples:
  megabyte train                                  # tiny MEGABYTE on the Brown corpus, ~10 minutes on 2 cores
  megabyte train --data ./notes --include '**/*.md' --steps 2000
  megabyte train --preset transformer-tiny        # the baseline, for comparison
  megabyte train --resume runs/2026-11-28T04-00-00               # continue exactly as it was
  megabyte train --resume runs/2026-11-28T04-00-00 --steps 1200   # prints "changed: steps 600 -> 1200"
  megabyte train --init packages/model-default --data ./notes --steps 200 --lr 5e-4
  megabyte train --modality image --data openclipart --max-files 1000 --steps 300   # 32 x 32 patch scan
  megabyte train --modality audio --data /tmp/speech --steps 300                    # 8 kHz mu-law`,
    )
    .action(async (flags: TrainFlags, command: Command) => {
      await train(flags, command);
    });
}

async function train(flags: TrainFlags, command: Command): Promise<void> {
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  checkStartFlags(flags, given);
  // The runtime comes first: every tensor, resumed weights included, must live on its backend.
  const backend = await chooseEngineBackend(flags.backend, flags.threads);
  const { runtime } = backend;
  const resume = flags.resume ? await loadResumePoint(userPath(flags.resume)) : undefined;
  const init = flags.init ? await loadModelArgument(flags.init) : undefined;
  const modality = flags.modality ?? 'text';
  const preset = given('preset') || modality === 'text' ? flags.preset : `${modality}-tiny`;
  const newConfig = resume ? undefined : (init?.model.config ?? (await loadConfig(preset)));
  const media = newConfig ? resolveMedia(flags, newConfig, undefined) : undefined;
  if (modality === 'audio' && !given('data') && !resume) {
    throw new Error(
      '--modality audio needs --data <directory of WAV files>; scripts/make-speech-dataset.ts renders Brown sentences with espeak-ng into one',
    );
  }
  const dataSpec: DataSpec = resume
    ? (JSON.parse(resume.data) as DataSpec)
    : {
        source: mediaSource(modality, given('data') ? flags.data : undefined) ?? flags.data,
        include: flags.include,
        exclude: flags.exclude,
        validationFraction: flags.validation,
        media,
        maxFiles: flags.maxFiles,
      };
  if (!dataSpec.media && flags.maxFiles !== undefined) {
    throw new Error(
      '--max-files applies to --modality image or audio; for text, narrow --data with --include',
    );
  }

  let options: TrainingOptions | Partial<TrainingOptions>;
  if (resume) {
    const resumed = resumedOptions(resume.options, resume.state.step, flags, given);
    for (const change of resumed.changes) process.stderr.write(`changed: ${change}\n`);
    options = resumed.options;
  } else {
    options = {
      steps: flags.steps,
      batchSize: flags.batch,
      accumulationSteps: flags.accumulate,
      lr: flags.lr,
      warmupSteps: flags.warmup,
      schedule: flags.schedule,
      clip: flags.clip,
      spikeFactor: flags.spikeFactor,
      weightDecay: flags.weightDecay,
      evalEvery: flags.evalEvery,
      evalWindows: flags.evalWindows,
      checkpointEvery: flags.checkpointEvery,
      logEvery: 1,
      seed: flags.seed,
      // Windows start at an image's first byte: one that starts mid-image would scramble the
      // patch layout the model learns.
      windowAlignment: dataSpec.media?.modality === 'image' ? imageByteLength(dataSpec.media.layout) : 1,
    };
  }
  const memory = trainingMemoryProblems(
    resume?.model.config ?? newConfig!,
    Math.ceil(options.batchSize! / options.accumulationSteps!),
  );
  if (memory.length > 0) throw new Error(`--batch ${options.batchSize}: ${memory[0]}`);

  const split = dataSpec.media ? await mediaSplit(dataSpec, dataSpec.media) : await textSplit(dataSpec);
  const model: AnyModel = resume?.model ?? init?.model ?? createModel(newConfig!, { seed: flags.seed });
  const config = model.config;
  const sizes = parameterBreakdown(config);
  const origin = resume ? `resumed from ${resume.dir}` : init ? `fine-tuning ${init.dir}` : preset;
  process.stderr.write(
    `model: ${config.kind} (${origin}), ${formatCount(sizes.total)} parameters, context ${config.contextLength} bytes${model.geometry.patchSizes.length > 0 ? `, patch ${model.geometry.patchSizes.join(' > ')}` : ''}\n`,
  );
  const unigram = split.validation
    ? unigramBitsPerByte(split.train, split.validation, config.vocabSize)
    : undefined;
  if (unigram !== undefined)
    process.stderr.write(
      `reference: uniform 8.000 bpb, unigram byte model ${unigram.toFixed(3)} bpb on the validation split\n`,
    );

  const runDir = resume
    ? runDirectoryOf(resume.dir)
    : userPath(flags.out ?? join('runs', new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)));
  const run = new RunDirectory(runDir, { keepLast: flags.keep, data: JSON.stringify(dataSpec) });
  for (const action of await run.removeLeftovers()) process.stderr.write(`${action}\n`);
  if (dataSpec.media) {
    await writeSavedMedia(runDir, {
      ...dataSpec.media,
      data: dataSpec.source,
      maxFiles: dataSpec.maxFiles,
      validationFraction: dataSpec.validationFraction,
    });
  }
  const progress = new Progress(options.steps!, resume?.state.step ?? 0);
  let pendingWrite = Promise.resolve();
  let lastValidation: number | undefined;
  let bytesPerSecond = 0;
  const { engine, description: engineDescription } = backend.engineFor(model.config);
  process.stderr.write(`backend: ${engineDescription}\n`);
  const trainer = new Trainer(model, split, options, {
    ...(engine && { engine }),
    checkpoints: run,
    onEvent: (event: TrainerEvent) => {
      pendingWrite = pendingWrite.then(() => run.record(event));
      if (event.type === 'step') {
        bytesPerSecond = event.metrics.bytesPerSecond;
        progress.step(event.metrics.step, event.metrics.loss, event.metrics.bitsPerByte, bytesPerSecond);
      }
      if (event.type === 'eval') {
        lastValidation = event.bitsPerByte;
        progress.note(
          `step ${event.step}: validation ${event.bitsPerByte.toFixed(3)} bpb${event.best ? ' (best so far)' : ''}`,
        );
      }
    },
  });
  if (resume) {
    trainer.restore(resume.state);
    for (const t of resume.state.optimizer.tensors.values()) t.dispose();
  }

  const started = Date.now();
  await writeFileAtomic(
    join(runDir, 'run.json'),
    `${JSON.stringify({ command: process.argv.slice(2), data: dataSpec, config, runtime: engineDescription, startedAt: new Date(started).toISOString() }, null, 2)}\n`,
  );
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(EXIT_INTERRUPTED);
    progress.note('interrupted: writing a checkpoint (Ctrl-C again to quit without it)');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  try {
    const result = await trainer.run(abort.signal);
    await pendingWrite;
    progress.stop();
    const seconds = (Date.now() - started) / 1000;
    const summary = {
      steps: result.step,
      seconds,
      validationBitsPerByte: result.validationBitsPerByte ?? lastValidation,
      unigramBitsPerByte: unigram,
      bytesPerSecond,
      backend: engine ? 'onnxruntime' : runtime.backend,
      interrupted: result.interrupted,
    };
    await writeFileAtomic(join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    if (result.interrupted) {
      process.stderr.write(
        `stopped at step ${result.step}; resume with:\n  megabyte train --resume ${runDir}\n`,
      );
      markInterrupted();
      return;
    }
    const bpb = summary.validationBitsPerByte;
    process.stderr.write(
      `done: ${result.step} steps in ${formatDuration(seconds)}, ${Math.round(bytesPerSecond)} bytes/s` +
        (bpb !== undefined
          ? `, validation ${bpb.toFixed(3)} bpb (unigram ${unigram?.toFixed(3)}, uniform 8)`
          : '') +
        `\nmodel: ${runDir}\n${nextCommands(runDir, dataSpec)}`,
    );
  } catch (error) {
    progress.stop();
    if (error instanceof TrainingDivergedError) {
      await pendingWrite;
      process.stderr.write(`${error.message}\n${await divergenceAdvice(run, options.lr!)}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    trainer.dispose();
    model.dispose();
  }
}

/** Text: files or a dataset, split by documents (or the tail of a single document). */
async function textSplit(dataSpec: DataSpec): Promise<{ train: Corpus; validation: Corpus | undefined }> {
  const source = await resolveDataSource(
    dataSpec.source.includes('/') || dataSpec.source.startsWith('.')
      ? userPath(dataSpec.source)
      : dataSpec.source,
    {
      include: dataSpec.include,
      exclude: dataSpec.exclude,
    },
  );
  const documents = source.documents.map((d) => d.bytes);
  const total = documents.reduce((sum, d) => sum + d.length, 0);
  if (total === 0)
    throw new Error(`data source "${dataSpec.source}" holds no bytes: give it a non-empty file or directory`);
  const split =
    documents.length > 1 || total > 1
      ? splitCorpus(documents, { validationFraction: dataSpec.validationFraction, seed: 0 })
      : { train: Corpus.fromDocuments(documents), validation: undefined };
  process.stderr.write(
    `data: ${dataSpec.source}, ${documents.length} document(s), ${formatCount(total)} bytes: ${formatCount(split.train.length)} train, ${formatCount(split.validation?.length ?? 0)} validation\n`,
  );
  return split;
}

/** Images or audio: whole files held out, decoded into model bytes. */
async function mediaSplit(
  dataSpec: DataSpec,
  media: MediaSpec,
): Promise<{ train: Corpus; validation: Corpus | undefined }> {
  const data = await loadMediaCorpora(media, dataSpec.source, dataSpec);
  process.stderr.write(`data: ${describeMediaCorpora(media, data)}\n`);
  return { train: data.train, validation: data.validation };
}

/**
 * Image and audio runs keep their data as an absolute path (or the image set's name), so `eval`
 * and `generate` find it from any directory.
 */
function mediaSource(modality: string, data: string | undefined): string | undefined {
  if (modality === 'text') return undefined;
  if (data === undefined) return modality === 'image' ? 'openclipart' : undefined;
  return mediaDataPath(data);
}

function nextCommands(runDir: string, dataSpec: DataSpec): string {
  const evaluate = `  megabyte eval --model ${runDir}`;
  switch (dataSpec.media?.modality) {
    case 'image':
      return `  megabyte generate --model ${runDir} --out sample.png\n${evaluate}\n`;
    case 'audio':
      return `  megabyte generate --model ${runDir} --out sample.wav\n${evaluate}\n`;
    default:
      return `  megabyte generate --model ${runDir} --prompt "The "\n${evaluate} --data ${dataSpec.source}\n`;
  }
}

/** A preset name, or a JSON file holding a model config. */
async function loadConfig(preset: string): Promise<ModelConfig> {
  if (!preset.endsWith('.json')) return presetConfig(preset);
  const path = userPath(preset);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(
      `--preset ${preset}: cannot read ${path}; give a preset name (tiny, small, base, transformer-tiny, ...) or a config JSON file`,
    );
  }
  try {
    return validateConfig(JSON.parse(text));
  } catch (error) {
    throw new Error(`--preset ${preset}: ${(error as Error).message}`);
  }
}

function spikeFactor(value: string): number {
  const n = Number(value);
  if (!(n === 0 || n > 1)) throw new InvalidArgumentError(`expected 0 (off) or a number > 1, got "${value}"`);
  return n;
}

/**
 * Where to go on from a diverged run: the newest step checkpoint (all were written before the
 * diverged step, which is never saved), resumed with a quarter of the learning rate.
 */
async function divergenceAdvice(run: RunDirectory, lr: number): Promise<string> {
  const last = (await run.checkpoints()).at(-1);
  if (last === undefined)
    return `no checkpoint was written before it; start again with a lower learning rate, e.g. --lr ${lr / 4}\n`;
  return `the last checkpoint from before it: ${last}\ncontinue from it with a lower learning rate:\n  megabyte train --resume ${last} --lr ${lr / 4}\n`;
}

/** Flags that cannot go together, refused before anything is loaded. */
function checkStartFlags(flags: TrainFlags, given: (name: string) => boolean): void {
  if (flags.init !== undefined && given('preset')) {
    throw new Error(
      `--init ${flags.init} brings its own model config; drop --preset ${flags.preset} (or drop --init to train a new model)`,
    );
  }
  if (flags.resume === undefined) return;
  const fixed = FIXED_ON_RESUME.filter(([name]) => given(name)).map(([, flag]) => `--${flag}`);
  if (fixed.length > 0) {
    throw new Error(
      `--resume continues a run with its own model, data and seed, so ${fixed.join(', ')} cannot change it; to train further on other data or with another setup, start a new run from its weights: megabyte train --init ${flags.resume} ...`,
    );
  }
}

/**
 * A resumed run's options: the saved ones, with each flag given on the command line applied and
 * reported as "name old -> new". The step count must stay ahead of where the run is.
 */
function resumedOptions(
  saved: TrainingOptions,
  step: number,
  flags: TrainFlags,
  given: (name: string) => boolean,
): { options: TrainingOptions; changes: string[] } {
  // Runs saved before an option existed keep its default.
  const options: Record<string, unknown> = { ...DEFAULT_TRAINING_OPTIONS, ...saved };
  const changes: string[] = [];
  for (const [flag, field, name] of RESUMABLE_FLAGS) {
    if (!given(flag) || flags[flag] === options[field]) continue;
    changes.push(`${name} ${options[field]} -> ${flags[flag]}`);
    options[field] = flags[flag];
  }
  if ((options.steps as number) <= step && given('steps')) {
    throw new Error(
      `--steps ${flags.steps}: the run is already at step ${step}; give more steps to continue it`,
    );
  }
  return { options: options as unknown as TrainingOptions, changes };
}

/** A live bar on a terminal; a line every tenth of the run (and on notes) otherwise. */
class Progress {
  private readonly bar: SingleBar | undefined;
  private lastLine = 0;

  constructor(
    private readonly total: number,
    start: number,
  ) {
    if (process.stderr.isTTY) {
      this.bar = new SingleBar({
        stream: process.stderr,
        format: 'step {value}/{total} [{bar}] loss {loss} | {bpb} bpb | {rate} B/s | ETA {eta_formatted}',
        barsize: 24,
        etaBuffer: 20,
        hideCursor: true,
      });
      this.bar.start(total, start, { loss: '-', bpb: '-', rate: '-' });
    }
  }

  step(step: number, loss: number, bpb: number, rate: number): void {
    if (this.bar) {
      this.bar.update(step, { loss: loss.toFixed(3), bpb: bpb.toFixed(3), rate: Math.round(rate) });
      return;
    }
    if (step - this.lastLine >= Math.max(1, Math.floor(this.total / 10)) || step === this.total) {
      this.lastLine = step;
      process.stderr.write(
        `step ${step}/${this.total}: loss ${loss.toFixed(3)}, ${bpb.toFixed(3)} bpb, ${Math.round(rate)} bytes/s\n`,
      );
    }
  }

  note(line: string): void {
    if (this.bar) {
      this.bar.stop();
      process.stderr.write(`${line}\n`);
      this.bar.start(this.total, this.bar.getProgress() * this.total);
    } else {
      process.stderr.write(`${line}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}
