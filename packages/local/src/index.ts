export { LocalModel, type LocalModelOptions } from './local-model.js';
