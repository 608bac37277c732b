import * as tf from '@tensorflow/tfjs-core';
import { type Gradients, gradientEntries } from './clip.js';

/**
 * What the optimizer needs of a parameter. The model's named parameters have this shape, so they
 * can be passed as they are.
 */
export interface OptimizerParameter {
  /** Unique name; gradients and optimizer state are keyed by it. */
  name: string;
  variable: tf.Variable;
  /** Whether weight decay applies (false for norms, biases and embeddings). */
  decay: boolean;
}

export interface AdamWOptions {
  /** Learning rate used when `step` is called without one; default 1e-3 (PyTorch's). */
  lr?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.98, as in the MEGABYTE paper (PyTorch's default is 0.999). */
  beta2?: number;
  /** Added to sqrt(v̂); default 1e-8. */
  eps?: number;
  /** Decoupled weight decay, multiplied by the learning rate; default 0.1. */
  weightDecay?: number;
}

/**
 * Everything needed to resume exactly: the update count and, per parameter, the two moments under
 * `optimizer.m.<name>` and `optimizer.v.<name>` (a flat map, ready for a safetensors file).
 */
export interface AdamWState {
  step: number;
  tensors: Map<string, tf.Tensor>;
}

const M_PREFIX = 'optimizer.m.';
const V_PREFIX = 'optimizer.v.';

interface Moments {
  m: tf.Tensor;
  v: tf.Tensor;
}

function checkOption(name: string, value: number, ok: boolean, expected: string): void {
  if (!(Number.isFinite(value) && ok))
    throw new RangeError(`AdamW: ${name} must be ${expected}, got ${value}`);
}

function checkLearningRate(lr: number): void {
  checkOption('lr', lr, lr >= 0, 'a finite number >= 0');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function listNames(names: string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
 * Regularization"), in the order PyTorch's `torch.optim.AdamW` uses, for step t (1-based):
 *
 *   p ← p · (1 − lr·wd)                      only when the parameter has `decay: true`
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
 *
 * so decay uses the parameter before this step's Adam update, and eps is added to sqrt(v̂), not
 * to v. A parameter with no gradient in a step is skipped entirely, decay included, as in PyTorch;
 * its moments are created on its first gradient.
 */
export class AdamW {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private updates = 0;
  private readonly moments = new Map<string, Moments>();

  constructor(options: AdamWOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.98;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.1;
    checkLearningRate(this.lr);
    checkOption('beta1', this.beta1, this.beta1 >= 0 && this.beta1 < 1, 'in [0, 1)');
    checkOption('beta2', this.beta2, this.beta2 >= 0 && this.beta2 < 1, 'in [0, 1)');
    checkOption('eps', this.eps, this.eps >= 0, 'a finite number >= 0');
    checkOption('weightDecay', this.weightDecay, this.weightDecay >= 0, 'a finite number >= 0');
  }

  /** Updates applied so far (the t of the bias correction is this plus one on the next step). */
  get iterations(): number {
    return this.updates;
  }

  /**
   * Applies one update in place. `lr` overrides the constructor's rate for this step (a schedule
   * sets it). Gradients are checked against the parameters before any variable changes: a
   * gradient with no parameter, or of the wrong shape, is an error.
   */
  step(params: readonly OptimizerParameter[], grads: Gradients, lr: number = this.lr): void {
    checkLearningRate(lr);
    const byName = new Map<string, OptimizerParameter>();
    for (const param of params) {
      if (byName.has(param.name)) throw new Error(`AdamW.step: parameter "${param.name}" is listed twice`);
      byName.set(param.name, param);
    }
    const updates: Array<[OptimizerParameter, tf.Tensor]> = [];
    for (const [name, grad] of gradientEntries(grads)) {
      const param = byName.get(name);
      if (param === undefined) {
        throw new Error(
          `AdamW.step: gradient "${name}" matches no parameter; pass that parameter or drop the gradient`,
        );
      }
      if (!sameShape(grad.shape, param.variable.shape)) {
        throw new Error(
          `AdamW.step: gradient "${name}" has shape [${grad.shape}] but the parameter has [${param.variable.shape}]`,
        );
      }
      updates.push([param, grad]);
    }

    const t = this.updates + 1;
    // Bias corrections in float64 on the CPU, rounded once when they meet the tensors.
    const stepSize = lr / (1 - this.beta1 ** t);
    const sqrtCorrection2 = Math.sqrt(1 - this.beta2 ** t);
    const decayFactor = 1 - lr * this.weightDecay;
    for (const [param, grad] of updates) {
      const old = this.moments.get(param.name);
      const next = tf.tidy(() => {
        const p = param.variable;
        const decayed = param.decay && this.weightDecay > 0 ? tf.mul(p, decayFactor) : p;
        const m = old === undefined ? tf.zerosLike(p) : old.m;
        const v = old === undefined ? tf.zerosLike(p) : old.v;
        const mNext = tf.add(tf.mul(m, this.beta1), tf.mul(grad, 1 - this.beta1));
        const vNext = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(grad), 1 - this.beta2));
        const denom = tf.add(tf.div(tf.sqrt(vNext), sqrtCorrection2), this.eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(mNext, denom), stepSize)));
        return { m: mNext, v: vNext };
      });
      this.moments.set(param.name, next);
      old?.m.dispose();
      old?.v.dispose();
    }
    this.updates = t;
  }

  /**
   * A snapshot for checkpoints. The tensors are copies owned by the caller: dispose them once
   * written; later steps do not change them.
   */
  state(): AdamWState {
    return adamWState(this.updates, this.moments);
  }

  /**
   * Restores a snapshot from {@link state}, checked against `params` so that a checkpoint of
   * another model fails here, by name, rather than as a shape error deep in a step. After a step
   * every parameter has moments, so a parameter without them is reported as missing. Nothing
   * changes unless the whole state is valid; the given tensors are copied, so the caller keeps
   * ownership of them.
   */
  loadState(
    state: AdamWState | { step: number; tensors: Readonly<Record<string, tf.Tensor>> },
    params: readonly OptimizerParameter[],
  ): void {
    const { step, moments } = readAdamWState(state, params);
    this.disposeMoments();
    for (const [name, { m, v }] of moments) this.moments.set(name, { m: tf.clone(m), v: tf.clone(v) });
    this.updates = step;
  }

  /** Frees the moments; the optimizer can keep stepping, starting from fresh moments. */
  dispose(): void {
    this.disposeMoments();
    this.updates = 0;
  }

  private disposeMoments(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }
}

