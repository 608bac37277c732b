import type { ModelConfigInput } from '@megabyte/core';
import { PAD_ID } from '@megabyte/patching';
import { scoringGraph } from '../graphs.js';
import {
  encodeModel,
  type GraphDef,
  type NodeDef,
  type TensorDef,
  type ValueInfoDef,
} from '../onnx-proto.js';
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
  nats: 'nats',
  norm: 'norm',
  grad: (name: string) => `grad.${name}`,
  /** The scoring graph names each weight after its parameter. */
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

/** The scoring graph of a batch shape with the parameters as inputs, ready for nodes to be added. */
interface Forward {
  readonly nodes: NodeDef[];
  readonly inputs: ValueInfoDef[];
  readonly initializers: TensorDef[];
  readonly writer: NodeWriter;
  /** -ln p(byte) of every position [B, T]. */
  readonly nats: string;
}

function forwardGraph(
  config: ModelConfigInput,
  parameters: readonly TrainableParameter[],
  shape: BatchShape,
): Forward {
  const byName = new Map(parameters.map((p) => [p.name, p]));
  const scoring = scoringGraph(config, (name) => {
    const parameter = byName.get(name);
    if (!parameter)
      throw new Error(`onnxruntime training: the scoring graph uses ${name}, which is not a parameter`);
    return { values: new Float32Array(0), shape: parameter.shape };
  });
  const unused = parameters.filter((p) => !scoring.initializers.some((t) => t.name === p.name));
  if (unused.length > 0)
    throw new Error(
      `onnxruntime training: the scoring graph does not use parameters ${unused.map((p) => p.name).join(', ')}`,
    );
  // Weights become inputs; LayerNormalization nodes keep their statistics for the backward pass.
  const inputs = [
    ...scoring.inputs,
    ...parameters.map((p) => floatInfo(p.name, p.shape, 'a parameter of the model')),
  ];
  const initializers = scoring.initializers.filter((t) => !byName.has(t.name));
  const nodes = scoring.nodes.map(withNormStatistics);
  const infos = inferShapes(
    { ...scoring, inputs, initializers, nodes },
    { [TRAINING_NAMES.bytes]: [shape.batch, shape.length] },
  );
  const writer = new NodeWriter(infos, 'train/');
  const nats = byteNats(writer, 'logits', TRAINING_NAMES.bytes, config.vocabSize);
  return { nodes, inputs, initializers, writer, nats };
}

/** A graph from its forward part, the nodes added to it and Identity nodes naming its outputs. */
function finish(
  forward: Forward,
  name: string,
  doc: string,
  outputs: readonly { value: string; info: ValueInfoDef }[],
): GraphDef {
  const nodes = [...forward.nodes, ...forward.writer.nodes];
  for (const { value, info } of outputs)
    nodes.push({ name: `output_${info.name}`, opType: 'Identity', inputs: [value], outputs: [info.name] });
  return {
    name,
    doc,
    nodes,
    initializers: [...forward.initializers, ...forward.writer.initializers],
    inputs: forward.inputs,
    outputs: outputs.map((o) => o.info),
  };
}

/** bytes [B, T] and parameters -> loss and one gradient per parameter. */
export function gradientGraph(
  config: ModelConfigInput,
  parameters: readonly TrainableParameter[],
  shape: BatchShape,
): GraphDef {
  if (config.dropout > 0) {
    throw new Error(
      `onnxruntime training: dropout (config dropout ${config.dropout}) is not in the training graphs yet; ` +
        'train this model with a tfjs backend (--backend wasm, webgpu, ...), or set dropout to 0',
    );
  }
  const forward = forwardGraph(config, parameters, shape);
  const w = forward.writer;
  const loss = maskedMean(w, forward.nats, TRAINING_NAMES.bytes);
  const grads = differentiate(
    [...forward.nodes, ...w.nodes],
    w,
    loss,
    parameters.map((p) => p.name),
  );
  return finish(
    forward,
    'megabyte_gradients',
    `${config.kind} training: bytes [${shape.batch}, ${shape.length}] -> loss and gradients`,
    [
      { value: loss, info: floatInfo(TRAINING_NAMES.loss, [], 'mean nats per byte that is not padding') },
      ...parameters.map((p) => ({
        value: grads.get(p.name)!,
        info: floatInfo(TRAINING_NAMES.grad(p.name), p.shape),
      })),
    ],
  );
}

