import * as tf from '@tensorflow/tfjs-core';
import { matMul } from './matmul.js';

/** Query and key positions per block: a block's scores are [B, H, 256, 256] at most. */
export const DEFAULT_ATTENTION_BLOCK = 256;

/**
 * Causal attention that never holds the full T x (past+T) score matrix: queries and keys go in
 * blocks, and each query block keeps a running maximum, a running sum of exponentials and a
 * running weighted sum of values while it walks the key blocks it can see (the online softmax
 * of flash attention). The gradient recomputes the scores block by block from the saved
 * log-sum-exp, so training memory is O(T * block) as well.
 * q [B, H, T, Dh], k and v [B, H, past + T, Dh] -> [B, H, T, Dh]; query t sees keys <= past + t.
 */
export function blockwiseCausalAttention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  past = 0,
  block = DEFAULT_ATTENTION_BLOCK,
): tf.Tensor4D {
  const attend = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [query, key, value] = args as tf.Tensor4D[];
    const save = args[3] as tf.GradSaveFunc;
    const { out, logsumexp } = forward(query!, key!, value!, past, block);
    save([query!, key!, value!, out, logsumexp]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, so, lse] = saved as [
          tf.Tensor4D,
          tf.Tensor4D,
          tf.Tensor4D,
          tf.Tensor4D,
          tf.Tensor3D,
        ];
        return backward(sq, sk, sv, so, lse, dy as tf.Tensor4D, past, block);
      },
    };
  });
  return attend(q, k, v) as tf.Tensor4D;
}

/** The blocks of queries [from, to) and the keys they see: keys [0, past + to). */
function* queryBlocks(length: number, block: number): Generator<[number, number]> {
  for (let from = 0; from < length; from += block) yield [from, Math.min(length, from + block)];
}

/** Additive causal mask [to-from, keyTo-keyFrom] for queries [from, to) against keys [keyFrom, keyTo). */
function blockMask(from: number, to: number, keyFrom: number, keyTo: number, past: number): tf.Tensor2D {
  const width = keyTo - keyFrom;
  const mask = new Float32Array((to - from) * width);
  for (let i = from; i < to; i++) {
    const firstHidden = Math.max(0, past + i + 1 - keyFrom);
    if (firstHidden < width) mask.fill(-1e9, (i - from) * width + firstHidden, (i - from + 1) * width);
  }
  return tf.tensor2d(mask, [to - from, width]);
}

/** Scaled, masked scores of one query block against one key block: [B, H, bq, bk]. */
function blockScores(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  [from, to]: [number, number],
  [keyFrom, keyTo]: [number, number],
  past: number,
): tf.Tensor4D {
  const [batch, heads, , headDim] = q.shape;
  const qi = tf.slice(q, [0, 0, from, 0], [batch, heads, to - from, headDim]);
  const kj = tf.slice(k, [0, 0, keyFrom, 0], [batch, heads, keyTo - keyFrom, headDim]);
  const scores = tf.mul(matMul(qi, kj, false, true), 1 / Math.sqrt(headDim));
  return tf.add(scores, blockMask(from, to, keyFrom, keyTo, past));
}

function forward(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  past: number,
  block: number,
): { out: tf.Tensor4D; logsumexp: tf.Tensor3D } {
  return tf.tidy(() => {
    const [batch, heads, length, headDim] = q.shape;
    const outs: tf.Tensor4D[] = [];
    const sums: tf.Tensor3D[] = [];
    for (const rows of queryBlocks(length, block)) {
      const seen = past + rows[1];
      let max: tf.Tensor4D = tf.fill([batch, heads, rows[1] - rows[0], 1], -Infinity);
      let total: tf.Tensor4D = tf.zeros([batch, heads, rows[1] - rows[0], 1]);
      let acc: tf.Tensor4D = tf.zeros([batch, heads, rows[1] - rows[0], headDim]);
      for (let keyFrom = 0; keyFrom < seen; keyFrom += block) {
        const keys: [number, number] = [keyFrom, Math.min(seen, keyFrom + block)];
        const next = tf.tidy((): Record<'max' | 'total' | 'acc', tf.Tensor4D> => {
          const scores = blockScores(q, k, rows, keys, past);
          const newMax = tf.maximum(max, tf.max(scores, -1, true));
          const probs = tf.exp(tf.sub(scores, newMax));
          const decay = tf.exp(tf.sub(max, newMax)); // rescales what the earlier key blocks summed
          const vj = tf.slice(v, [0, 0, keys[0], 0], [batch, heads, keys[1] - keys[0], headDim]);
          return {
            max: newMax as tf.Tensor4D,
            total: tf.add(tf.mul(total, decay), tf.sum(probs, -1, true)) as tf.Tensor4D,
            acc: tf.add(tf.mul(acc, decay), matMul(probs, vj)) as tf.Tensor4D,
          };
        });
        tf.dispose([max, total, acc]);
        ({ max, total, acc } = next);
      }
      outs.push(tf.div(acc, total));
      sums.push(tf.squeeze(tf.add(max, tf.log(total)), [3]) as tf.Tensor3D);
      tf.dispose([max, total, acc]);
    }
    const out = outs.length === 1 ? outs[0]! : (tf.concat(outs, 2) as tf.Tensor4D);
    const logsumexp = sums.length === 1 ? sums[0]! : (tf.concat(sums, 2) as tf.Tensor3D);
    return { out, logsumexp };
  });
}

