import { existsSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { type BackendCandidate, RuntimeUnavailableError } from '@megabyte/core';
import { activateBackend } from './activate-backend.js';
import { errorMessage } from './errors.js';
import { resolvePackage } from './resolve-package.js';

const PACKAGE = '@tensorflow/tfjs-backend-wasm';

/**
 * tfjs-backend-wasm 4.x hard-codes WASM_HAS_MULTITHREAD_SUPPORT to false in Node. Forcing it on
 * does not help: the threaded build starts its pthread workers from Blob URLs, and Node's
 * worker_threads refuse those (ERR_WORKER_PATH), so the backend fails to initialise. The SIMD
 * single-thread build is what Node gets.
 */
const NODE_SINGLE_THREAD =
  'multi-threaded wasm is off in Node: tfjs-backend-wasm starts its pthread workers from Blob URLs, ' +
  "which Node's worker_threads cannot load (tensorflow/tfjs#3830)";

async function loadModules() {
  const [tf, wasm] = await Promise.all([
    import('@tensorflow/tfjs-core'),
    import('@tensorflow/tfjs-backend-wasm'),
  ]);
  // The flags are registered by the wasm package, so they can only be read after importing it.
  const [simd, multithread] = await Promise.all([
    tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
  ]);
  return { tf, wasm, simd: simd === true, multithread: multithread === true };
}

/** The binary tfjs-backend-wasm will ask for, by the same rule it uses itself. */
function binaryName(simd: boolean, multithread: boolean): string {
  if (simd && multithread) return 'tfjs-backend-wasm-threaded-simd.wasm';
  return simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
}

/** XNNPACK kernels compiled to WebAssembly: no native install, several times faster than cpu. */
export const wasmCandidate: BackendCandidate = {
  name: 'wasm',
  packageName: PACKAGE,

  async probe() {
    const pkg = resolvePackage(PACKAGE);
    if (!pkg) return { available: false, reason: `${PACKAGE} is not installed` };
    if (typeof WebAssembly !== 'object') {
      return { available: false, reason: 'this JavaScript engine has no WebAssembly' };
    }
    const { simd, multithread } = await loadModules();
    const threads = multithread ? 'multi-threaded' : 'single-threaded';
    return { available: true, reason: `${PACKAGE} ${pkg.version}: SIMD ${simd ? 'on' : 'off'}, ${threads}` };
  },

  async load({ threads, log }) {
    const pkg = resolvePackage(PACKAGE);
    if (!pkg) {
      throw new RuntimeUnavailableError('wasm', `${PACKAGE} is not installed: pnpm add ${PACKAGE}`);
    }
    const { tf, wasm, simd, multithread } = await loadModules();

    // Its default lookup goes through Emscripten's script directory, which is wrong once this code
    // is bundled or run through a test runner's module loader; the binaries always sit next to
    // the package's entry file, and Emscripten reads a plain path with fs in Node.
    const dir = dirname(pkg.entry) + sep;
    const binary = join(dir, binaryName(simd, multithread));
    if (!existsSync(binary)) {
      throw new RuntimeUnavailableError('wasm', `${PACKAGE} ${pkg.version} has no ${binary}: reinstall it.`);
    }
    if (tf.findBackend('wasm') == null) {
      try {
        wasm.setWasmPaths(dir);
      } catch (cause) {
        // It throws only after a failed initialisation, which tfjs-backend-wasm cannot retry.
        throw new RuntimeUnavailableError(
          'wasm',
          `the wasm backend already failed to start in this process (${errorMessage(cause)}); restart the process.`,
          { cause },
        );
      }
      if (threads !== undefined) wasm.setThreadsCount(threads);
    }

    await activateBackend(tf, 'wasm');
    const actual = wasm.getThreadsCount();
    if (threads !== undefined && threads !== actual) {
      const why = multithread ? 'the backend was already initialised in this process' : NODE_SINGLE_THREAD;
      log(`wasm: asked for ${threads} threads, running ${actual} (${why})`);
    }
    const threadText = `${actual} thread${actual === 1 ? '' : 's'}`;
    return {
      tf,
      backend: 'wasm',
      version: wasm.version_wasm,
      details: `SIMD ${simd ? 'on' : 'off'}, ${threadText}${multithread ? '' : ' (tfjs-backend-wasm is single-threaded in Node)'}`,
      wasm: { simd, threads: actual },
    };
  },
};
