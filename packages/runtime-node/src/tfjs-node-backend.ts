import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BackendCandidate, RuntimeUnavailableError } from '@megabyte/core';
import type * as TfCore from '@tensorflow/tfjs-core';
import { activateBackend } from './activate-backend.js';
import { errorMessage } from './errors.js';
import { type ResolvedPackage, resolvePackage } from './resolve-package.js';

/*
 * Which tfjs-core the model runs on. tfjs-node depends on @tensorflow/tfjs, which brings its own
 * tfjs-core; the package manager may give it another copy than the one this package imports
 * (another version, or another peer context). tfjs keeps its engine and kernel registry on
 * globalThis, so two copies share one engine, but each has its own op wrappers, Tensor class and
 * flag definitions, and ops of one version may call kernels of another with attributes it does
 * not know. So for these backends the Runtime's `tf` is tfjs-node's own module, which re-exports
 * the whole tfjs API, tfjs-core included: the model's ops come from the copy the backend was built
 * against and registered with, whatever the install layout.
 *
 * It is imported by its resolved path: bundlers then leave the optional native package alone,
 * the import is exactly the copy `probe` inspected, and TypeScript needs no types for a package
 * that is usually absent. It is never imported by `probe`: its module body calls
 * `tf.setBackend('tensorflow')`, so importing it switches the whole process.
 */

interface Variant {
  readonly name: 'tensorflow' | 'tensorflow-gpu';
  readonly packageName: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';
  readonly gpu: boolean;
}

const CUDA_NOTE =
  'it runs on the GPU only with the CUDA 11.2 and cuDNN 8.1 libraries on the library path (LD_LIBRARY_PATH)';
const FALLBACK_NOTE = '`--backend wasm` or `--backend cpu` work without it, with nothing else to install.';

function notInstalledMessage({ name, packageName, gpu }: Variant): string {
  return (
    `The ${name} backend needs ${packageName}, which is not installed. ` +
    `Install it with \`pnpm add ${packageName}\`: its install script downloads the libtensorflow` +
    `${gpu ? ' GPU' : ''} library, so it needs network access to storage.googleapis.com at install time` +
    `${gpu ? `, and ${CUDA_NOTE}` : ''}. ${FALLBACK_NOTE}`
  );
}

/**
 * node-pre-gyp puts the addon in lib/napi-v<N>/; the install script fetches it (with
 * libtensorflow), so a package installed with scripts disabled or offline has none.
 */
function hasNativeAddon(pkg: ResolvedPackage): boolean {
  const lib = join(pkg.root, 'lib');
  if (!existsSync(lib)) return false;
  return readdirSync(lib).some(
    (dir) => /^napi-v\d+$/.test(dir) && existsSync(join(lib, dir, 'tfjs_binding.node')),
  );
}

function missingAddonMessage({ packageName }: Variant, pkg: ResolvedPackage): string {
  return (
    `${packageName} ${pkg.version} is installed but its native addon (lib/napi-v*/tfjs_binding.node) is ` +
    'missing: its install script did not run or could not download libtensorflow. Run ' +
    `\`pnpm rebuild ${packageName}\` with network access to storage.googleapis.com. ${FALLBACK_NOTE}`
  );
}

function isTfModule(value: unknown): value is typeof TfCore {
  return (
    typeof value === 'object' && value !== null && typeof Reflect.get(value, 'setBackend') === 'function'
  );
}

async function importTfjsNode(variant: Variant, pkg: ResolvedPackage): Promise<typeof TfCore> {
  let namespace: { readonly default?: unknown };
  try {
    namespace = await import(pathToFileURL(pkg.entry).href);
  } catch (cause) {
    throw new RuntimeUnavailableError(
      variant.name,
      `${variant.packageName} ${pkg.version} is installed but failed to load: ${errorMessage(cause)}. ` +
        `${variant.gpu ? `Note that ${CUDA_NOTE}. ` : ''}${FALLBACK_NOTE}`,
      { cause },
    );
  }
  // It is CommonJS: `default` is its complete module.exports, while the named exports Node derives
  // statically can miss names it re-exports from @tensorflow/tfjs.
  const mod = isTfModule(namespace.default) ? namespace.default : namespace;
  if (!isTfModule(mod)) {
    throw new RuntimeUnavailableError(variant.name, `${variant.packageName} does not export the tfjs API.`);
  }
  return mod;
}

export interface TfjsNodeCandidateOptions {
  /** `@tensorflow/tfjs-node-gpu` (backend name `tensorflow-gpu`) instead of `@tensorflow/tfjs-node`. */
  readonly gpu: boolean;
  /**
   * Where to resolve the package from, as for `createRequire`: a file path or URL. Defaults to this
   * package, which is where pnpm links an optional peer the application installed.
   */
  readonly resolveFrom?: string | URL;
}

/** TensorFlow's C library through @tensorflow/tfjs-node or -gpu, which the user installs. */
export function tfjsNodeCandidate({ gpu, resolveFrom }: TfjsNodeCandidateOptions): BackendCandidate {
  const variant: Variant = gpu
    ? { name: 'tensorflow-gpu', packageName: '@tensorflow/tfjs-node-gpu', gpu }
    : { name: 'tensorflow', packageName: '@tensorflow/tfjs-node', gpu };
  const { name, packageName } = variant;

  return {
    name,
    packageName,

    async probe() {
      const pkg = resolvePackage(packageName, resolveFrom);
      if (!pkg) return { available: false, reason: `${packageName} is not installed` };
      if (!hasNativeAddon(pkg)) {
        return {
          available: false,
          reason: `${packageName} ${pkg.version} is installed without its native addon`,
        };
      }
      return {
        available: true,
        reason: `${packageName} ${pkg.version} with its native addon${gpu ? ' (GPU needs CUDA 11.2 / cuDNN 8.1)' : ''}`,
      };
    },

    async load({ log }) {
      const pkg = resolvePackage(packageName, resolveFrom);
      if (!pkg) throw new RuntimeUnavailableError(name, notInstalledMessage(variant));
      if (!hasNativeAddon(pkg)) throw new RuntimeUnavailableError(name, missingAddonMessage(variant, pkg));

      const tf = await importTfjsNode(variant, pkg);
      // Both packages register their backend under the one name `tensorflow`.
      await activateBackend(tf, 'tensorflow');

      const notes: string[] = [];
      if (gpu) {
        // NodeJSKernelBackend asks libtensorflow whether it placed ops on a GPU device.
        const onGpu = Reflect.get(tf.backend(), 'isUsingGpuDevice') === true;
        notes.push(
          onGpu ? 'TensorFlow on the GPU' : `TensorFlow found no GPU and runs on the CPU: ${CUDA_NOTE}`,
        );
        if (!onGpu) log(`${name}: no GPU device found; ${CUDA_NOTE}`);
      } else {
        notes.push('TensorFlow on the CPU');
      }
      const ours = (await import('@tensorflow/tfjs-core')).version_core;
      if (tf.version_core !== ours) {
        notes.push(`its tfjs-core is ${tf.version_core}, not ${ours}: the model runs on its copy`);
        log(
          `${name}: ${packageName} brings tfjs-core ${tf.version_core} (this package has ${ours}); using its copy`,
        );
      }
      return { tf, backend: 'tensorflow', version: pkg.version, details: notes.join('; ') };
    },
  };
}
