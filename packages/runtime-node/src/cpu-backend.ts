import type { BackendCandidate } from '@megabyte/core';
import { activateBackend } from './activate-backend.js';
import { resolvePackage } from './resolve-package.js';

const PACKAGE = '@tensorflow/tfjs-backend-cpu';

/** Plain JavaScript kernels: runs anywhere, and is the slowest. */
export const cpuCandidate: BackendCandidate = {
  name: 'cpu',
  packageName: PACKAGE,

  async probe() {
    const pkg = resolvePackage(PACKAGE);
    return pkg
      ? { available: true, reason: `${PACKAGE} ${pkg.version}: plain JavaScript kernels, the slowest` }
      : { available: false, reason: `${PACKAGE} is not installed` };
  },

  async load() {
    const [tf, cpu] = await Promise.all([
      import('@tensorflow/tfjs-core'),
      import('@tensorflow/tfjs-backend-cpu'),
    ]);
    await activateBackend(tf, 'cpu');
    return { tf, backend: 'cpu', version: cpu.version_cpu, details: 'plain JavaScript kernels' };
  },
};
