import type { ModelConfig } from '@megabyte/core';
import { PAD_ID } from '@megabyte/patching';
import { scoringGraph } from '../graphs.js';
import { encodeModel, type GraphDef, type NodeDef, type ValueInfoDef } from '../onnx-proto.js';
import { differentiate, NodeWriter, withNormStatistics } from './gradients.js';
import { inferShapes } from './shapes.js';

/**
 * The two graphs of a training step on ONNX Runtime, built from the model's scoring graph:
 *
 * - gradients: bytes [B, T] and the parameters -> the mean cross-entropy over the bytes that are
 *   not padding (what @megabyte/core's `loss` computes) and its gradient for every parameter;
 * - update: the summed gradients of the micro-batches, the parameters and AdamW's moments -> the
 *   global gradient norm and the new parameters and moments, clipped and decayed exactly as
 *   @megabyte/trainer's AdamW and clipByGlobalNorm do it (same operations in the same order).
 *
 * Parameters are graph inputs, not initializers, so one pair of sessions serves every step.
 */

/** What the graphs need to know of a parameter. */
export interface TrainableParameter {
  readonly name: string;
  readonly shape: readonly number[];
  /** Whether weight decay applies (false for norms, biases and embeddings). */
  readonly decay: boolean;
}

/** The fixed shape of the training batches: B windows of T bytes. */
export interface BatchShape {
  readonly batch: number;
  readonly length: number;
}

/** Graph input and output names, shared by the graphs and the engine that feeds them. */
export const TRAINING_NAMES = {
  bytes: 'bytes',
  loss: 'loss',
  norm: 'norm',
  grad: (name: string) => `grad.${name}`,
  param: (name: string) => name,
  m: (name: string) => `m.${name}`,
  v: (name: string) => `v.${name}`,
  newParam: (name: string) => `new.${name}`,
  newM: (name: string) => `new_m.${name}`,
  newV: (name: string) => `new_v.${name}`,
  gradScale: 'grad_scale',
  stepSize: 'step_size',
  sqrtCorrection2: 'sqrt_correction2',
  decayFactor: 'decay_factor',
  beta1: 'beta1',
  oneMinusBeta1: 'one_minus_beta1',
  beta2: 'beta2',
  oneMinusBeta2: 'one_minus_beta2',
  eps: 'eps',
  maxNorm: 'max_norm',
} as const;

function floatInfo(name: string, shape: readonly number[], doc?: string): ValueInfoDef {
  return { name, type: 'float32', shape, ...(doc && { doc }) };
}

