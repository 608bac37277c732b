export { loadResumePoint, type ResumePoint, RunDirectory } from './run-directory.js';
