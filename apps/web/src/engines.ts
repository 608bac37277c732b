// What runs a model: onnxruntime-web for exported models (the default one included), tfjs for
// checkpoints and for models trained in the page.
import {
  type AnyModel,
  type GenerationModel,
  type ModelConfig,
  parameterBreakdown,
  scoreBytes,
} from '@megabyte/core';
import type { OnnxModel } from '@megabyte/onnx';

export interface Engine {
  /** e.g. `onnxruntime-web (wasm)` or `tfjs (wasm)`. */
  readonly name: string;
  readonly config: ModelConfig;
  /** What @megabyte/core's `generate` drives. */
  readonly decoder: GenerationModel;
  /** Surprisal in bits of bytes[from..], each byte scored with the bytes before it as context. */
  score(bytes: Uint8Array, from: number): Promise<Float32Array>;
  /** Frees what the engine holds besides tfjs weights (the worker owns and frees those). */
  dispose(): Promise<void>;
}

export function parameterCount(config: ModelConfig): number {
  return parameterBreakdown(config).total;
}

/**
 * A tfjs model; scoring is core's `scoreBytes`, as for exported models: sliding windows, so every
 * byte after the first window has half a context.
 */
export function tfjsEngine(model: AnyModel, backend: string): Engine {
  return {
    name: `tfjs (${backend})`,
    config: model.config,
    decoder: model,
    async score(bytes, from) {
      const { surprisal } = await scoreBytes(model, bytes);
      return surprisal.subarray(from);
    },
    async dispose() {},
  };
}

/**
 * An exported model on onnxruntime-web. `scoring` holds the scoring graph, loaded on first use
 * (generation needs only the global and local graphs).
 */
export function onnxEngine(generator: OnnxModel, scoring: () => Promise<OnnxModel>): Engine {
  let scorer: Promise<OnnxModel> | undefined;
  return {
    name: `onnxruntime-web (${generator.executionProvider})`,
    config: generator.config,
    decoder: generator,
    async score(bytes, from) {
      scorer ??= scoring();
      const { surprisal } = await (await scorer).scoreBytes(bytes);
      return surprisal.subarray(from);
    },
    async dispose() {
      await generator.release();
      if (scorer) await (await scorer).release();
    },
  };
}