/** bytes [B, T] and parameters -> loss and one gradient per parameter. */
export function gradientGraph(
  config: ModelConfig,
  parameters: readonly TrainableParameter[],
  shape: BatchShape,
): GraphDef {
  if (config.dropout > 0) {
    throw new Error(
      `onnxruntime training: dropout (config dropout ${config.dropout}) is not in the training graphs yet; ` +
        'train this model with a tfjs backend (--backend wasm, webgpu, ...), or set dropout to 0',
    );
  }
  const byName = new Map(parameters.map((p) => [p.name, p]));
  const scoring = scoringGraph(config, (name) => {
    const parameter = byName.get(name);
    if (!parameter)
      throw new Error(`onnxruntime training: the scoring graph uses ${name}, which is not a parameter`);
    return { values: new Float32Array(0), shape: parameter.shape };
  });
  // Weights become inputs; LayerNormalization nodes keep their statistics for the backward pass.
  const weightInputs = scoring.initializers.filter((t) => byName.has(t.name));
  const inputs = [
    ...scoring.inputs,
    ...weightInputs.map((t) => floatInfo(t.name, t.dims, 'a parameter of the model')),
  ];
  const initializers = scoring.initializers.filter((t) => !byName.has(t.name));
  const forward: NodeDef[] = scoring.nodes.map(withNormStatistics);
  const infos = inferShapes(
    { ...scoring, inputs, initializers, nodes: forward },
    {
      [TRAINING_NAMES.bytes]: [shape.batch, shape.length],
    },
  );
  const w = new NodeWriter(infos, 'train/');
  const loss = maskedCrossEntropy(w, 'logits', TRAINING_NAMES.bytes, config.vocabSize);
  const used = weightInputs.map((t) => t.name);
  const unused = parameters.filter((p) => !used.includes(p.name)).map((p) => p.name);
  if (unused.length > 0)
    throw new Error(`onnxruntime training: the scoring graph does not use parameters ${unused.join(', ')}`);
  const grads = differentiate([...forward, ...w.nodes], w, loss, used);
  const nodes = [...forward, ...w.nodes];
  const outputs: ValueInfoDef[] = [
    floatInfo(TRAINING_NAMES.loss, [], 'mean nats per byte that is not padding'),
  ];
  nodes.push({ name: 'output_loss', opType: 'Identity', inputs: [loss], outputs: [TRAINING_NAMES.loss] });
  for (const p of parameters) {
    const out = TRAINING_NAMES.grad(p.name);
    nodes.push({ name: `output_${out}`, opType: 'Identity', inputs: [grads.get(p.name)!], outputs: [out] });
    outputs.push(floatInfo(out, p.shape));
  }
  return {
    name: 'megabyte_gradients',
    doc: `${config.kind} training: bytes [${shape.batch}, ${shape.length}] -> loss and gradients`,
    nodes,
    initializers: [...initializers, ...w.initializers],
    inputs,
    outputs,
  };
}

/**
 * Mean of -log p(byte) over the positions that are not padding, as @megabyte/core's
 * maskedCrossEntropy with its default mask. logits [B, T, V], bytes [B, T] -> scalar
 */
function maskedCrossEntropy(w: NodeWriter, logits: string, bytes: string, vocabSize: number): string {
  const [batch, length] = w.shape(bytes) as [number, number];
  const logProbs = w.op('LogSoftmax', [logits], { axis: { int: -1 } }); // [B, T, V]
  const vocabulary = w.constant(
    'int32',
    [vocabSize],
    Int32Array.from({ length: vocabSize }, (_, i) => i),
  );
  const oneHot = w.op('Cast', [w.op('Equal', [w.reshape(bytes, [batch, length, 1]), vocabulary])], {
    to: { int: 1 },
  });
  const picked = w.reduceSum(w.op('Mul', [logProbs, oneHot]), [2], false); // [B, T]: log p(byte)
  const padding = w.op('Equal', [bytes, w.constant('int32', [], Int32Array.of(PAD_ID))]);
  const mask = w.op('Cast', [w.op('Not', [padding])], { to: { int: 1 } }); // [B, T]
  const total = w.reduceSum(w.op('Mul', [picked, mask]), [0, 1], false);
  const count = w.op('Max', [w.reduceSum(mask, [0, 1], false), w.float(1)]);
  return w.op('Div', [w.op('Neg', [total]), count]);
}

/**
 * Summed gradients, parameters and moments -> global norm, new parameters and moments. Every
 * number of the optimizer comes in as a scalar computed in float64 by the caller, as the tfjs
 * AdamW computes them: grad_scale (1 / micro-batches), step_size (lr / (1 - beta1^t)),
 * sqrt_correction2 (sqrt(1 - beta2^t)), decay_factor (1 - lr * weightDecay; 1 without decay),
 * beta1, 1 - beta1, beta2, 1 - beta2, eps, and max_norm (the clip; Infinity: none). Where the
 * norm is not finite the outputs are garbage and the caller must not use them (it stops the run
 * instead, as the tfjs trainer does).
 */
