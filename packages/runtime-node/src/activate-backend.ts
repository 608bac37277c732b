import { RuntimeUnavailableError } from '@megabyte/core';
import type * as TfCore from '@tensorflow/tfjs-core';
import { errorMessage } from './errors.js';

/**
 * Makes `backend` the active backend of `tf`'s engine and proves it computes.
 *
 * `tf.setBackend` reports a failed initialisation by returning false (the cause goes to
 * console.warn), and `tf.getBackend()` can still name the failed backend afterwards, so both are
 * checked and a tiny op is run on it.
 */
export async function activateBackend(tf: typeof TfCore, backend: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(backend);
    await tf.ready();
  } catch (cause) {
    throw new RuntimeUnavailableError(backend, `tf.setBackend('${backend}') threw: ${errorMessage(cause)}`, {
      cause,
    });
  }
  const active = tf.getBackend();
  if (!ok || active !== backend) {
    throw new RuntimeUnavailableError(
      backend,
      `tf.setBackend('${backend}') did not make it the active backend (active: '${active}'); ` +
        'TensorFlow.js printed the cause above.',
    );
  }
  const sum = tf.tidy(() => tf.add(tf.scalar(2), tf.scalar(3)));
  const [value] = await sum.data();
  sum.dispose();
  if (value !== 5) {
    throw new RuntimeUnavailableError(backend, `the '${backend}' backend computed 2 + 3 = ${value}.`);
  }
}