/**
 * The moments of a snapshot taken by `AdamW.state()` (or an engine's equivalent), checked against
 * `params` so that a checkpoint of another model fails here, by name, rather than as a shape error
 * deep in a step. After a step every parameter has moments, so a parameter without them is
 * reported as missing. The tensors returned are the snapshot's own.
 */
export function readAdamWState(
  state: AdamWState | { step: number; tensors: Readonly<Record<string, tf.Tensor>> },
  params: readonly { name: string; variable: tf.Variable }[],
): { step: number; moments: Map<string, { m: tf.Tensor; v: tf.Tensor }> } {
  if (!(Number.isInteger(state.step) && state.step >= 0)) {
    throw new RangeError(`AdamW.loadState: step must be an integer >= 0, got ${state.step}`);
  }
  const variables = new Map(params.map((p) => [p.name, p.variable] as const));
  const found = new Map<string, Partial<Moments>>();
  const problems: string[] = [];
  for (const [key, tensor] of gradientEntries(state.tensors)) {
    const which = key.startsWith(M_PREFIX) ? 'm' : key.startsWith(V_PREFIX) ? 'v' : undefined;
    if (which === undefined) {
      problems.push(`unexpected entry "${key}" (expected ${M_PREFIX}<param> or ${V_PREFIX}<param>)`);
      continue;
    }
    const name = key.slice((which === 'm' ? M_PREFIX : V_PREFIX).length);
    const variable = variables.get(name);
    if (variable === undefined) {
      problems.push(`extra entry "${key}": no parameter is named "${name}"`);
      continue;
    }
    if (!sameShape(tensor.shape, variable.shape) || tensor.dtype !== variable.dtype) {
      problems.push(
        `entry "${key}" is ${tensor.dtype} [${tensor.shape}], expected ${variable.dtype} [${variable.shape}]`,
      );
      continue;
    }
    found.set(name, { ...found.get(name), [which]: tensor });
  }
  const unpaired = [...found].filter(([, mv]) => (mv.m === undefined) !== (mv.v === undefined));
  for (const [name, mv] of unpaired) {
    problems.push(`"${name}" has only ${mv.m === undefined ? V_PREFIX : M_PREFIX}${name}, not both moments`);
  }
  const missing = state.step === 0 ? [] : params.map((p) => p.name).filter((n) => !found.has(n));
  if (missing.length > 0) problems.push(`missing moments for ${listNames(missing)}`);
  if (state.step === 0 && found.size > 0) problems.push('step is 0 but moments are present');
  if (problems.length > 0) {
    throw new Error(
      `AdamW.loadState: the optimizer state does not fit these parameters: ${problems.join('; ')}`,
    );
  }

  return {
    step: state.step,
    moments: new Map([...found].map(([name, { m, v }]) => [name, { m: m!, v: v! }])),
  };
}

/** A snapshot of AdamW's moments, keyed as checkpoints store them; the tensors are copies. */
export function adamWState(
  step: number,
  moments: ReadonlyMap<string, { readonly m: tf.Tensor; readonly v: tf.Tensor }>,
): AdamWState {
  const tensors = new Map<string, tf.Tensor>();
  for (const [name, { m, v }] of moments) {
    tensors.set(M_PREFIX + name, tf.clone(m));
    tensors.set(V_PREFIX + name, tf.clone(v));
  }
  return { step, tensors };
}