export function updateGraph(parameters: readonly TrainableParameter[]): GraphDef {
  const n = TRAINING_NAMES;
  const inputs: ValueInfoDef[] = [];
  const infos = new Map<string, { type: 'float32'; shape: readonly number[] }>();
  const input = (name: string, shape: readonly number[], doc?: string) => {
    inputs.push(floatInfo(name, shape, doc));
    infos.set(name, { type: 'float32', shape });
    return name;
  };
  const gradScale = input(n.gradScale, [], '1 / micro-batches');
  const stepSize = input(n.stepSize, [], 'lr / (1 - beta1^t)');
  const sqrtCorrection2 = input(n.sqrtCorrection2, [], 'sqrt(1 - beta2^t)');
  const decayFactor = input(n.decayFactor, [], '1 - lr * weightDecay');
  const [beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, maxNorm] = [
    n.beta1,
    n.oneMinusBeta1,
    n.beta2,
    n.oneMinusBeta2,
    n.eps,
    n.maxNorm,
  ].map((name) => input(name, []));
  const w = new NodeWriter(infos, 'update/');
  const grads = parameters.map((p) => w.op('Mul', [input(n.grad(p.name), p.shape), gradScale]));
  // The norm of the per-tensor norms, as torch.nn.utils.clip_grad_norm_ (and our clip.ts) reduce them.
  const norms = grads.map((g) =>
    w.reshape(
      w.op('Sqrt', [
        w.reduceSum(
          w.op('Mul', [g, g]),
          w.shape(g).map((_, i) => i),
          false,
        ),
      ]),
      [1],
    ),
  );
  const stacked = norms.length === 1 ? norms[0]! : w.op('Concat', norms, { axis: { int: 0 } });
  const norm = w.op('Sqrt', [w.reduceSum(w.op('Mul', [stacked, stacked]), [0], false)]);
  // As clipByGlobalNorm: scale by max_norm / (norm + 1e-6) where that is below 1 and the norm finite.
  const shrink = w.op('Div', [maxNorm!, w.op('Add', [norm, w.float(1e-6)])]);
  const finite = w.op('Equal', [w.op('Sub', [norm, norm]), w.float(0)]);
  const applies = w.op('And', [finite, w.op('Less', [shrink, w.float(1)])]);
  const scale = w.op('Where', [applies, shrink, w.float(1)]);
  const clipped = grads.map((g) => w.op('Mul', [g, scale]));
  const nodes = w.nodes;
  const outputs: ValueInfoDef[] = [];
  const expose = (value: string, name: string, shape: readonly number[]) => {
    nodes.push({ name: `output_${name}`, opType: 'Identity', inputs: [value], outputs: [name] });
    outputs.push(floatInfo(name, shape));
  };
  expose(norm, n.norm, []);
  parameters.forEach((p, i) => {
    const g = clipped[i]!;
    const param = input(n.param(p.name), p.shape);
    const m = input(n.m(p.name), p.shape);
    const v = input(n.v(p.name), p.shape);
    // The same operations in the same order as AdamW.step in @megabyte/trainer.
    const decayed = p.decay ? w.op('Mul', [param, decayFactor]) : param;
    const mNext = w.op('Add', [w.op('Mul', [m, beta1!]), w.op('Mul', [g, oneMinusBeta1!])]);
    const vNext = w.op('Add', [w.op('Mul', [v, beta2!]), w.op('Mul', [w.op('Mul', [g, g]), oneMinusBeta2!])]);
    const denom = w.op('Add', [w.op('Div', [w.op('Sqrt', [vNext]), sqrtCorrection2]), eps!]);
    const next = w.op('Sub', [decayed, w.op('Mul', [w.op('Div', [mNext, denom]), stepSize])]);
    expose(next, n.newParam(p.name), p.shape);
    expose(mNext, n.newM(p.name), p.shape);
    expose(vNext, n.newV(p.name), p.shape);
  });
  return {
    name: 'megabyte_adamw',
    doc: 'global-norm clipping and AdamW with decoupled weight decay',
    nodes,
    initializers: w.initializers,
    inputs,
    outputs,
  };
}

/** A graph as the bytes of an ONNX model file (what InferenceSession.create takes). */
export function encodeGraph(graph: GraphDef): Uint8Array {
  return encodeModel({ graph, producerName: 'megabyte-ts', producerVersion: '0' });
}