/** dQ, dK, dV from the saved log-sum-exp, one (query block, key block) pair at a time. */
function backward(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  out: tf.Tensor4D,
  logsumexp: tf.Tensor3D,
  dOut: tf.Tensor4D,
  past: number,
  block: number,
): tf.Tensor4D[] {
  return tf.tidy(() => {
    const [batch, heads, length, headDim] = q.shape;
    const keyLength = k.shape[2];
    const scale = 1 / Math.sqrt(headDim);
    // delta_i = sum_d dOut_id out_id: the softmax gradient's row term.
    const delta = tf.sum(tf.mul(dOut, out), -1, true); // [B, H, T, 1]
    const dQs: tf.Tensor4D[] = [];
    let dK: tf.Tensor4D = tf.zeros(k.shape);
    let dV: tf.Tensor4D = tf.zeros(v.shape);
    for (const rows of queryBlocks(length, block)) {
      const size = rows[1] - rows[0];
      const at = [0, 0, rows[0], 0];
      const dOi = tf.slice(dOut, at, [batch, heads, size, headDim]);
      const lse = tf.slice(tf.expandDims(logsumexp, 3), at, [batch, heads, size, 1]);
      const di = tf.slice(delta, at, [batch, heads, size, 1]);
      const qi = tf.slice(q, at, [batch, heads, size, headDim]);
      let dQi: tf.Tensor4D = tf.zeros([batch, heads, size, headDim]);
      for (let keyFrom = 0; keyFrom < past + rows[1]; keyFrom += block) {
        const keyTo = Math.min(past + rows[1], keyFrom + block);
        const next = tf.tidy(() => {
          const probs = tf.exp(tf.sub(blockScores(q, k, rows, [keyFrom, keyTo], past), lse)); // [B, H, bq, bk]
          const kj = tf.slice(k, [0, 0, keyFrom, 0], [batch, heads, keyTo - keyFrom, headDim]);
          const vj = tf.slice(v, [0, 0, keyFrom, 0], [batch, heads, keyTo - keyFrom, headDim]);
          const dScores = tf.mul(probs, tf.sub(matMul(dOi, vj, false, true), di)) as tf.Tensor4D; // [B, H, bq, bk]
          const place = (x: tf.Tensor4D) =>
            tf.pad(x, [
              [0, 0],
              [0, 0],
              [keyFrom, keyLength - keyTo],
              [0, 0],
            ]);
          return {
            dQi: tf.add(dQi, tf.mul(matMul(dScores, kj), scale)) as tf.Tensor4D,
            dK: tf.add(
              dK,
              place(tf.mul(matMul(dScores, qi, true, false), scale) as tf.Tensor4D),
            ) as tf.Tensor4D,
            dV: tf.add(dV, place(matMul(probs, dOi, true, false) as tf.Tensor4D)) as tf.Tensor4D,
          };
        });
        tf.dispose([dQi, dK, dV]);
        ({ dQi, dK, dV } = next);
      }
      dQs.push(dQi);
    }
    const dQ = dQs.length === 1 ? dQs[0]! : (tf.concat(dQs, 2) as tf.Tensor4D);
    return [dQ, dK, dV];
  });
}
