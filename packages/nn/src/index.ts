export type { Activation, NormKind } from './blocks.js';
export { blockwiseCausalAttention, DEFAULT_ATTENTION_BLOCK } from './blockwise-attention.js';
export { Dropout, NO_DROPOUT } from './dropout.js';
export { lookup, lookupWithDenseGradient } from './embedding.js';
export { KVCache } from './kv-cache.js';
export { matMul } from './matmul.js';
export {
  createParameters,
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
  causalMask,
  compositeCausalAttention,
  hasKernel,
} from './scaled-dot-product.js';
export {
  compositeSoftmaxCrossEntropy,
  SOFTMAX_CROSS_ENTROPY_KERNEL,
  softmaxCrossEntropy,
} from './softmax-cross-entropy.js';
export { TfjsOps } from './tfjs-ops.js';
