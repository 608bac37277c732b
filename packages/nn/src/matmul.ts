import * as tf from '@tensorflow/tfjs-core';

/**
 * Matrix product over the last two axes, `a` [..., n, k] times `b` [..., k, m], with optional
 * transposes. tfjs-backend-wasm runs a transposed operand 10-20x slower than a plain product (it
 * leaves XNNPACK's fast path), and tf.matMul's own gradient asks for transposed products; so on
 * such backends both the product and its gradient transpose explicitly and multiply plainly.
 */
export function matMul<T extends tf.Tensor>(a: T, b: tf.Tensor, transposeA = false, transposeB = false): T {
  if (!slowTransposedProducts()) return tf.matMul(a, b, transposeA, transposeB) as unknown as T;
  const product = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, y, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const left = transposeA ? swapLastAxes(x) : x;
    const right = transposeB ? swapLastAxes(y) : y;
    save([left, right]);
    return {
      value: tf.matMul(left, right),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [l, r] = saved as [tf.Tensor, tf.Tensor];
        const dLeft = tf.matMul(dy, swapLastAxes(r)); // d(left) = dy r^T
        const dRight = tf.matMul(swapLastAxes(l), dy); // d(right) = l^T dy
        return [transposeA ? swapLastAxes(dLeft) : dLeft, transposeB ? swapLastAxes(dRight) : dRight];
      },
    };
  });
  return product(a, b) as T;
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
