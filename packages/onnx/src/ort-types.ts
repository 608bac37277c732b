import type { InferenceSession, Tensor } from 'onnxruntime-common';

/**
 * The parts of an ONNX Runtime module used here: pass `onnxruntime-node` or `onnxruntime-web`
 * (`import * as ort from ...`). Tensors must come from the same module as the session, so this
 * package never imports a runtime itself (and stays browser-safe).
 */
export interface OrtModule {
  readonly InferenceSession: {
    create(buffer: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  readonly Tensor: new (
    type: 'float32' | 'int32',
    data: Float32Array | Int32Array,
    dims: readonly number[],
  ) => Tensor;
}

export type { InferenceSession, Tensor };
