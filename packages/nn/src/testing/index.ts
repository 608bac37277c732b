export { checkGradients, type GradientCheckResult } from './gradient-check.js';
