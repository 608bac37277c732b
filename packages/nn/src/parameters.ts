import * as tf from '@tensorflow/tfjs-core';
import type { Initializer, ParameterSpec } from './blocks.js';

export type { Initializer } from './blocks.js';

/** A trainable tensor with the stable hierarchical name checkpoints use. */
export interface NamedParameter {
  /** e.g. `global.layers.3.attn.wq` */
  readonly name: string;
  readonly variable: tf.Variable;
  /** Whether weight decay applies: false for norms, biases and embeddings. */
  readonly decay: boolean;
}

/**
 * Creates the parameters of a model under hierarchical names. Each parameter's initial values
 * come from a seed derived from the model seed and the parameter's name, so initialisation does
 * not depend on the order in which layers are built.
 */
export class ParameterStore {
  private constructor(
    private readonly seed: number,
    private readonly prefix: string,
    private readonly created: NamedParameter[],
  ) {}

  static create(seed: number): ParameterStore {
    return new ParameterStore(seed, '', []);
  }

  /** A view that creates parameters under `prefix.name`. */
  scope(name: string | number): ParameterStore {
    return new ParameterStore(this.seed, this.qualify(String(name)), this.created);
  }

  add(name: string, shape: number[], init: Initializer, options: { decay: boolean }): tf.Variable {
    const fullName = this.qualify(name);
    if (this.created.some((p) => p.name === fullName)) {
      throw new Error(`parameter ${fullName} is defined twice`);
    }
    const initial = initialValues(shape, init, seedFor(this.seed, fullName));
    const variable = tf.variable(initial, true);
    initial.dispose();
    this.created.push({ name: fullName, variable, decay: options.decay });
    return variable;
  }

  /** Every parameter created through this store or any of its scopes, in creation order. */
  parameters(): NamedParameter[] {
    return [...this.created];
  }

  private qualify(name: string): string {
    return this.prefix === '' ? name : `${this.prefix}.${name}`;
  }
}

/** The variables of a model definition's parameters (see `ParameterSpec`), each seeded by its name. */
export function createParameters(specs: readonly ParameterSpec[], seed: number): NamedParameter[] {
  const store = ParameterStore.create(seed);
  for (const p of specs) store.add(p.name, [...p.shape], p.init, { decay: p.decay });
  return store.parameters();
}

/** Normal initialisation truncated at two standard deviations, as in the paper. */
function initialValues(shape: number[], init: Initializer, seed: number): tf.Tensor {
  switch (init.kind) {
    case 'normal':
      return tf.truncatedNormal(shape, 0, init.std, 'float32', seed);
    case 'zeros':
      return tf.zeros(shape);
    case 'ones':
      return tf.ones(shape);
  }
}

/** FNV-1a over the name, mixed with the model seed: a stable per-parameter seed. */
export function seedFor(seed: number, name: string): number {
  let hash = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return hash;
}

export function parameterCount(parameters: readonly NamedParameter[]): number {
  return parameters.reduce((sum, p) => sum + p.variable.size, 0);
}

export function disposeParameters(parameters: readonly NamedParameter[]): void {
  for (const p of parameters) p.variable.dispose();
}
