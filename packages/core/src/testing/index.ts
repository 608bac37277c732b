export { microMegabyteConfig, microTransformerConfig } from './micro-configs.js';
