import { type ByteModel, idsTensor, slidingWindows } from '@megabyte/core';
import { PAD_ID } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';

export type EvaluationMode = 'windows' | 'sliding' | 'strided' | 'strided-late';

export const EVALUATION_MODES: readonly EvaluationMode[] = ['windows', 'sliding', 'strided', 'strided-late'];

export interface EvaluationOptions {
  readonly mode?: EvaluationMode;
  /** Sliding mode: how far each window moves; every window after the first scores its last `stride` bytes. */
  readonly stride?: number;
  /** Windows per forward pass. */
  readonly batchSize?: number;
  /**
   * Scores the windows somewhere other than on the model's tfjs backend (e.g. onnxruntime's
   * `onnxRuntimeScorer`); the model then only gives its config.
   */
  readonly nats?: WindowNats;
  /** Called after each batch with the share of windows done, for progress bars. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Per-byte nats of a batch of windows: ids [B*T] row-major (padded with PAD_ID) -> nats [B*T]. */
export type WindowNats = (ids: Int32Array, batch: number, length: number) => Promise<Float32Array>;

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
  /** Which positions of the window (window-relative) to keep, as ranges [from, to). */
  readonly keep: ReadonlyArray<readonly [number, number]>;
}

/**
 * Bits per byte of an id stream under a model, in one of three modes:
 * - `windows`: consecutive non-overlapping windows of the context length.
 * - `sliding`: windows that move by `stride`; each byte after the first window is scored with at
 *   least T - stride bytes of context. Costs about T / stride times `windows`.
 * - `strided`: the paper's strided inference for patch models (section 2.3.3): a second pass
 *   shifted by P/2, and each byte is scored by the pass in which it sits in the first P/2 positions
 *   of its patch, because in the paper's models the loss rises toward the end of a patch. Costs 2x.
 * - `strided-late`: the same two passes, each byte taken from the pass in which it sits in the
 *   second half of its patch, where the local model has seen more of the patch. On our models the
 *   loss falls along the patch, so this scores lower (see the CLI README for both figures).
 */
export async function evaluateStream(
  model: ByteModel,
  ids: Int32Array,
  options: EvaluationOptions = {},
): Promise<EvaluationResult> {
  const mode = options.mode ?? 'windows';
  const context = model.config.contextLength;
  if (ids.length === 0) throw new RangeError('evaluate: the data to score is empty');
  const windows = scoringWindows(mode, ids.length, context, options.stride, model.geometry.innermostPatch);
  const surprisal = new Float32Array(ids.length).fill(Number.NaN);
  const batchSize = options.batchSize ?? 8;
  let computed = 0;
  for (let first = 0; first < windows.length; first += batchSize) {
    const batch = windows.slice(first, first + batchSize);
    const length = Math.max(...batch.map((w) => w.length));
    const rows = new Int32Array(batch.length * length).fill(PAD_ID);
    batch.forEach((w, row) => rows.set(ids.subarray(w.start, w.start + w.length), row * length));
    const nats = await (options.nats ?? tfjsNats(model))(rows, batch.length, length); // [B*T]
    batch.forEach((w, row) => {
      for (const [from, to] of w.keep) {
        for (let p = from; p < to; p++) surprisal[w.start + p] = nats[row * length + p]! / Math.LN2;
      }
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

function scoringWindows(
  mode: EvaluationMode,
  total: number,
  context: number,
  stride: number | undefined,
  patchSize: number,
): ScoringWindow[] {
  const windowAt = (start: number, keepFrom: number): ScoringWindow => {
    const length = Math.min(context, total - start);
    return { start, length, keep: [[keepFrom, length]] };
  };
  const tiles = (offset: number) => {
    const list: ScoringWindow[] = [];
    for (let start = offset; start < total; start += context) list.push(windowAt(start, 0));
    return list;
  };
  if (mode === 'windows') return tiles(0);
  if (mode === 'sliding') {
    // the rule of @megabyte/core's scoreBytes, so both score every byte alike
    return slidingWindows(total, context, stride ?? Math.max(1, Math.floor(context / 2))).map(
      ({ start, length, keepFrom }) => ({ start, length, keep: [[keepFrom, length]] }),
    );
  }
  if (patchSize < 2)
    throw new RangeError('evaluate: strided inference needs a patch model (MEGABYTE with patchSize >= 2)');
  // Two passes: windows at 0, T, 2T, ... and at P/2, P/2 + T, ...; a byte in the first half of its
  // patch sits in the second half of its patch in the shifted pass, and the other way round. The
  // first P/2 bytes of the stream exist only in the first pass, so it always keeps them. Every byte
  // is scored exactly once, each window is computed once: the cost is about 2x.
  const half = Math.floor(patchSize / 2);
  const early = (x: number) => x % patchSize < half;
  const fromFirstPass = mode === 'strided' ? early : (x: number) => !early(x) || x < half;
  return [
    ...tiles(0).map((w) => keepWhere(w, fromFirstPass)),
    ...tiles(half).map((w) => keepWhere(w, (x) => !fromFirstPass(x))),
  ].filter((w) => w.keep.length > 0);
}

/** The window with its kept ranges narrowed to the stream positions that satisfy `wanted`. */
function keepWhere(window: ScoringWindow, wanted: (position: number) => boolean): ScoringWindow {
  const keep: Array<[number, number]> = [];
  let from = -1;
  for (let p = 0; p <= window.length; p++) {
    const inside = p < window.length && wanted(window.start + p);
    if (inside && from < 0) from = p;
    if (!inside && from >= 0) {
      keep.push([from, p]);
      from = -1;
    }
  }
  return { ...window, keep };
}

/** Window nats on the model's own tfjs backend. */
function tfjsNats(model: ByteModel): WindowNats {
  return async (ids, batch, length) => {
    const nats = tf.tidy(() => model.nats(idsTensor(ids, batch, length))); // [B, T]
    try {
      return (await nats.data()) as Float32Array;
    } finally {
      nats.dispose();
    }
  };
}
