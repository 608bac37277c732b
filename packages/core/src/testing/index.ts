export { type BackendRun, type BackendRunOptions, runOnActiveBackend } from './backend-run.js';
export { relativeError, sampleIds } from './compare.js';
export { graphOptionConfigs, microMegabyteConfig, microTransformerConfig } from './micro-configs.js';
