import { appendFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  type AnyModel,
  type ByteModel,
  CheckpointError,
  decodeModel,
  decodeSafetensors,
  encodeSafetensors,
} from '@megabyte/core';
import { readCheckpointDirectory, removeCheckpointLeftovers, saveModel } from '@megabyte/core/node';
import * as tf from '@tensorflow/tfjs-core';
import type { AdamWState } from '../adamw.js';
import { BEST_DIR, CHECKPOINTS_DIR, isStepDirectoryName, stepDirectoryName } from '../run-layout.js';
import type { CheckpointReason, CheckpointSink, TrainerEvent, TrainingState } from '../trainer.js';

const OPTIMIZER_FILE = 'optimizer.safetensors';
const TRAINER_FILE = 'trainer.json';
const METRICS_FILE = 'metrics.jsonl';

/** What trainer.json holds besides the optimizer tensors. */
interface TrainerFile {
  readonly step: number;
  readonly sampler: TrainingState['sampler'];
  readonly optimizerStep: number;
  readonly bestValidationBitsPerByte: number | null;
  readonly options: TrainingState['options'];
  readonly reason: CheckpointReason;
  readonly savedAt: string;
  /** Where the training data came from, so a resume can check it is given the same data. */
  readonly data: string;
}

/**
 * A training run on disk:
 *   metrics.jsonl             one JSON line per logged step and evaluation
 *   checkpoints/step-000100/  config.json, model.safetensors, optimizer.safetensors, trainer.json
 *   best/                     the checkpoint with the lowest validation bits per byte
 * Every checkpoint is written atomically; only the newest `keepLast` step checkpoints are kept.
 */
export class RunDirectory implements CheckpointSink {
  readonly dir: string;
  /** Appends to metrics.jsonl one after another, so lines keep the order of the events. */
  private writes: Promise<void> = Promise.resolve();

  constructor(
    dir: string,
    private readonly options: { keepLast?: number; data: string },
  ) {
    this.dir = resolve(dir);
  }

  async save(model: ByteModel, state: TrainingState, reason: CheckpointReason): Promise<void> {
    const optimizerTensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const [name, tensor] of state.optimizer.tensors) {
      optimizerTensors[name] = {
        dtype: 'F32',
        shape: tensor.shape,
        data: (await tensor.data()) as Float32Array,
      };
    }
    const trainer: TrainerFile = {
      step: state.step,
      sampler: state.sampler,
      optimizerStep: state.optimizer.step,
      bestValidationBitsPerByte: state.bestValidationBitsPerByte ?? null,
      options: state.options,
      reason,
      savedAt: new Date().toISOString(),
      data: this.options.data,
    };
    const target =
      reason === 'best'
        ? join(this.dir, BEST_DIR)
        : join(this.dir, CHECKPOINTS_DIR, stepDirectoryName(state.step));
    await saveModel(model as AnyModel, target, {
      extraFiles: {
        [OPTIMIZER_FILE]: encodeSafetensors(optimizerTensors),
        [TRAINER_FILE]: `${JSON.stringify(trainer, null, 2)}\n`,
      },
    });
    if (reason !== 'best') await this.prune();
  }

  /**
   * Appends trainer events to metrics.jsonl (`bpb` is bits per byte). Safe to call from a
   * synchronous `onEvent` without awaiting: writes are queued in call order.
   */
  record(event: TrainerEvent): Promise<void> {
    if (event.type !== 'step' && event.type !== 'eval') return this.writes;
    const line =
      event.type === 'step'
        ? { type: 'step', ...event.metrics, bpb: event.metrics.bitsPerByte, time: Date.now() }
        : { ...event, bpb: event.bitsPerByte, time: Date.now() };
    const write = this.writes.then(async () => {
      await mkdir(this.dir, { recursive: true });
      await appendFile(join(this.dir, METRICS_FILE), `${JSON.stringify(line)}\n`);
    });
    this.writes = write.catch(() => undefined);
    return write;
  }

  /**
   * Removes what interrupted checkpoint writes of an earlier run left here (`*.tmp-*` directories,
   * `*.old-*` backups; a backup that is the only copy is restored instead). Call it before training
   * starts; returns one line per action, with full paths.
   */
  async removeLeftovers(): Promise<string[]> {
    return [
      ...(await removeCheckpointLeftovers(this.dir)),
      ...(await removeCheckpointLeftovers(join(this.dir, CHECKPOINTS_DIR))),
    ];
  }

  /** Step checkpoints, oldest first. */
  async checkpoints(): Promise<string[]> {
    try {
      const names = await readdir(join(this.dir, CHECKPOINTS_DIR));
      return names
        .filter(isStepDirectoryName)
        .sort()
        .map((n) => join(this.dir, CHECKPOINTS_DIR, n));
    } catch {
      return [];
    }
  }

  private async prune(): Promise<void> {
    const keep = this.options.keepLast ?? 3;
    const all = await this.checkpoints();
    for (const old of all.slice(0, Math.max(0, all.length - keep)))
      await rm(old, { recursive: true, force: true });
  }
}

