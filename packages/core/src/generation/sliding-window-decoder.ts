import type { ModelConfig } from '../config.js';
import { ModelGeometry } from '../geometry.js';
import type { IncrementalDecoder } from './incremental-decoder.js';

/**
 * The backend-independent half of an `IncrementalDecoder`, which @megabyte/core's tfjs decoders
 * and @megabyte/onnx's ONNX Runtime ones extend: each sequence's bytes in the context, the
 * sliding window, input validation, one prime or push at a time, and the logits of the last one
 * split by sequence. A backend encodes a window, extends it by a byte, reads its `Logits` [B, V]
 * and keeps rows of its caches.
 *
 * The window: when the context is full (the next byte would sit at position contextLength) the
 * oldest `slideBytes` bytes are dropped and the rest is encoded again from scratch: positions,
 * patch boundaries and cached keys are all relative to the window's start. The start is always a
 * multiple of `slideBytes` (so of the patch size), and `prime` with a prompt longer than the
 * context starts from the same window that feeding the prompt byte by byte would reach.
 */
export abstract class SlidingWindowDecoder<Logits> implements IncrementalDecoder {
  length = 0;
  windowStart = 0;
  reencodes = 0;
  /** Bytes dropped from the front at each slide: `slide` whole patches. */
  readonly slideBytes: number;
  /** Each sequence's bytes from `windowStart` on. */
  protected window: number[][] = [];
  private current: Float32Array[] = [];
  private busy = false;

  /**
   * `slide` is `DecoderOptions.slide`: patches dropped per slide, an integer in 1..patches of
   * the context (default: half the context).
   */
  constructor(
    private readonly modelConfig: ModelConfig,
    slide?: number,
  ) {
    this.slideBytes = new ModelGeometry(modelConfig).slideBytes(slide);
  }

  get batchSize(): number {
    return this.window.length;
  }

  async prime(prompts: readonly ArrayLike<number>[]): Promise<void> {
    const length = prompts[0]?.length;
    if (length === undefined) throw new Error('decoder.prime: expected at least one prompt, got none');
    prompts.forEach((prompt, row) => {
      if (prompt.length !== length) {
        throw new Error(
          `decoder.prime: prompts must have equal lengths (the batch moves in lockstep): prompt ${row} has ${prompt.length} ids, prompt 0 has ${length}`,
        );
      }
      Array.from(prompt).forEach((id, i) => this.checkId(id, `prompt ${row}, index ${i}`));
    });
    const { contextLength } = this.modelConfig;
    const slides = length < contextLength ? 0 : Math.floor((length - contextLength) / this.slideBytes) + 1;
    await this.run(() => {
      this.length = length;
      this.windowStart = slides * this.slideBytes;
      this.window = prompts.map((prompt) => Array.from(prompt).slice(this.windowStart));
      this.restart?.();
      return this.encode();
    });
  }

  logits(): readonly Float32Array[] {
    return this.current;
  }

  async push(ids: readonly number[]): Promise<void> {
    if (this.batchSize === 0) throw new Error('decoder.push: call prime first');
    if (ids.length !== this.batchSize) {
      throw new Error(`decoder.push: expected one id per sequence (${this.batchSize}), got ${ids.length}`);
    }
    ids.forEach((id, row) => this.checkId(id, `sequence ${row}`));
    await this.run(async () => {
      if (this.beforePush) await this.beforePush();
      ids.forEach((id, row) => this.window[row]!.push(id));
      this.length++;
      if (this.length - this.windowStart < this.modelConfig.contextLength) return this.extend();
      this.windowStart += this.slideBytes;
      this.window = this.window.map((bytes) => bytes.slice(this.slideBytes));
      this.reencodes++;
      return this.encode();
    });
  }

  keepRows(rows: readonly number[]): void {
    rows.forEach((row) => {
      if (!Number.isInteger(row) || row < 0 || row >= this.batchSize) {
        throw new RangeError(`decoder.keepRows: row ${row} is not in 0..${this.batchSize - 1}`);
      }
    });
    this.window = rows.map((row) => this.window[row]!);
    this.current = rows.map((row) => this.current[row]!);
    this.selectRows([...rows]);
  }

  abstract dispose(): void;

  /** Fresh state from `window` alone: the logits of the byte after it [B, V]. */
  protected abstract encode(): Logits | Promise<Logits>;
  /** `window` just grew by one byte per sequence: the logits of the byte after it [B, V]. */
  protected abstract extend(): Logits | Promise<Logits>;
  /** The values of logits [B, V] from `encode` or `extend`, row after row; frees them. */
  protected abstract read(logits: Logits): Promise<Float32Array>;
  /** `keepRows` kept these rows of `window`: the backend's state follows, now or before the next push. */
  protected abstract selectRows(rows: number[]): void;
  /** Inside a push's turn, before the window changes: work the backend deferred (e.g. in `selectRows`). */
  protected beforePush?(): Promise<void>;
  /** Inside a prime's turn, after the window was replaced and before `encode`: drops state of the old window. */
  protected restart?(): void;

  /** Window columns [from, to) of every sequence, row after row: the ids of a [B, to - from] tensor. */
  protected windowColumns(from: number, to: number): number[] {
    return this.window.flatMap((bytes) => bytes.slice(from, to));
  }

  private async run(compute: () => Logits | Promise<Logits>): Promise<void> {
    if (this.busy) throw new Error('decoder: a prime or push is still running; await it first');
    this.busy = true;
    try {
      const values = await this.read(await compute());
      const vocab = this.modelConfig.vocabSize;
      this.current = this.window.map((_, row) => values.slice(row * vocab, (row + 1) * vocab));
    } finally {
      this.busy = false;
    }
  }

  private checkId(id: number, where: string): void {
    const vocab = this.modelConfig.vocabSize;
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new RangeError(`decoder: id ${id} (${where}) is outside the model's vocabulary 0..${vocab - 1}`);
    }
  }
}
