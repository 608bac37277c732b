/**
 * What the model's one definition asks of an executor. The forward code (blocks.ts here, the
 * patch level in @megabyte/global, the byte level in @megabyte/local, the level loop and the
 * baseline in @megabyte/core) is written once against this interface: `TfjsOps` runs each op
 * eagerly on tfjs tensors, and @megabyte/onnx's `GraphOps` records it as ONNX nodes, so the
 * exported graphs are the model's own code, not a copy of it.
 *
 * `T` is a tensor. `S` is a size that may only be known when the model runs (a sequence length,
 * a cache length): a number under tfjs, a one-element int64 tensor in a graph. Sizes fixed by the
 * config are plain numbers everywhere.
 *
 * No module that implements the definition imports a tensor library: an ONNX user never loads tfjs.
 */
export interface Ops<T, S> {
  /** A parameter by its checkpoint name, e.g. `global.layers.0.attn.wq.weight`. */
  weight(name: string): T;

  // Sizes.
  /** The size of `x` along `axis` (counted from the front). */
  size(x: T, axis: number): S;
  plus(a: S | number, b: S | number): S;
  minus(a: S | number, b: S | number): S;
  times(a: S | number, b: S | number): S;
  /** a / b, b dividing a. */
  over(a: S | number, b: S | number): S;
  /** 1 if `a` is 0, else 0. */
  isZero(a: S | number): S;

  // Elementwise.
  add(a: T, b: T | number): T;
  mul(a: T, b: T | number): T;
  tanh(x: T): T;
  relu(x: T): T;
  /** Dropout on a training pass (the identity elsewhere). */
  dropout(x: T): T;

  // Products and normalisation.
  /** a [..., n, k] times b [k, m] (or [..., k, m]) -> [..., n, m] */
  matMul(a: T, b: T): T;
  /** a [..., k] times the transpose of b [m, k] -> [..., m] (a tied output head) */
  matMulTransposed(a: T, b: T): T;
  /** Over the last axis, epsilon 1e-5: LayerNorm with gain and bias, RMSNorm with gain only. */
  layerNorm(x: T, gain: T, bias: T): T;
  rmsNorm(x: T, gain: T): T;
  /**
   * softmax(q k^T / sqrt(Dh) + mask) v, masked as `frame` says (the same for every layer of a
   * stack): the n queries follow `frame.past` earlier keys and see keys up to their own position,
   * and `frame.keyMask` hides keys from whole rows.
   * q [B, H, n, Dh], k and v [B, H, past+n, Dh] -> [B, H, n, Dh]
   */
  causalAttention(q: T, k: T, v: T, headDim: number, frame: AttentionFrame<T, S>): T;
  /**
   * The additive key mask of cross-patch attention [R, 1, 1, K] for the R rows of `rows` (any
   * tensor with rows on axis 0) and `keys` keys: -1e9 over the first `hidden` keys of row i if row
   * `firstRow + i` starts a sequence of `perSequence` rows (and of row 0, which has no row before
   * it here), 0 elsewhere.
   */
  sequenceStartMask(rows: T, perSequence: S | number, firstRow: number, hidden: number, keys: S | number): T;

  // Layout.
  /** Row lookup: table [V, D], ids [...] -> [..., D] */
  gather(table: T, ids: T): T;
  /** 0 keeps that axis' size, -1 infers one axis. */
  reshape(x: T, shape: readonly number[]): T;
  transpose(x: T, perm: readonly number[]): T;
  concat(xs: readonly T[], axis: number): T;
  /** x[start:end] along `axis`; a negative number counts from the end; no end: to the end. */
  slice(x: T, axis: number, start: S | number, end?: S | number): T;
  /** x [B, T, C] with `before` zero positions in front: [B, before+T, C] */
  padFront(x: T, before: number): T;
  /** Zeros of a shape fixed by the config. */
  zeros(shape: readonly number[]): T;
  /** A float32 constant, row-major, of a shape fixed by the config. */
  constant(values: Float32Array, shape: readonly number[]): T;
  /** vector [W] -> [rows, 1, W] */
  repeatRows(vector: T, rows: S | number): T;
  /** `atStart` where `position` is 0, else `elsewhere` (same shape). */
  whereZero(position: S | number, atStart: T, elsewhere: T): T;
}

/**
 * One attention layer's keys and values of earlier positions, for incremental decoding: the new
 * ones are appended and the whole cache comes back (tfjs: @megabyte/nn's KVCache; a graph: the
 * layer's past inputs, whose concatenation becomes its present outputs).
 */
export interface LayerCache<T, S = number> {
  /** Positions cached before this step. */
  readonly length: S | number;
  append(keys: T, values: T): { keys: T; values: T };
}

/** How every attention layer of a stack masks, worked out once per stack (see `attentionFrame`). */
export interface AttentionFrame<T, S> {
  /** The new positions n. */
  readonly queries: S | number;
  /** Keys before the first new position: cached ones, or the previous patch's with cross-patch attention. */
  readonly past: S | number;
  /** Cross-patch attention: positions of the previous row prepended to each row's keys. */
  readonly previousRow?: number;
  /** [R, 1, 1, past+n]: keys hidden from whole rows. */
  readonly keyMask?: T;
}
