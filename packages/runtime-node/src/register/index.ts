import { register } from 'node:module';

// Loaded with `node --import @megabyte/runtime-node/register`, before any module imports tfjs-core's
// gradients; see tfjs-resolve-hook.ts for why.
const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
register(`./tfjs-resolve-hook${extension}`, import.meta.url);
