import { BOUNDARY_ID, encodeText, Utf8StreamDecoder } from '@megabyte/patching';
import type { ModelConfig } from '../config.js';
import type { DecoderOptions, IncrementalDecoder } from './incremental-decoder.js';
import { Sampler, type SamplingOptions, validateSamplingOptions } from './sampling.js';

/** Text (encoded as UTF-8), bytes, or ids that may include special ids such as the document boundary. */
export type PromptInput = string | Uint8Array | Int32Array;

export interface GenerateOptions extends SamplingOptions, DecoderOptions {
  /** What the output continues. Default: nothing (the model starts from its learned pad). */
  readonly prompt?: PromptInput;
  /** Most bytes to sample, a stop sequence included. Default 256. */
  readonly maxBytes?: number;
  /** Generation ends when the output ends with one of these; the stop sequence itself is not emitted. */
  readonly stop?: readonly (string | Uint8Array)[];
  /** Aborting rejects the pending `next()` (or the batch's promise) with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Called with each byte as it is emitted, and the index of its sequence (0 outside a batch). */
  readonly onToken?: (byte: number, sequence: number) => void;
}

export type BatchGenerateOptions = Omit<GenerateOptions, 'prompt'>;

/**
 * Anything that makes incremental decoders for a model config: the tfjs models of this package,
 * or a model on ONNX Runtime (@megabyte/onnx). Generation calls `createDecoder` instead of
 * importing a decoder, so the ONNX path never loads tfjs.
 */
export interface DecoderSource {
  readonly config: ModelConfig;
  createDecoder(options: DecoderOptions): IncrementalDecoder;
}

/** What generation runs on: a tfjs model of this package, or another decoder source. */
export type GenerationModel = DecoderSource;

const DEFAULT_MAX_BYTES = 256;
// Give timers, input events and abort handlers a turn about once per frame; every byte would cost
// a few percent of throughput for nothing.
const YIELD_INTERVAL_MS = 16;

/**
 * Streams the bytes the model generates after `options.prompt`. Options are checked at the call,
 * before the first byte. Breaking out of the loop frees the decoder's tensors.
 *
 * @example
 * for await (const byte of generate(model, { prompt: 'Once', maxBytes: 64, seed: 1 })) bytes.push(byte);
 */
export function generate(
  model: GenerationModel,
  options: GenerateOptions = {},
): AsyncGenerator<number, void> {
  const run = prepare(model, [options.prompt ?? new Uint8Array()], options, () => 'prompt');
  return (async function* () {
    for await (const [, byte] of run()) yield byte;
  })();
}

/**
 * Like `generate`, as text: each chunk holds whole characters, never part of a UTF-8 sequence.
 * Invalid bytes, or a character cut short by `maxBytes` or a stop, become U+FFFD.
 */
export function generateText(
  model: GenerationModel,
  options: GenerateOptions = {},
): AsyncGenerator<string, void> {
  return utf8Chunks(generate(model, options));
}

/**
 * Generates a continuation of every prompt in one batch. Sequence i samples with seed
 * `options.seed + i`, so it matches `generate` with that seed and its prompt alone. Prompts of
 * different lengths run left-aligned in lockstep: the shortest common prefix is encoded in one
 * pass, then a sequence whose prompt is longer is fed its remaining prompt bytes one step at a
 * time while the others already generate. Finished sequences leave the batch.
 */
export async function generateBatch(
  model: GenerationModel,
  prompts: readonly PromptInput[],
  options: BatchGenerateOptions = {},
): Promise<Uint8Array[]> {
  const run = prepare(model, prompts, options, (index) => `prompts[${index}]`);
  const outputs = prompts.map((): number[] => []);
  for await (const [sequence, byte] of run()) outputs[sequence]!.push(byte);
  return outputs.map((bytes) => Uint8Array.from(bytes));
}

/** Turns a stream of bytes into text chunks that never split a UTF-8 character. */
export async function* utf8Chunks(bytes: AsyncIterable<number>): AsyncGenerator<string, void> {
  const decoder = new Utf8StreamDecoder();
  for await (const byte of bytes) {
    const text = decoder.push(byte);
    if (text) yield text;
  }
  const rest = decoder.flush();
  if (rest) yield rest;
}

/** One sequence of a batch and how far it has got. */
interface Sequence {
  readonly index: number;
  readonly prompt: Int32Array;
  readonly sampler: Sampler;
  /** Prompt and sampled ids, for the repetition penalty. */
  readonly history: number[];
  readonly stop: StopMatcher;
  sampled: number;
}

/**
 * Checks every option now and returns the generation loop, which yields [sequence, byte] as bytes
 * are emitted. The decoder holds no tensors until it is primed, so an unstarted loop leaks nothing.
 */
function prepare(
  model: GenerationModel,
  prompts: readonly PromptInput[],
  options: BatchGenerateOptions,
  promptName: (index: number) => string,
): () => AsyncGenerator<[sequence: number, byte: number], void> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError(`generate option "maxBytes": expected an integer >= 0, got ${maxBytes}`);
  }
  const stops = (options.stop ?? []).map((stop, i) => {
    const bytes = typeof stop === 'string' ? encodeText(stop) : stop;
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
      throw new RangeError(`generate option "stop[${i}]": expected a non-empty string or Uint8Array`);
    }
    return bytes;
  });
  const { seed } = validateSamplingOptions(options);
  const sequences = prompts.map((prompt, index): Sequence => {
    const ids = promptIds(prompt, model.config.vocabSize, promptName(index));
    return {
      index,
      prompt: ids,
      sampler: new Sampler({ ...options, seed: seed === undefined ? undefined : seed + index }),
      history: Array.from(ids),
      stop: new StopMatcher(stops),
      sampled: 0,
    };
  });
  const decoder = model.createDecoder(options);
  return () => lockstep(decoder, sequences, maxBytes, options);
}

