import type { ByteModel } from '@megabyte/core';
import {
  type BatchShape,
  encodeGraph,
  gradientGraph,
  TRAINING_NAMES as NAMES,
  natsGraph,
  type OrtModule,
  type TrainableParameter,
  updateGraph,
} from '@megabyte/onnx';
import { PAD_ID } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import { type AdamWState, adamWState, readAdamWState } from './adamw.js';
import {
  type EngineStep,
  type MicroBatch,
  type OptimizerSettings,
  type StepSettings,
  stepApplies,
  type TrainingEngine,
  type TrainingEngineFactory,
} from './engine.js';
import type { WindowNats } from './evaluate.js';

type Session = Awaited<ReturnType<OrtModule['InferenceSession']['create']>>;
type Tensor = InstanceType<OrtModule['Tensor']>;
type Feeds = Record<string, Tensor>;

export interface OnnxRuntimeEngineOptions {
  /** `onnxruntime-node` or `onnxruntime-web` (`import * as ort from ...`). */
  readonly ort: OrtModule;
  /** Default `cpu` (onnxruntime-node); `wasm` or `webgpu` with onnxruntime-web. */
  readonly executionProvider?: 'cpu' | 'wasm' | 'webgpu';
  /** Threads of each operator (onnxruntime-node); default: onnxruntime's, one per core. */
  readonly threads?: number;
}

/**
 * Training steps on ONNX Runtime: the model's gradient graph and an AdamW graph (see
 * @megabyte/onnx's training graphs) run natively and multi-threaded in onnxruntime-node, or on
 * wasm / WebGPU in onnxruntime-web. Pass it to the Trainer as `hooks.engine`.
 */
export function onnxRuntimeEngine(options: OnnxRuntimeEngineOptions): TrainingEngineFactory {
  return (model, optimizer) => new OnnxRuntimeEngine(model, optimizer, options);
}

/**
 * Per-byte nats of windows on ONNX Runtime with the model's current weights, read once: pass it to
 * `evaluateStream` as `nats` to evaluate there instead of on the model's tfjs backend.
 */
export async function onnxRuntimeScorer(
  model: ByteModel,
  options: OnnxRuntimeEngineOptions,
): Promise<WindowNats> {
  const sessions = new OnnxRuntimeSessions(model, options);
  const weights = await readWeights(model);
  return (ids, batch, length) => sessions.nats(weights, ids, { batch, length });
}

interface Moments {
  m: Float32Array;
  v: Float32Array;
}

async function readWeights(model: ByteModel): Promise<Map<string, Float32Array>> {
  const weights = new Map<string, Float32Array>();
  for (const p of model.parameters()) weights.set(p.name, Float32Array.from(await p.variable.data()));
  return weights;
}

/** The sessions of a model's graphs on one ONNX Runtime, made on first use; the graphs have static shapes. */
class OnnxRuntimeSessions {
  readonly parameters: TrainableParameter[];
  private readonly sessions = new Map<string, Promise<Session>>();

  constructor(
    private readonly model: ByteModel,
    private readonly options: OnnxRuntimeEngineOptions,
  ) {
    this.parameters = model
      .parameters()
      .map((p) => ({ name: p.name, shape: p.variable.shape, decay: p.decay }));
  }

  gradients(shape: BatchShape): Promise<Session> {
    return this.session(`gradients ${shape.batch}x${shape.length}`, () =>
      gradientGraph(this.model.config, this.parameters, shape),
    );
  }

  update(): Promise<Session> {
    return this.session('update', () => updateGraph(this.parameters));
  }

  /** ids [B*T] -> nats [B*T] with the given weights; a length that is not whole patches is padded on the right. */
  async nats(
    weights: ReadonlyMap<string, Float32Array>,
    ids: Int32Array,
    shape: BatchShape,
  ): Promise<Float32Array> {
    const { config } = this.model;
    const length = this.model.geometry.paddedLength(shape.length); // as ByteModel pads its input
    const padded = length === shape.length ? ids : padRows(ids, shape, length);
    const session = await this.session(`nats ${shape.batch}x${length}`, () =>
      natsGraph(config, this.parameters, { batch: shape.batch, length }),
    );
    const out = await session.run({
      [NAMES.bytes]: this.tensor('int32', padded, [shape.batch, length]),
      ...this.weightFeeds(weights),
    });
    const nats = out[NAMES.nats]!.data as Float32Array;
    return length === shape.length ? nats : cutRows(nats, shape, length);
  }

