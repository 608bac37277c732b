import * as tf from '@tensorflow/tfjs-core';

/**
 * Keys and values of the positions already seen by one attention layer, for incremental
 * decoding. The cache owns its tensors: they survive `tf.tidy` and are freed by `reset`/`dispose`.
 */
export class KVCache {
  private keys: tf.Tensor4D | undefined; // [B, H, S, Dh]
  private values: tf.Tensor4D | undefined; // [B, H, S, Dh]

  /** Number of cached positions S. */
  get length(): number {
    return this.keys?.shape[2] ?? 0;
  }

  /** Appends the new positions and returns keys and values over the whole cache. */
  append(keys: tf.Tensor4D, values: tf.Tensor4D): { keys: tf.Tensor4D; values: tf.Tensor4D } {
    const allKeys = tf.keep(this.keys ? tf.concat([this.keys, keys], 2) : tf.clone(keys));
    const allValues = tf.keep(this.values ? tf.concat([this.values, values], 2) : tf.clone(values));
    this.reset();
    this.keys = allKeys;
    this.values = allValues;
    return { keys: allKeys, values: allValues };
  }

  /** Keeps only the batch rows listed, e.g. when some sequences of a batch have finished. */
  selectRows(rows: number[]): void {
    if (!this.keys || !this.values) return;
    const index = tf.tensor1d(rows, 'int32');
    const keys = tf.keep(tf.gather(this.keys, index));
    const values = tf.keep(tf.gather(this.values, index));
    index.dispose();
    this.reset();
    this.keys = keys;
    this.values = values;
  }

  /** Keeps only the last `positions` cached positions (all of them when fewer are cached). */
  keepLast(positions: number): void {
    if (!this.keys || !this.values || this.length <= positions) return;
    const [rows, heads, length, headDim] = this.keys.shape;
    const begin = [0, 0, length - positions, 0];
    const size = [rows, heads, positions, headDim];
    const keys = tf.keep(tf.slice(this.keys, begin, size));
    const values = tf.keep(tf.slice(this.values, begin, size));
    this.reset();
    this.keys = keys;
    this.values = values;
  }

  reset(): void {
    this.keys?.dispose();
    this.values?.dispose();
    this.keys = undefined;
    this.values = undefined;
  }

  dispose(): void {
    this.reset();
  }
}
