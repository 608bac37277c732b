import { encodeText } from '@megabyte/patching';
import type { ModelConfig } from './config.js';
import { ModelGeometry } from './geometry.js';

export interface ScoreOptions {
  /**
   * Bytes the window advances by when the input is longer than the context: whole patches, up to
   * the context; every byte after the first window is scored with at least contextLength - stride
   * bytes before it. Default: half the context (in whole patches).
   */
  readonly stride?: number;
  /** Stops between windows with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface ByteScores {
  /** Mean surprisal over the bytes. */
  readonly bitsPerByte: number;
  /** -log2 p(byte t | the bytes before it in its window), one per byte. */
  readonly surprisal: Float32Array;
}

/**
 * A model that scores one window of at most `config.contextLength` bytes: the tfjs models of this
 * package and `OnnxModel` of @megabyte/onnx. `scoreBytes` slides it over longer inputs.
 */
export interface WindowScorer {
  readonly config: ModelConfig;
  /** -log2 p(window[t] | window[< t]) for every t of one window (length <= contextLength). */
  windowSurprisal(window: Int32Array): Promise<Float32Array>;
}

/** The default stride: half the context, rounded down to whole patches (at least one patch). */
export function defaultStride(config: ModelConfig): number {
  return new ModelGeometry(config).slideBytes();
}

/** One window of a sliding scan: bytes [start, start + length), of which [start + keepFrom, ...) are scored. */
export interface SlidingWindow {
  readonly start: number;
  readonly length: number;
  readonly keepFrom: number;
}

/**
 * The sliding-window rule, in one place (`scoreBytes` here, `evaluateStream`'s `sliding` mode in
 * @megabyte/trainer): windows of `context` bytes start at 0, stride, 2 stride, ...; the first
 * scores all its bytes, every later one its last `stride` (so each byte is scored once, with at
 * least context - stride bytes before it), until the end of the input is reached.
 */
export function slidingWindows(total: number, context: number, stride: number): SlidingWindow[] {
  if (!Number.isInteger(stride) || stride < 1 || stride > context) {
    throw new RangeError(`sliding stride must be an integer in 1..${context}, got ${stride}`);
  }
  const windowAt = (start: number, keepFrom: number) => ({
    start,
    length: Math.min(context, total - start),
    keepFrom,
  });
  const windows = [windowAt(0, 0)];
  for (let start = stride; start + context - stride < total; start += stride) {
    windows.push(windowAt(start, context - stride));
  }
  return windows;
}

/**
 * Per-byte surprisal and bits per byte of any number of bytes, in sliding windows of the context
 * (see `slidingWindows`; `stride` is whole patches, by default half the context).
 */
export async function scoreBytes(
  scorer: WindowScorer,
  bytes: ArrayLike<number>,
  options: ScoreOptions = {},
): Promise<ByteScores> {
  const { contextLength } = scorer.config;
  const patchSize = new ModelGeometry(scorer.config).stepBytes;
  const stride = options.stride ?? defaultStride(scorer.config);
  if (!Number.isInteger(stride) || stride < 1 || stride > contextLength || stride % patchSize !== 0) {
    throw new RangeError(
      `score option "stride": expected a multiple of the patch size ${patchSize} in 1..${contextLength}, got ${stride}`,
    );
  }
  const total = bytes.length;
  const surprisal = new Float32Array(total);
  const windows = total === 0 ? [] : slidingWindows(total, contextLength, stride);
  for (const { start, length, keepFrom } of windows) {
    options.signal?.throwIfAborted();
    const window = Int32Array.from({ length }, (_, i) => bytes[start + i]!);
    const windowScores = await scorer.windowSurprisal(window);
    surprisal.set(windowScores.subarray(keepFrom), start + keepFrom);
  }
  let sum = 0;
  for (const value of surprisal) sum += value;
  return { bitsPerByte: total > 0 ? sum / total : Number.NaN, surprisal };
}

/** `scoreBytes` of a text's UTF-8 bytes (or of bytes as they are). */
export function scoreText(
  scorer: WindowScorer,
  text: string | Uint8Array,
  options: ScoreOptions = {},
): Promise<ByteScores> {
  return scoreBytes(scorer, typeof text === 'string' ? encodeText(text) : text, options);
}
