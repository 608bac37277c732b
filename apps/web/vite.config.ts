import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type Plugin, runnerImport } from 'vite';

/** The shipped model, read from the repository so the site never holds a second copy in git. */
const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../models/default/', import.meta.url));
/**
 * An image model offered on the Images tab when this directory holds its checkpoint and media.json
 * (none is shipped yet). MEGABYTE_WEB_IMAGE_MODEL=DIR builds the site with another one.
 */
const IMAGE_MODEL_DIR = process.env.MEGABYTE_WEB_IMAGE_MODEL
  ? `${process.env.MEGABYTE_WEB_IMAGE_MODEL.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../models/image-tiny/', import.meta.url));
const IMAGE_MODEL_FILES = ['config.json', 'model.safetensors', 'media.json'];
const EXPORT_SCRIPT = fileURLToPath(new URL('./build/export-onnx.ts', import.meta.url));

// Multi-threaded wasm needs SharedArrayBuffer, which browsers give only to cross-origin-isolated pages.
const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The files under `models/default/`: the checkpoint (for fine-tuning in the page) and its ONNX
 * export (what the page runs on onnxruntime-web), made here from models/default and never committed.
 */
async function defaultModelFiles(): Promise<Map<string, Uint8Array>> {
  const config = readFileSync(`${DEFAULT_MODEL_DIR}config.json`);
  const weights = readFileSync(`${DEFAULT_MODEL_DIR}model.safetensors`);
  // Through Vite's module runner, so the workspace packages resolve to their TypeScript sources.
  const { module } = await runnerImport<typeof import('./build/export-onnx.js')>(EXPORT_SCRIPT, {
    configFile: false,
    logLevel: 'warn',
    environments: { inline: { resolve: { noExternal: [/^@megabyte\//], conditions: ['@megabyte/source'] } } },
  });
  const onnx = await module.exportCheckpoint(config, weights, 'default');
  return new Map([['config.json', config], ['model.safetensors', weights], ...onnx]);
}

/**
 * Serves the default model's files under `models/default/` in dev, copies them into the build, and
 * exposes `virtual:default-model` ({ version, sizes }). `version` is a hash of the files: the page
 * caches them under URLs that carry it, so a new model replaces the cached one.
 */
function defaultModel(): Plugin {
  const virtualId = 'virtual:default-model';
  const resolvedId = `\0${virtualId}`;
  let files: Promise<Map<string, Uint8Array>> | undefined;
  const load = () => {
    files ??= defaultModelFiles();
    return files;
  };
  return {
    name: 'megabyte-default-model',
    resolveId: (id) => (id === virtualId ? resolvedId : undefined),
    async load(id) {
      if (id !== resolvedId) return undefined;
      const all = await load();
      const hash = createHash('sha256');
      for (const [name, data] of all) hash.update(name).update(data);
      const sizes = Object.fromEntries([...all].map(([name, data]) => [name, data.length]));
      return `export default ${JSON.stringify({ version: hash.digest('hex').slice(0, 16), sizes })};`;
    },
    configureServer(server) {
      server.middlewares.use(async (request, response, next) => {
        const path = (request.url ?? '').split('?')[0]!;
        const match = /\/models\/default\/([^/]+)$/.exec(path);
        const data = match ? (await load()).get(match[1]!) : undefined;
        if (!data) return next();
        response.setHeader(
          'Content-Type',
          path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        );
        response.end(data);
      });
    },
    async generateBundle() {
      for (const [name, source] of await load()) {
        this.emitFile({ type: 'asset', fileName: `models/default/${name}`, source });
      }
    },
  };
}

/**
 * Serves models/image-tiny's checkpoint under `models/image-tiny/` in dev and copies it into the
 * build when that directory has all three files; `virtual:image-model` is `{ version, sizes }`
 * then (as for the default model), else null and the page offers no built-in image model.
 */
function imageModel(): Plugin {
  const virtualId = 'virtual:image-model';
  const resolvedId = `\0${virtualId}`;
  const load = (): Map<string, Uint8Array> | undefined =>
    IMAGE_MODEL_FILES.every((name) => existsSync(`${IMAGE_MODEL_DIR}${name}`))
      ? new Map(IMAGE_MODEL_FILES.map((name) => [name, readFileSync(`${IMAGE_MODEL_DIR}${name}`)]))
      : undefined;
  return {
    name: 'megabyte-image-model',
    resolveId: (id) => (id === virtualId ? resolvedId : undefined),
    load(id) {
      if (id !== resolvedId) return undefined;
      const files = load();
      if (!files) return 'export default null;';
      const hash = createHash('sha256');
      for (const [name, data] of files) hash.update(name).update(data);
      const sizes = Object.fromEntries([...files].map(([name, data]) => [name, data.length]));
      return `export default ${JSON.stringify({ version: hash.digest('hex').slice(0, 16), sizes })};`;
    },
    configureServer(server) {
      server.middlewares.use((request, response, next) => {
        const path = (request.url ?? '').split('?')[0]!;
        const match = /\/models\/image-tiny\/([^/]+)$/.exec(path);
        const data = match ? load()?.get(match[1]!) : undefined;
        if (!data) return next();
        response.setHeader(
          'Content-Type',
          path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        );
        response.end(data);
      });
    },
    generateBundle() {
      for (const [name, source] of load() ?? []) {
        this.emitFile({ type: 'asset', fileName: `models/image-tiny/${name}`, source });
      }
    },
  };
}

export default defineConfig({
  // Relative URLs: the built site works from any directory of any static server.
  base: './',
  resolve: {
    // Workspace packages from their TypeScript sources, as vitest resolves them.
    // onnxruntime-web's builds that load their wasm glue from `ort.env.wasm.wasmPaths` (served by
    // the app) rather than from inside the bundle, so its worker threads start from their own file.
    conditions: ['@megabyte/source', 'onnxruntime-web-use-extern-wasm', ...defaultClientConditions],
    dedupe: ['@tensorflow/tfjs-core'],
  },
  worker: { format: 'es' },
  plugins: [defaultModel(), imageModel()],
  server: { headers: CROSS_ORIGIN_ISOLATION },
  preview: { headers: CROSS_ORIGIN_ISOLATION },
  // Not minified: tfjs-backend-wasm starts its threads from the source text of a bundled function
  // (Function.prototype.toString), and a minifier renames the free variables that text refers to.
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    minify: false,
    // The default model's ONNX export takes a few seconds by design; no timing report on each build.
    rolldownOptions: { checks: { pluginTimings: false, bundlerTimings: false } },
  },
});