/** Runs the sequences left-aligned in lockstep (see `generateBatch`), yielding [sequence, byte] as bytes are emitted. */
async function* lockstep(
  decoder: IncrementalDecoder,
  sequences: Sequence[],
  maxBytes: number,
  options: BatchGenerateOptions,
): AsyncGenerator<[sequence: number, byte: number], void> {
  const { signal, onToken } = options;
  if (sequences.length === 0 || maxBytes === 0) return;
  try {
    signal?.throwIfAborted();
    const shortest = Math.min(...sequences.map((sequence) => sequence.prompt.length));
    await decoder.prime(sequences.map((sequence) => sequence.prompt.subarray(0, shortest)));
    let active = sequences; // active[row] is that row of the decoder
    let lastYield = performance.now();
    for (;;) {
      signal?.throwIfAborted();
      const logits = decoder.logits();
      const steps = active.map((sequence, row) => nextId(sequence, logits[row]!, decoder.length, maxBytes));
      for (const [row, { emit }] of steps.entries()) {
        for (const byte of emit) {
          onToken?.(byte, active[row]!.index);
          yield [active[row]!.index, byte];
        }
      }
      const staying = [...steps.keys()].filter((row) => !steps[row]!.finished);
      if (staying.length === 0) return;
      if (staying.length < active.length) {
        decoder.keepRows(staying);
        active = staying.map((row) => active[row]!);
      }
      await decoder.push(staying.map((row) => steps[row]!.id));
      if (performance.now() - lastYield >= YIELD_INTERVAL_MS) {
        await nextMacrotask();
        lastYield = performance.now();
      }
    }
  } finally {
    decoder.dispose();
  }
}

/**
 * What a sequence feeds at `position`: its own prompt byte while its prompt lasts, then a sampled
 * id; the bytes that are now safe to emit; and whether it is done.
 */
function nextId(
  sequence: Sequence,
  logits: Float32Array,
  position: number,
  maxBytes: number,
): { id: number; emit: number[]; finished: boolean } {
  const forced = sequence.prompt[position];
  if (forced !== undefined) return { id: forced, emit: [], finished: false };
  const id = sequence.sampler.sample(logits, sequence.history);
  sequence.history.push(id);
  sequence.sampled++;
  if (id === BOUNDARY_ID) return { id, emit: sequence.stop.flush(), finished: true };
  const emit = sequence.stop.push(id);
  if (sequence.stop.stopped) return { id, emit, finished: true };
  if (sequence.sampled < maxBytes) return { id, emit, finished: false };
  return { id, emit: [...emit, ...sequence.stop.flush()], finished: true };
}

/**
 * Holds back output that could be the start of a stop sequence, so that no part of a stop
 * sequence is ever emitted, and says when one has been completed.
 */
class StopMatcher {
  stopped = false;
  private held: number[] = [];

  constructor(private readonly stops: readonly Uint8Array[]) {}

  /** Adds a sampled byte; returns the bytes that are now safe to emit. */
  push(byte: number): number[] {
    this.held.push(byte);
    const matched = this.stops.filter((stop) => this.heldEndsWith(stop, stop.length));
    if (matched.length > 0) {
      // Of stops that end here ("ab" and "b"), drop the longest so none of either is emitted.
      const longest = Math.max(...matched.map((stop) => stop.length));
      this.stopped = true;
      return this.held.splice(0, this.held.length - longest);
    }
    let keep = 0;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, this.held.length); k > keep; k--) {
        if (this.heldEndsWith(stop, k)) keep = k;
      }
    }
    return this.held.splice(0, this.held.length - keep);
  }

  /** Everything still held back (the output ended without completing a stop sequence). */
  flush(): number[] {
    return this.held.splice(0);
  }

  /** Whether the held bytes end with the first `count` bytes of `stop`. */
  private heldEndsWith(stop: Uint8Array, count: number): boolean {
    if (count > this.held.length) return false;
    const offset = this.held.length - count;
    for (let i = 0; i < count; i++) if (this.held[offset + i] !== stop[i]) return false;
    return true;
  }
}

function promptIds(prompt: PromptInput, vocabSize: number, option: string): Int32Array {
  if (typeof prompt === 'string') return Int32Array.from(encodeText(prompt));
  if (prompt instanceof Uint8Array) return Int32Array.from(prompt);
  if (!(prompt instanceof Int32Array)) {
    throw new TypeError(`generate option "${option}": expected a string, Uint8Array or Int32Array`);
  }
  const bad = prompt.findIndex((id) => id < 0 || id >= vocabSize);
  if (bad >= 0) {
    throw new RangeError(
      `generate option "${option}": id ${prompt[bad]} at index ${bad} is outside the model's vocabulary 0..${vocabSize - 1}`,
    );
  }
  return Int32Array.from(prompt);
}

/**
 * Resolves after pending timers and events have run. A MessageChannel message is not throttled
 * the way nested setTimeout calls are (4 ms each in browsers).
 */
function nextMacrotask(): Promise<void> {
  if (typeof MessageChannel === 'undefined') return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(undefined);
  });
}