  weightFeeds(weights: ReadonlyMap<string, Float32Array>): Feeds {
    const feeds: Feeds = {};
    for (const p of this.parameters) feeds[p.name] = this.tensor('float32', weights.get(p.name)!, p.shape);
    return feeds;
  }

  tensor(type: 'float32' | 'int32', data: Float32Array | Int32Array, dims: readonly number[]): Tensor {
    return new this.options.ort.Tensor(type, data, dims);
  }

  release(): void {
    for (const session of this.sessions.values()) void session.then((s) => s.release());
    this.sessions.clear();
  }

  private session(key: string, graph: () => Parameters<typeof encodeGraph>[0]): Promise<Session> {
    let session = this.sessions.get(key);
    if (!session) {
      const { executionProvider = 'cpu', threads } = this.options;
      session = this.options.ort.InferenceSession.create(encodeGraph(graph()), {
        executionProviders: [executionProvider],
        graphOptimizationLevel: 'all',
        ...(threads !== undefined && { intraOpNumThreads: threads }),
      }).catch((error: Error) => {
        this.sessions.delete(key);
        throw new Error(
          `onnxruntime: could not create the ${key} session on the "${executionProvider}" execution provider ` +
            `(${error.message.split('\n')[0]}); onnxruntime-node runs "cpu", onnxruntime-web "wasm" and "webgpu"`,
        );
      });
      this.sessions.set(key, session);
    }
    return session;
  }
}

class OnnxRuntimeEngine implements TrainingEngine {
  readonly name: string;
  private readonly sessions: OnnxRuntimeSessions;
  private weights = new Map<string, Float32Array>();
  private moments = new Map<string, Moments>();
  private updates = 0;

  constructor(
    private readonly model: ByteModel,
    private readonly optimizer: OptimizerSettings,
    options: OnnxRuntimeEngineOptions,
  ) {
    const provider = options.executionProvider ?? 'cpu';
    const threads =
      options.threads === undefined ? '' : `, ${options.threads} thread${options.threads === 1 ? '' : 's'}`;
    this.name = `onnxruntime (${provider}${threads})`;
    this.sessions = new OnnxRuntimeSessions(model, options);
    // Fails now, before any step, for what the graphs cannot train yet (dropout) or an unknown op.
    gradientGraph(model.config, this.sessions.parameters, { batch: 1, length: model.config.contextLength });
  }

  async step(batches: readonly MicroBatch[], settings: StepSettings): Promise<EngineStep> {
    const first = batches[0];
    if (!first) throw new RangeError('onnxruntime engine: a step needs at least one micro-batch');
    const session = await this.sessions.gradients({ batch: first.batch, length: first.length });
    let summed: Map<string, Float32Array> | undefined;
    let lossTotal = 0;
    for (const batch of batches) {
      const out = await session.run({
        [NAMES.bytes]: this.sessions.tensor('int32', batch.ids, [batch.batch, batch.length]),
        ...this.sessions.weightFeeds(this.weights),
      });
      lossTotal += (out[NAMES.loss]!.data as Float32Array)[0]!;
      summed = accumulate(
        summed,
        this.sessions.parameters.map((p) => [p.name, out[NAMES.grad(p.name)]!.data as Float32Array]),
      );
    }
    const loss = lossTotal / batches.length;
    const update = await this.update(summed!, batches.length, settings);
    if (stepApplies(loss, update.norm, settings)) {
      this.weights = update.weights;
      this.moments = update.moments;
      this.updates += 1;
    }
    return { loss, gradNorm: update.norm };
  }

  /** Evaluation on the engine's current weights (the Trainer validates with it). */
  nats(ids: Int32Array, batch: number, length: number): Promise<Float32Array> {
    return this.sessions.nats(this.weights, ids, { batch, length });
  }

  optimizerState(): AdamWState {
    const moments = new Map<string, { m: tf.Tensor; v: tf.Tensor }>();
    for (const p of this.sessions.parameters) {
      const found = this.moments.get(p.name);
      if (found)
        moments.set(p.name, { m: tf.tensor(found.m, [...p.shape]), v: tf.tensor(found.v, [...p.shape]) });
    }
    const state = adamWState(this.updates, moments);
    tf.dispose([...moments.values()].flatMap(({ m, v }) => [m, v]));
    return state;
  }

  loadOptimizerState(state: AdamWState): void {
    const { step, moments } = readAdamWState(state, this.model.parameters());
    this.moments = new Map(
      [...moments].map(([name, { m, v }]) => [
        name,
        { m: Float32Array.from(m.dataSync()), v: Float32Array.from(v.dataSync()) },
      ]),
    );
    this.updates = step;
  }

