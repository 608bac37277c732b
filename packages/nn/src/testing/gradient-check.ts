import * as tf from '@tensorflow/tfjs-core';
// through the package's own export, so that plain Node gets its node build (see register-gradients.ts)
import '@megabyte/nn/gradients';

export interface GradientCheckResult {
  /** Largest |analytic - numeric| / max(|analytic|, |numeric|, floor) over the probed entries. */
  readonly maxRelativeError: number;
  readonly probes: Array<{ name: string; index: number; analytic: number; numeric: number }>;
}

/**
 * Compares tfjs's gradients of `loss` with central finite differences at a few entries of each
 * variable. Float32 only (tfjs has no float64), so `epsilon` should stay around 1e-2..1e-3 and
 * the tolerance loose enough for rounding, yet tight enough to catch a missing or wrong term.
 */
export function checkGradients(
  loss: () => tf.Scalar,
  variables: ReadonlyArray<{ name: string; variable: tf.Variable }>,
  options: { probesPerVariable?: number; epsilon?: number; floor?: number; seed?: number } = {},
): GradientCheckResult {
  const { probesPerVariable = 3, epsilon = 1e-2, floor = 1e-3 } = options;
  let seed = options.seed ?? 1;
  const nextIndex = (size: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % size;
  };
  const { grads } = tf.variableGrads(
    loss,
    variables.map((v) => v.variable),
  );
  const probes: GradientCheckResult['probes'] = [];
  let maxRelativeError = 0;
  for (const { name, variable } of variables) {
    const analyticAll = grads[variable.name]!.dataSync();
    for (let p = 0; p < probesPerVariable; p++) {
      const index = nextIndex(variable.size);
      const numeric =
        (lossWithNudge(loss, variable, index, epsilon) - lossWithNudge(loss, variable, index, -epsilon)) /
        (2 * epsilon);
      const analytic = analyticAll[index]!;
      const error = Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric), floor);
      maxRelativeError = Math.max(maxRelativeError, error);
      probes.push({ name, index, analytic, numeric });
    }
  }
  tf.dispose(Object.values(grads));
  return { maxRelativeError, probes };
}

function lossWithNudge(loss: () => tf.Scalar, variable: tf.Variable, index: number, delta: number): number {
  const original = variable.dataSync().slice();
  const nudged = original.slice();
  nudged[index] = nudged[index]! + delta;
  tf.tidy(() => variable.assign(tf.tensor(nudged, variable.shape)));
  const value = tf.tidy(() => loss().dataSync()[0]!);
  tf.tidy(() => variable.assign(tf.tensor(original, variable.shape)));
  return value;
}
