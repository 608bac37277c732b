import { availableParallelism } from 'node:os';
import type { ByteModel, ModelConfig, Runtime } from '@megabyte/core';
import {
  onnxRuntimeEngine,
  onnxRuntimeScorer,
  type TrainingEngineFactory,
  type WindowNats,
} from '@megabyte/trainer';
import { onnxruntimeNode, tryOnnxruntimeNode } from './onnxruntime.js';
import { BACKENDS } from './options.js';
import { startRuntime } from './runtime.js';

/** What `train` and `eval` can run on: a tfjs backend, or onnxruntime-node. */
export const ENGINE_BACKENDS = [...BACKENDS, 'onnxruntime'] as const;

export const ENGINE_BACKEND_HELP =
  'onnxruntime (onnxruntime-node, native and multi-threaded) or a tfjs backend; auto picks a GPU backend ' +
  'when one loads, else onnxruntime when it loads (training: and the model has no dropout), else the fastest tfjs backend';

/** tfjs backends that run on a GPU: auto keeps them ahead of onnxruntime-node's CPU kernels. */
const GPU_BACKENDS = new Set(['webgpu', 'tensorflow-gpu']);

export interface EngineBackend {
  /** The tfjs runtime that holds the model's weights (checkpoints, and the steps unless an engine runs them). */
  readonly runtime: Runtime;
  /**
   * Where the steps of a model with this config run, and one line for people saying what and why.
   * Throws where `--backend onnxruntime` was asked for a model it cannot train.
   */
  engineFor(config: ModelConfig): { engine?: TrainingEngineFactory; description: string };
  /** Where windows of this model are scored (evaluation), and one line for people saying what and why. */
  natsFor(model: ByteModel): Promise<{ nats?: WindowNats; description: string }>;
}

/**
 * The backend of a training run, as `--backend` names it; starts its tfjs runtime first, since every
 * tensor (resumed weights included) must live on it. onnxruntime keeps the weights of record on
 * tfjs-wasm, which reads them back synchronously for checkpoints, and runs every step in
 * onnxruntime-node with `threads` intra-op threads (default: one per core).
 */
export async function chooseEngineBackend(
  backend: string,
  threads: number | undefined,
): Promise<EngineBackend> {
  const runtime = await startRuntime(backend === 'onnxruntime' ? 'wasm' : backend, false);
  const tfjs = (why?: string) => ({
    description: why ? `${runtime.description} (${why})` : runtime.description,
  });
  const tfjsOnly = { runtime, engineFor: () => tfjs(), natsFor: async () => tfjs() };
  if (backend !== 'auto' && backend !== 'onnxruntime') return tfjsOnly;
  if (backend === 'auto' && GPU_BACKENDS.has(runtime.backend)) return tfjsOnly;
  const ort = await loadOnnxRuntimeNode(backend === 'auto');
  const used = threads ?? availableParallelism();
  const why =
    backend === 'auto'
      ? `: no GPU backend loaded, and native multi-threaded kernels beat tfjs ${runtime.backend}`
      : '';
  const onOrt = `onnxruntime-node (cpu, ${used} thread${used === 1 ? '' : 's'})${why}; weights of record on tfjs ${runtime.backend}`;
  return {
    runtime,
    natsFor: async (model) =>
      ort
        ? { nats: await onnxRuntimeScorer(model, { ort, threads: used }), description: onOrt }
        : tfjs('onnxruntime passed over: onnxruntime-node is not installed'),
    engineFor: (config) => {
      if (!ort) return tfjs('onnxruntime passed over: onnxruntime-node is not installed');
      if (config.dropout > 0) {
        if (backend === 'auto')
          return tfjs(
            `onnxruntime passed over: its training graphs have no dropout yet, and this model has ${config.dropout}`,
          );
        throw new Error(
          `--backend onnxruntime: the model has dropout ${config.dropout}, which onnxruntime's training graphs do not have yet; ` +
            'train it with --backend wasm (or webgpu), or use a config with "dropout": 0',
        );
      }
      return {
        engine: onnxRuntimeEngine({ ort, threads: used }),
        description: onOrt,
      };
    },
  };
}

/** onnxruntime-node, or undefined where it is not installed and `optional`. */
function loadOnnxRuntimeNode(optional: boolean) {
  return optional ? tryOnnxruntimeNode() : onnxruntimeNode('--backend onnxruntime');
}
