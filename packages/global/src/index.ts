export { GlobalModel, type GlobalModelOptions } from './global-model.js';
export { PatchEmbedder, type PatchEmbedderOptions } from './patch-embedder.js';
