// The decoder interface on its own, so that the tfjs decoders (decoder.ts) and the window they
// share (sliding-window-decoder.ts) both depend on it rather than on each other.

/**
 * Feeds bytes to a model one step at a time and reads the logits of the next byte. A batch of
 * sequences moves in lockstep: every sequence holds the same number of bytes, so their caches stay
 * rectangular and the positions line up. Each call must be awaited before the next.
 */
export interface IncrementalDecoder {
  /** Sequences decoded together. */
  readonly batchSize: number;
  /** Bytes fed to each sequence so far (prompt and pushed), including any that slid out of the context. */
  readonly length: number;
  /** Index of the oldest byte still in the model's context; it moves when the window slides. */
  readonly windowStart: number;
  /** How many times the context filled up and was re-encoded from a shorter window. */
  readonly reencodes: number;
  /** Starts over from prompts of equal length (any length, 0 included). */
  prime(prompts: readonly ArrayLike<number>[]): Promise<void>;
  /** Logits [V] of the next byte of each sequence, as of the last `prime` or `push`. */
  logits(): readonly Float32Array[];
  /** Appends one id to each sequence and computes the next logits. */
  push(ids: readonly number[]): Promise<void>;
  /** Keeps only the sequences listed (e.g. drops the finished ones); they are renumbered 0, 1, ... */
  keepRows(rows: readonly number[]): void;
  /** Frees the caches. */
  dispose(): void;
}

export interface DecoderOptions {
  /**
   * Use KV caches (default). `false` runs the full forward pass over the context for every byte:
   * the slow reference that the cached path must agree with.
   */
  readonly cache?: boolean;
  /**
   * Patches (bytes for the baseline, whose patch is one byte) dropped from the front when the
   * context is full. Default: half the context. Each slide re-encodes the rest of the context in
   * one pass, once every `slide` patches: a small slide keeps more context and re-encodes more often.
   */
  readonly slide?: number;
}
