// tfjs-core on its own registers the forward kernels but not their gradients; training needs them.
// A separate entry (`@megabyte/nn/gradients`) so that inference does not load them. This file is
// for bundlers, which resolve tfjs-core's extensionless ES modules; plain Node gets
// `./node/register-gradients.ts` through the `node` export condition.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
