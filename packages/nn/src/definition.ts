// The model's building blocks defined once over `Ops`, with no tensor library: what @megabyte/onnx
// records into graphs and `TfjsOps` runs eagerly.
export {
  type Activation,
  attention,
  attentionFrame,
  block,
  type CrossPatch,
  causalConv,
  embeddingParameter,
  gelu,
  headParameters,
  type Initializer,
  linear,
  linearParameters,
  mlp,
  type NormKind,
  norm,
  normParameters,
  outputHead,
  type ParameterSpec,
  rotate,
  type StackContext,
  type StackSpec,
  scoped,
  stack,
  stackParameters,
} from './blocks.js';
export type { AttentionFrame, LayerCache, Ops } from './ops.js';
