export { resolveModelDirectory } from './model-directory.js';
export { loadResumePoint, type ResumePoint, RunDirectory } from './run-directory.js';
