// The model's building blocks defined once over `Ops`, with no tensor library: what @megabyte/onnx
// records into graphs and `TfjsOps` runs eagerly.
export {
  type Activation,
  attention,
  block,
  type CrossPatch,
  causalConv,
  gelu,
  linear,
  mlp,
  type NormKind,
  norm,
  outputHead,
  type StackContext,
  type StackSpec,
  scoped,
  stack,
} from './blocks.js';
export type { LayerCache, Ops } from './ops.js';
