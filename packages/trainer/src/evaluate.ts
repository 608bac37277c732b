import { type ByteModel, idsTensor } from '@megabyte/core';
import { PAD_ID } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';

export type EvaluationMode = 'windows' | 'sliding' | 'strided';

export const EVALUATION_MODES: readonly EvaluationMode[] = ['windows', 'sliding', 'strided'];

export interface EvaluationOptions {
  readonly mode?: EvaluationMode;
  /** Sliding mode: how far each window moves; every window after the first scores its last `stride` bytes. */
  readonly stride?: number;
  /** Windows per forward pass. */
  readonly batchSize?: number;
  /** Called after each batch with the share of windows done, for progress bars. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface EvaluationResult {
  readonly mode: EvaluationMode;
  readonly bitsPerByte: number;
  /** Bytes (ids) scored. */
  readonly bytes: number;
  /** Forward-pass positions computed per byte scored, relative to `windows` (1). */
  readonly costMultiple: number;
  /** -log2 p of every id of the stream, in stream order. */
  readonly surprisal: Float32Array;
}

interface ScoringWindow {
  readonly start: number;
  readonly length: number;
  /** Which positions of the window (window-relative) to keep, as [from, to). */
  readonly keep: readonly [number, number];
}

/**
 * Bits per byte of an id stream under a model, in one of three modes:
 * - `windows`: consecutive non-overlapping windows of the context length.
 * - `sliding`: windows that move by `stride`; each byte after the first window is scored with at
 *   least T - stride bytes of context. Costs about T / stride times `windows`.
 * - `strided`: the paper's strided inference for patch models: a second pass shifted by P/2, and
 *   each byte is scored by the pass in which it sits in the second half of its patch (where the
 *   local model has seen more of the patch). Costs 2x.
 */
export function evaluateStream(
  model: ByteModel,
  ids: Int32Array,
  options: EvaluationOptions = {},
): EvaluationResult {
  const mode = options.mode ?? 'windows';
  const context = model.config.contextLength;
  if (ids.length === 0) throw new RangeError('evaluate: the data to score is empty');
  const windows = scoringWindows(mode, ids.length, context, options.stride, patchSizeOf(model));
  const surprisal = new Float32Array(ids.length).fill(Number.NaN);
  const batchSize = options.batchSize ?? 8;
  let computed = 0;
  for (let first = 0; first < windows.length; first += batchSize) {
    const batch = windows.slice(first, first + batchSize);
    const length = Math.max(...batch.map((w) => w.length));
    const rows = new Int32Array(batch.length * length).fill(PAD_ID);
    batch.forEach((w, row) => rows.set(ids.subarray(w.start, w.start + w.length), row * length));
    const nats = tf.tidy(() => {
      const input = idsTensor(rows, batch.length, length);
      const logProbs = tf.logSoftmax(model.forward(input));
      return tf.neg(tf.sum(tf.mul(logProbs, tf.oneHot(input, model.config.vocabSize)), -1)).dataSync(); // [B*T]
    });
    batch.forEach((w, row) => {
      for (let p = w.keep[0]; p < w.keep[1]; p++) surprisal[w.start + p] = nats[row * length + p]! / Math.LN2;
    });
    computed += batch.reduce((sum, w) => sum + w.length, 0);
    options.onProgress?.(Math.min(first + batchSize, windows.length), windows.length);
  }
  let total = 0;
  for (const bits of surprisal) total += bits;
  return {
    mode,
    bitsPerByte: total / ids.length,
    bytes: ids.length,
    costMultiple: computed / ids.length,
    surprisal,
  };
}

function patchSizeOf(model: ByteModel): number {
  return model.config.kind === 'megabyte' ? model.config.patchSize : 1;
}

function scoringWindows(
  mode: EvaluationMode,
  total: number,
  context: number,
  stride: number | undefined,
  patchSize: number,
): ScoringWindow[] {
  const windowAt = (start: number, keepFrom: number): ScoringWindow => {
    const length = Math.min(context, total - start);
    return { start, length, keep: [keepFrom, length] };
  };
  const tiles = (offset: number) => {
    const list: ScoringWindow[] = [];
    for (let start = offset; start < total; start += context) list.push(windowAt(start, 0));
    return list;
  };
  if (mode === 'windows') return tiles(0);
  if (mode === 'sliding') {
    const step = stride ?? Math.max(1, context / 2);
    if (!Number.isInteger(step) || step < 1 || step > context) {
      throw new RangeError(`evaluate: sliding stride must be an integer in 1..${context}, got ${stride}`);
    }
    const list = [windowAt(0, 0)];
    for (let start = step; start + context - step < total; start += step)
      list.push(windowAt(start, context - step));
    return list;
  }
  if (patchSize < 2)
    throw new RangeError('evaluate: strided inference needs a patch model (MEGABYTE with patchSize >= 2)');
  // Keep from each pass the bytes in the second half of their patch; the second pass starts P/2 later.
  const half = Math.floor(patchSize / 2);
  const secondHalf = (position: number, offset: number) =>
    (position - offset) % patchSize >= half || position < offset;
  return [...tiles(0), ...tiles(half)].flatMap((w) =>
    splitKeep(w, (p) => secondHalf(w.start + p, w.start % patchSize === 0 ? 0 : half)),
  );
}

/** Splits a window's kept range into runs of positions that satisfy `wanted`. */
function splitKeep(window: ScoringWindow, wanted: (position: number) => boolean): ScoringWindow[] {
  const runs: ScoringWindow[] = [];
  let from = -1;
  for (let p = 0; p <= window.length; p++) {
    const inside = p < window.length && wanted(p);
    if (inside && from < 0) from = p;
    if (!inside && from >= 0) {
      runs.push({ ...window, keep: [from, p] });
      from = -1;
    }
  }
  return runs;
}
