import { type DecoderSource, type GenerateOptions, generateBatch } from '@megabyte/core';
import type { ByteScores } from '@megabyte/onnx';

/** What `megabyte serve` runs (an OnnxModel): incremental decoders, and scoring through the scoring graph. */
export interface ServedModel extends DecoderSource {
  scoreBytes(bytes: ArrayLike<number>): Promise<ByteScores>;
}

/** Generation options one batch shares: everything but the prompt (and the seed, see `batchKey`). */
export type BatchOptions = Omit<GenerateOptions, 'prompt' | 'signal' | 'onToken'>;

export interface GenerateJob {
  readonly kind: 'generate';
  readonly prompt: Uint8Array;
  readonly options: BatchOptions;
  /** Each byte of this request's output, in order, as it is sampled. */
  readonly onByte: (byte: number) => void;
  /** Set when the client went away: its bytes are dropped, and a job still queued never runs. */
  cancelled: boolean;
}

export interface ScoreJob {
  readonly kind: 'score';
  readonly bytes: Uint8Array;
  cancelled: boolean;
}

export type Job = GenerateJob | ScoreJob;

/** Why a request was not queued: the queue is full (429), or the server is shutting down (503). */
export type Refusal = 'queue-full' | 'shutting-down';

export type SubmitResult<T> =
  | { readonly accepted: true; readonly done: Promise<T> }
  | { readonly accepted: false; readonly reason: Refusal };

export interface SchedulerOptions {
  /** Most generation requests decoded together in one batch. */
  readonly maxBatch: number;
  /** Most requests waiting (not yet running); more are refused. */
  readonly maxQueue: number;
}

interface Queued {
  readonly job: Job;
  readonly resolve: (value: ByteScores | undefined) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A bounded FIFO queue in front of one model. One batch runs at a time (ONNX Runtime already uses
 * every core it is given): the oldest request decides the batch, and waiting generation requests
 * with the same options join it, up to `maxBatch`. Each sequence's bytes go to its own request
 * only: `generateBatch` reports every byte with the index of its sequence.
 */
export class Scheduler {
  private readonly queue: Queued[] = [];
  private running = false;
  /** Batches run and the sequences they held (for the mean batch size of a load test). */
  readonly stats = { batches: 0, sequences: 0 };
  private closing = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  constructor(
    private readonly model: ServedModel,
    readonly options: SchedulerOptions,
  ) {}

  /** Requests waiting to run. */
  get waiting(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running;
  }

  /** Queues a generation request; `done` settles when its last byte has been given to `onByte`. */
  generate(job: GenerateJob): SubmitResult<void> {
    return this.submit(job) as SubmitResult<void>;
  }

  score(job: ScoreJob): SubmitResult<ByteScores> {
    return this.submit(job) as SubmitResult<ByteScores>;
  }

  private submit(job: Job): SubmitResult<ByteScores | undefined> {
    if (this.closing) return { accepted: false, reason: 'shutting-down' };
    if (this.queue.length >= this.options.maxQueue) return { accepted: false, reason: 'queue-full' };
    const done = new Promise<ByteScores | undefined>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
    });
    if (!this.running) {
      this.idle = new Promise((resolve) => {
        this.markIdle = resolve;
      });
      void this.pump();
    }
    return { accepted: true, done };
  }

  /** Refuses new requests and resolves once every accepted one has finished. */
  drain(): Promise<void> {
    this.closing = true;
    return this.running || this.queue.length > 0 ? this.idle : Promise.resolve();
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      for (;;) {
        const batch = this.nextBatch();
        if (batch.length === 0) break;
        await this.runBatch(batch);
      }
    } finally {
      this.running = false;
      this.markIdle();
    }
  }

  /** The oldest live request and the waiting generation requests that can share its batch. */
  private nextBatch(): Queued[] {
    while (this.queue.length > 0 && this.queue[0]!.job.cancelled) this.queue.shift()!.resolve(undefined);
    const first = this.queue.shift();
    if (!first) return [];
    if (first.job.kind === 'score') return [first];
    const key = batchKey(first.job.options);
    const batch = [first];
    if (key === undefined) return batch;
    for (let i = 0; i < this.queue.length && batch.length < this.options.maxBatch; ) {
      const other = this.queue[i]!;
      if (other.job.kind === 'generate' && !other.job.cancelled && batchKey(other.job.options) === key) {
        batch.push(other);
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  private async runBatch(batch: Queued[]): Promise<void> {
    const first = batch[0]!.job;
    this.stats.batches++;
    this.stats.sequences += batch.length;
    try {
      if (first.kind === 'score') {
        batch[0]!.resolve(await this.model.scoreBytes(first.bytes));
        return;
      }
      const jobs = batch.map((entry) => entry.job as GenerateJob);
      await generateBatch(
        this.model,
        jobs.map((job) => job.prompt),
        {
          ...first.options,
          onToken: (byte, sequence) => {
            const job = jobs[sequence]!;
            if (!job.cancelled) job.onByte(byte);
          },
        },
      );
      for (const entry of batch) entry.resolve(undefined);
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}

/**
 * Requests batch together when every generation option is the same. A seeded request runs alone:
 * `generateBatch` seeds sequence i with seed + i, which would give it another request's numbers.
 */
function batchKey(options: BatchOptions): string | undefined {
  if (options.seed !== undefined) return undefined;
  const entries = Object.entries(options).filter(([, value]) => value !== undefined);
  return JSON.stringify(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
}