export interface ResumePoint {
  readonly dir: string;
  readonly model: AnyModel;
  readonly state: Omit<TrainingState, 'options'>;
  readonly options: TrainingState['options'];
  readonly data: string;
}

/**
 * The newest step checkpoint of a run directory (or a checkpoint directory itself), with
 * everything needed to continue: model, optimizer state, data position, options.
 */
export async function loadResumePoint(path: string): Promise<ResumePoint> {
  const dir = await newestCheckpoint(resolve(path));
  const { config, weights } = await readCheckpointDirectory(dir);
  const context = `cannot resume from ${dir}`;
  const hint =
    'Only checkpoints written by `megabyte train` can be resumed; a model-only checkpoint can be fine-tuned with --init instead.';
  const read = async (file: string) => {
    try {
      return await readFile(join(dir, file));
    } catch (error) {
      throw new CheckpointError(context, `${file} is missing or unreadable (${(error as Error).message})`, {
        hint,
        cause: error,
      });
    }
  };
  const trainerText = (await read(TRAINER_FILE)).toString('utf8');
  const optimizerBytes = await read(OPTIMIZER_FILE);
  let trainer: TrainerFile;
  try {
    trainer = JSON.parse(trainerText) as TrainerFile;
  } catch (error) {
    throw new CheckpointError(context, `${TRAINER_FILE} is not valid JSON (${(error as Error).message})`, {
      hint: 'The file is corrupt: resume from an older checkpoint of the run (checkpoints/step-*).',
      cause: error,
    });
  }
  const problems = trainerFileProblems(trainer);
  if (problems.length > 0) {
    throw new CheckpointError(
      context,
      problems.map((p) => `${TRAINER_FILE}: ${p}`),
      {
        hint: 'The file is corrupt or from another program: resume from an older checkpoint of the run (checkpoints/step-*).',
      },
    );
  }
  const decoded = decodeSafetensors(optimizerBytes, join(dir, OPTIMIZER_FILE)).tensors;
  const model = decodeModel({ config, weights }, dir);
  const tensors = new Map<string, tf.Tensor>();
  for (const [name, t] of decoded) {
    tensors.set(name, tf.tensor(t.data as Float32Array, [...t.shape], 'float32'));
  }
  const optimizer: AdamWState = { step: trainer.optimizerStep, tensors };
  return {
    dir,
    model,
    options: trainer.options,
    data: trainer.data,
    state: {
      step: trainer.step,
      sampler: trainer.sampler,
      optimizer,
      bestValidationBitsPerByte: trainer.bestValidationBitsPerByte ?? undefined,
    },
  };
}

/** What is wrong with a parsed trainer.json, one line per field. */
function trainerFileProblems(trainer: unknown): string[] {
  if (typeof trainer !== 'object' || trainer === null || Array.isArray(trainer))
    return [`expected a JSON object, got ${JSON.stringify(trainer)}`];
  const t = trainer as Record<string, unknown>;
  const problems: string[] = [];
  const count = (field: string) => {
    const value = t[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      problems.push(
        `${field}: expected an integer in 0..${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(value)}`,
      );
      return false;
    }
    return true;
  };
  const object = (field: string) => {
    const value = t[field];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`${field}: expected an object, got ${JSON.stringify(value)}`);
      return false;
    }
    return true;
  };
  const stepOk = count('step');
  count('optimizerStep');
  object('sampler');
  if (object('options')) {
    const steps = (t.options as Record<string, unknown>).steps;
    if (typeof steps !== 'number' || !Number.isSafeInteger(steps) || steps < 1)
      problems.push(`options.steps: expected an integer >= 1, got ${JSON.stringify(steps)}`);
    // A checkpoint past the end of its own run cannot have been written by it.
    else if (stepOk && (t.step as number) > steps)
      problems.push(`step: ${t.step} is past the run's last step (options.steps ${steps})`);
  }

  const best = t.bestValidationBitsPerByte;
  if (best !== undefined && best !== null && typeof best !== 'number')
    problems.push(`bestValidationBitsPerByte: expected a number or null, got ${JSON.stringify(best)}`);
  return problems;
}

async function newestCheckpoint(path: string): Promise<string> {
  if (await exists(join(path, TRAINER_FILE))) return path;
  const run = new RunDirectory(path, { data: '' });
  const all = await run.checkpoints();
  if (all.length === 0) {
    throw new CheckpointError(
      `cannot resume from ${path}`,
      `no ${CHECKPOINTS_DIR}/step-* directory with a ${TRAINER_FILE} in it`,
      {
        hint: 'Pass the run directory that `megabyte train` wrote (runs/<timestamp>) or one of its checkpoints.',
      },
    );
  }
  return all.at(-1)!;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