  async pullWeights(): Promise<void> {
    // The optimizer's session first: a missing execution provider fails here, before any step.
    await this.sessions.update();
    this.weights = await readWeights(this.model);
  }

  async pushWeights(): Promise<void> {
    for (const p of this.model.parameters()) {
      const value = tf.tensor(this.weights.get(p.name)!, p.variable.shape);
      p.variable.assign(value);
      value.dispose();
    }
  }

  dispose(): void {
    this.sessions.release();
  }

  /** Clipping and AdamW on the summed gradients; returns the new state without committing it. */
  private async update(
    summed: Map<string, Float32Array>,
    microBatches: number,
    settings: StepSettings,
  ): Promise<{ norm: number; weights: Map<string, Float32Array>; moments: Map<string, Moments> }> {
    const session = await this.sessions.update();
    const { beta1, beta2, eps, weightDecay } = this.optimizer;
    const t = this.updates + 1;
    // Bias corrections in float64, rounded once when they meet the tensors, as AdamW.step does.
    const scalars: Record<string, number> = {
      [NAMES.gradScale]: 1 / microBatches,
      [NAMES.stepSize]: settings.lr / (1 - beta1 ** t),
      [NAMES.sqrtCorrection2]: Math.sqrt(1 - beta2 ** t),
      [NAMES.decayFactor]: weightDecay > 0 ? 1 - settings.lr * weightDecay : 1,
      [NAMES.beta1]: beta1,
      [NAMES.oneMinusBeta1]: 1 - beta1,
      [NAMES.beta2]: beta2,
      [NAMES.oneMinusBeta2]: 1 - beta2,
      [NAMES.eps]: eps,
      [NAMES.maxNorm]: settings.clip > 0 ? settings.clip : Number.POSITIVE_INFINITY,
    };
    const feeds: Feeds = {};
    for (const [name, value] of Object.entries(scalars))
      feeds[name] = this.sessions.tensor('float32', Float32Array.of(value), []);
    for (const p of this.sessions.parameters) {
      const zeros = () => new Float32Array(size(p.shape));
      const moments = this.moments.get(p.name) ?? { m: zeros(), v: zeros() };
      feeds[NAMES.param(p.name)] = this.sessions.tensor('float32', this.weights.get(p.name)!, p.shape);
      feeds[NAMES.grad(p.name)] = this.sessions.tensor('float32', summed.get(p.name)!, p.shape);
      feeds[NAMES.m(p.name)] = this.sessions.tensor('float32', moments.m, p.shape);
      feeds[NAMES.v(p.name)] = this.sessions.tensor('float32', moments.v, p.shape);
    }
    const out = await session.run(feeds);
    const data = (name: string) => out[name]!.data as Float32Array;
    const { parameters } = this.sessions;
    return {
      norm: data(NAMES.norm)[0]!,
      weights: new Map(parameters.map((p) => [p.name, data(NAMES.newParam(p.name))])),
      moments: new Map(
        parameters.map((p) => [p.name, { m: data(NAMES.newM(p.name)), v: data(NAMES.newV(p.name)) }]),
      ),
    };
  }
}

/** Rows [B, T] -> [B, length], padded on the right with PAD_ID. */
function padRows(ids: Int32Array, shape: BatchShape, length: number): Int32Array {
  const out = new Int32Array(shape.batch * length).fill(PAD_ID);
  for (let row = 0; row < shape.batch; row++)
    out.set(ids.subarray(row * shape.length, (row + 1) * shape.length), row * length);
  return out;
}

/** Rows [B, length] -> their first T columns [B, T]. */
function cutRows(values: Float32Array, shape: BatchShape, length: number): Float32Array {
  const out = new Float32Array(shape.batch * shape.length);
  for (let row = 0; row < shape.batch; row++)
    out.set(values.subarray(row * length, row * length + shape.length), row * shape.length);
  return out;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Adds one micro-batch's gradients into the running sum (float32 additions, as tfjs makes them). */
function accumulate(
  sum: Map<string, Float32Array> | undefined,
  grads: readonly [string, Float32Array][],
): Map<string, Float32Array> {
  if (!sum) return new Map(grads);
  for (const [name, g] of grads) {
    const total = sum.get(name)!;
    for (let i = 0; i < g.length; i++) total[i] = total[i]! + g[i]!;
  }
  return sum;
}
