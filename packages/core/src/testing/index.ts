export { relativeError, sampleIds } from './compare.js';
export { microMegabyteConfig, microTransformerConfig } from './micro-configs.js';
