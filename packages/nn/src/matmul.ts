import * as tf from '@tensorflow/tfjs-core';

/**
 * Matrix product over the last two axes, `a` [..., n, k] times `b` [..., k, m], with optional
 * transposes. tfjs-backend-wasm runs a transposed operand 10-20x slower than a plain product (it
 * leaves XNNPACK's fast path), and tf.matMul's own gradient asks for transposed products; so on
 * such backends both the product and its gradient transpose explicitly and multiply plainly, and
 * large batched products go matrix by matrix (see `plainProduct`).
 */
export function matMul<T extends tf.Tensor>(a: T, b: tf.Tensor, transposeA = false, transposeB = false): T {
  if (!slowTransposedProducts()) return tf.matMul(a, b, transposeA, transposeB) as unknown as T;
  const product = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const left = transposeA ? swapLastAxes(x) : x;
    const right = transposeB ? swapLastAxes(y) : y;
    save([left, right]);
    return {
      value: plainProduct(left, right),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [l, r] = saved as [tf.Tensor, tf.Tensor];
        const dLeft = plainProduct(dy, swapLastAxes(r)); // d(left) = dy r^T
        const dRight = plainProduct(swapLastAxes(l), dy); // d(right) = l^T dy
        return [transposeA ? swapLastAxes(dLeft) : dLeft, transposeB ? swapLastAxes(dRight) : dRight];
      },
    };
  });
  return product(a, b) as T;
}

/**
 * Multiply-adds per matrix from which a batched product runs as a loop of 2-D products on wasm.
 * Measured there: [8, 2048, 64] x [8, 64, 2048] took 5.8 s batched and 0.66 s looped, but
 * [32, 64, 32] x [32, 32, 64] 3.4 ms batched and 32 ms looped, and inside a whole model the loop
 * already lost at [32, 256, 32] x [32, 32, 256] (2M multiply-adds per matrix).
 */
const LOOP_ABOVE_MULTIPLY_ADDS = 1 << 24;

/** a [..., n, k] x b [..., k, m] with the same leading axes, no transposes. */
function plainProduct(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const [n, k] = a.shape.slice(-2) as [number, number];
  const m = b.shape[b.rank - 1]!;
  const leading = a.shape.slice(0, -2);
  const sameLeading = b.rank === a.rank && leading.every((size, i) => size === b.shape[i]);
  if (a.rank <= 2 || !sameLeading || n * k * m < LOOP_ABOVE_MULTIPLY_ADDS) return tf.matMul(a, b);
  return tf.tidy(() => {
    const rights = tf.unstack(tf.reshape(b, [-1, k, m]));
    const products = tf
      .unstack(tf.reshape(a, [-1, n, k]))
      .map((left, i) => tf.matMul(left as tf.Tensor2D, rights[i] as tf.Tensor2D));
    return tf.reshape(tf.stack(products), [...leading, n, m]);
  });
}

function swapLastAxes(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const last = perm.length - 1;
  [perm[last - 1], perm[last]] = [perm[last]!, perm[last - 1]!];
  return tf.transpose(x, perm);
}

const SLOW_TRANSPOSED_PRODUCTS = new Set(['wasm']);

function slowTransposedProducts(): boolean {
  return SLOW_TRANSPOSED_PRODUCTS.has(tf.getBackend());
}
