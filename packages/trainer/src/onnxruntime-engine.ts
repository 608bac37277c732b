import type { ByteModel } from '@megabyte/core';
import {
  encodeGraph,
  gradientGraph,
  TRAINING_NAMES as NAMES,
  type OrtModule,
  type TrainableParameter,
  updateGraph,
} from '@megabyte/onnx';
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

interface Moments {
  m: Float32Array;
  v: Float32Array;
}

class OnnxRuntimeEngine implements TrainingEngine {
  readonly name: string;
  private readonly parameters: TrainableParameter[];
  private weights = new Map<string, Float32Array>();
  private moments = new Map<string, Moments>();
  private updates = 0;
  /** Gradient graphs by batch shape ("BxT"): the graphs have static shapes. */
  private readonly gradientSessions = new Map<string, Promise<Session>>();
  private updateSession: Promise<Session> | undefined;

  constructor(
    private readonly model: ByteModel,
    private readonly optimizer: OptimizerSettings,
    private readonly options: OnnxRuntimeEngineOptions,
  ) {
    const provider = options.executionProvider ?? 'cpu';
    const threads =
      options.threads === undefined ? '' : `, ${options.threads} thread${options.threads === 1 ? '' : 's'}`;
    this.name = `onnxruntime (${provider}${threads})`;
    this.parameters = model
      .parameters()
      .map((p) => ({ name: p.name, shape: p.variable.shape, decay: p.decay }));
    // Fails now, before any step, for what the graphs cannot train yet (dropout) or an unknown op.
    gradientGraph(model.config, this.parameters, { batch: 1, length: model.config.contextLength });
  }

  async step(batches: readonly MicroBatch[], settings: StepSettings): Promise<EngineStep> {
    const first = batches[0];
    if (!first) throw new RangeError('onnxruntime engine: a step needs at least one micro-batch');
    const session = await this.gradientSession(first.batch, first.length);
    let summed: Map<string, Float32Array> | undefined;
    let lossTotal = 0;
    for (const batch of batches) {
      const out = await session.run({
        [NAMES.bytes]: this.tensor('int32', batch.ids, [batch.batch, batch.length]),
        ...this.weightFeeds(),
      });
      lossTotal += (out[NAMES.loss]!.data as Float32Array)[0]!;
      summed = accumulate(
        summed,
        this.parameters.map((p) => [p.name, out[NAMES.grad(p.name)]!.data as Float32Array]),
      );
    }
    const loss = lossTotal / batches.length;
    const update = await this.update(summed!, batches.length, settings);
    const gradNorm = update.norm;
    if (stepApplies(loss, gradNorm, settings)) {
      this.weights = update.weights;
      this.moments = update.moments;
      this.updates += 1;
    }
    return { loss, gradNorm };
  }

  optimizerState(): AdamWState {
    const moments = new Map<string, { m: tf.Tensor; v: tf.Tensor }>();
    for (const p of this.parameters) {
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
    const weights = new Map<string, Float32Array>();
    for (const p of this.model.parameters()) weights.set(p.name, Float32Array.from(await p.variable.data()));
    this.weights = weights;
  }

  async pushWeights(): Promise<void> {
    for (const p of this.model.parameters()) {
      const value = tf.tensor(this.weights.get(p.name)!, p.variable.shape);
      p.variable.assign(value);
      value.dispose();
    }
  }

  dispose(): void {
    const sessions = [...this.gradientSessions.values(), ...(this.updateSession ? [this.updateSession] : [])];
    for (const session of sessions) void session.then((s) => s.release());
    this.gradientSessions.clear();
    this.updateSession = undefined;
  }

  /** Clipping and AdamW on the summed gradients; returns the new state without committing it. */
  private async update(
    summed: Map<string, Float32Array>,
    microBatches: number,
    settings: StepSettings,
  ): Promise<{ norm: number; weights: Map<string, Float32Array>; moments: Map<string, Moments> }> {
    this.updateSession ??= this.createSession(updateGraph(this.parameters));
    const session = await this.updateSession;
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
      feeds[name] = this.tensor('float32', Float32Array.of(value), []);
    for (const p of this.parameters) {
      const moments = this.moments.get(p.name) ?? {
        m: new Float32Array(size(p.shape)),
        v: new Float32Array(size(p.shape)),
      };
      feeds[NAMES.param(p.name)] = this.tensor('float32', this.weights.get(p.name)!, p.shape);
      feeds[NAMES.grad(p.name)] = this.tensor('float32', summed.get(p.name)!, p.shape);
      feeds[NAMES.m(p.name)] = this.tensor('float32', moments.m, p.shape);
      feeds[NAMES.v(p.name)] = this.tensor('float32', moments.v, p.shape);
    }
    const out = await session.run(feeds);
    const data = (name: string) => out[name]!.data as Float32Array;
    return {
      norm: data(NAMES.norm)[0]!,
      weights: new Map(this.parameters.map((p) => [p.name, data(NAMES.newParam(p.name))])),
      moments: new Map(
        this.parameters.map((p) => [p.name, { m: data(NAMES.newM(p.name)), v: data(NAMES.newV(p.name)) }]),
      ),
    };
  }

  private gradientSession(batch: number, length: number): Promise<Session> {
    const key = `${batch}x${length}`;
    let session = this.gradientSessions.get(key);
    if (!session) {
      session = this.createSession(gradientGraph(this.model.config, this.parameters, { batch, length }));
      this.gradientSessions.set(key, session);
    }
    return session;
  }

  private createSession(graph: Parameters<typeof encodeGraph>[0]): Promise<Session> {
    const { executionProvider = 'cpu', threads } = this.options;
    return this.options.ort.InferenceSession.create(encodeGraph(graph), {
      executionProviders: [executionProvider],
      graphOptimizationLevel: 'all',
      ...(threads !== undefined && { intraOpNumThreads: threads }),
    });
  }

  private weightFeeds(): Feeds {
    const feeds: Feeds = {};
    for (const p of this.parameters)
      feeds[p.name] = this.tensor('float32', this.weights.get(p.name)!, p.shape);
    return feeds;
  }

  private tensor(type: 'float32' | 'int32', data: Float32Array | Int32Array, dims: readonly number[]) {
    return new this.options.ort.Tensor(type, data, dims);
  }
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
