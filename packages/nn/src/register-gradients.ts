// tfjs-core on its own registers the forward kernels but not their gradients; training needs them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