/** bytes [B, T] and parameters -> -ln p(byte) of every position [B, T] (what evaluation reads). */
export function natsGraph(
  config: ModelConfigInput,
  parameters: readonly TrainableParameter[],
  shape: BatchShape,
): GraphDef {
  const forward = forwardGraph(config, parameters, shape);
  return finish(
    forward,
    'megabyte_nats',
    `${config.kind} per-byte nats of bytes [${shape.batch}, ${shape.length}]`,
    [
      {
        value: forward.nats,
        info: floatInfo(TRAINING_NAMES.nats, [shape.batch, shape.length], '-ln p(byte)'),
      },
    ],
  );
}

/** -ln p(byte) at every position: logits [B, T, V], bytes [B, T] -> [B, T] */
function byteNats(w: NodeWriter, logits: string, bytes: string, vocabSize: number): string {
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
  return w.op('Neg', [w.reduceSum(w.op('Mul', [logProbs, oneHot]), [2], false)]);
}

/**
 * Mean nats over the positions that are not padding, as @megabyte/core's maskedCrossEntropy with
 * its default mask. nats [B, T], bytes [B, T] -> scalar
 */
function maskedMean(w: NodeWriter, nats: string, bytes: string): string {
  const padding = w.op('Equal', [bytes, w.constant('int32', [], Int32Array.of(PAD_ID))]);
  const mask = w.op('Cast', [w.op('Not', [padding])], { to: { int: 1 } }); // [B, T]
  const total = w.reduceSum(w.op('Mul', [nats, mask]), [0, 1], false);
  const count = w.op('Max', [w.reduceSum(mask, [0, 1], false), w.float(1)]);
  return w.op('Div', [total, count]);
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
  const grads = parameters.map((p) => input(n.grad(p.name), p.shape));
  // The global norm of the mean gradient (as clipByGlobalNorm measures it): one read of each gradient.
  const squares = grads.map((g) => w.op('ReduceSumSquare', [g], { keepdims: { int: 0 } }));
  const sumOfSquares = squares.length === 1 ? squares[0]! : w.op('Sum', squares);
  const norm = w.op('Mul', [w.op('Sqrt', [sumOfSquares]), gradScale]);
  // As clipByGlobalNorm: scale by max_norm / (norm + 1e-6) where that is below 1 and the norm finite.
  const shrink = w.op('Div', [maxNorm!, w.op('Add', [norm, w.float(1e-6)])]);
  const finite = w.op('Equal', [w.op('Sub', [norm, norm]), w.float(0)]);
  const applies = w.op('And', [finite, w.op('Less', [shrink, w.float(1)])]);
  const factor = w.op('Mul', [gradScale, w.op('Where', [applies, shrink, w.float(1)])]); // summed -> clipped mean
  // AdamW.step's update with the scalars folded together, so that each moment and parameter is
  // read and written in few passes (the update is memory-bound): m' = b1 m + (1 - b1) g,
  // v' = b2 v + (1 - b2) g^2, p' = p decay - m' / (sqrt(v') / sqrt(1 - b2^t) + eps) * stepSize.
  const mScale = w.op('Mul', [factor, oneMinusBeta1!]);
  const vScale = w.op('Mul', [w.op('Mul', [factor, factor]), oneMinusBeta2!]);
  const rootScale = w.op('Reciprocal', [sqrtCorrection2]);
  const nodes = w.nodes;
  const outputs: ValueInfoDef[] = [];
  const expose = (value: string, name: string, shape: readonly number[]) => {
    nodes.push({ name: `output_${name}`, opType: 'Identity', inputs: [value], outputs: [name] });
    outputs.push(floatInfo(name, shape));
  };
  expose(norm, n.norm, []);
  parameters.forEach((p, i) => {
    const g = grads[i]!;
    const param = input(n.param(p.name), p.shape);
    const m = input(n.m(p.name), p.shape);
    const v = input(n.v(p.name), p.shape);
    const mNext = w.op('Add', [w.op('Mul', [m, beta1!]), w.op('Mul', [g, mScale])]);
    const vNext = w.op('Add', [w.op('Mul', [v, beta2!]), w.op('Mul', [w.op('Mul', [g, g]), vScale])]);
    const denom = w.op('Add', [w.op('Mul', [w.op('Sqrt', [vNext]), rootScale]), eps!]);
    const decayed = p.decay ? w.op('Mul', [param, decayFactor]) : param;
    const next = w.op('Sub', [decayed, w.op('Div', [w.op('Mul', [mNext, stepSize]), denom])]);
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
