export {
  type AttentionContext,
  type AttentionOptions,
  CausalSelfAttention,
  type CrossPatch,
  causalMask,
} from './attention.js';
export { blockwiseCausalAttention, DEFAULT_ATTENTION_BLOCK } from './blockwise-attention.js';
export { CausalConv, type CausalConvOptions } from './causal-conv.js';
export { Dropout, NO_DROPOUT } from './dropout.js';
export { Embedding, type EmbeddingOptions, lookup, lookupWithDenseGradient } from './embedding.js';
export { KVCache } from './kv-cache.js';
export { Linear, type LinearOptions } from './linear.js';
export { matMul } from './matmul.js';
export { type Activation, Mlp, type MlpOptions } from './mlp.js';
export { createNorm, LayerNorm, type Norm, type NormKind, RMSNorm } from './norm.js';
export {
  disposeParameters,
  type Initializer,
  type NamedParameter,
  ParameterStore,
  parameterCount,
  seedFor,
} from './parameters.js';
export {
  CAUSAL_ATTENTION_KERNEL,
  type CausalAttentionOptions,
  causalAttention,
  compositeCausalAttention,
  hasKernel,
} from './scaled-dot-product.js';
export {
  compositeSoftmaxCrossEntropy,
  SOFTMAX_CROSS_ENTROPY_KERNEL,
  softmaxCrossEntropy,
} from './softmax-cross-entropy.js';
export { TfjsOps } from './tfjs-ops.js';
export {
  Transformer,
  TransformerBlock,
  type TransformerContext,
  type TransformerOptions,
} from './transformer.js';
