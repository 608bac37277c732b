// tfjs-core on its own registers the forward kernels but not their gradients; training needs them.
// A separate entry (`@megabyte/nn/gradients`) because that file is an ES module written for
// bundlers: inference, which needs no gradients, then also runs in plain Node.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
