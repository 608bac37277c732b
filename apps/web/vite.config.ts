import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defaultClientConditions, defineConfig, type Plugin, runnerImport } from 'vite';

/** The shipped model, read from the repository so the site never holds a second copy in git. */
const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../packages/model-default/', import.meta.url));
/**
 * The image model offered on the Images tab when this directory holds its checkpoint and media.json
 * (models/image-tiny ships one). MEGABYTE_WEB_IMAGE_MODEL=DIR builds the site with another one.
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
 * export (what the page runs on onnxruntime-web), made here from packages/model-default and never committed.
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
 * The default model's validation bits per byte as its README states it (the row that
 * `megabyte eval --split validation` measured), so the page quotes the measured figure.
 */
function measuredBitsPerByte(): number | null {
  const readme = readFileSync(`${DEFAULT_MODEL_DIR}README.md`, 'utf8');
  const row = /^\| validation bits per byte[^|]*\| ([\d.]+) \|$/m.exec(readme);
  return row ? Number(row[1]) : null;
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
      const info = { version: hash.digest('hex').slice(0, 16), sizes, bitsPerByte: measuredBitsPerByte() };
      return `export default ${JSON.stringify(info)};`;
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

/** The runtimes' wasm binaries, by the name the worker imports them with (`?url`). */
const RUNTIME_WASM = {
  ort: 'onnxruntime-web/ort-wasm-simd-threaded.wasm',
  ortWebGpu: 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm',
  tfjs: '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
  tfjsSimd: '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
  tfjsThreadedSimd: '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
};

/**
 * `virtual:runtime-sizes`: the size in bytes of each runtime wasm binary, so the page states what
 * it will download before the download starts and shows progress even when the server compresses
 * (Content-Length is then the compressed size).
 */
function runtimeSizes(): Plugin {
  const virtualId = 'virtual:runtime-sizes';
  const resolvedId = `\0${virtualId}`;
  return {
    name: 'megabyte-runtime-sizes',
    resolveId: (id) => (id === virtualId ? resolvedId : undefined),
    async load(id) {
      if (id !== resolvedId) return undefined;
      const sizes: Record<string, number> = {};
      for (const [key, specifier] of Object.entries(RUNTIME_WASM)) {
        const resolved = await this.resolve(specifier, EXPORT_SCRIPT);
        if (!resolved) throw new Error(`cannot find ${specifier}: run pnpm install`);
        sizes[key] = statSync(resolved.id.split('?')[0]!).size;
      }
      return `export default ${JSON.stringify(sizes)};`;
    },
  };
}

/** Where the service worker's source is; the build writes it as `sw.js` at the site's root. */
const SERVICE_WORKER_ENTRY = fileURLToPath(new URL('./src/service-worker.ts', import.meta.url));

/**
 * Gives the service worker the list of the app's own files (the shell: HTML, scripts, styles) and
 * a version that changes with any of them, by replacing `__SHELL__` and `__VERSION__` in its code.
 * Wasm binaries and models are left out: the worker caches the ones this browser uses, with progress.
 */
function serviceWorker(): Plugin {
  const virtualId = 'virtual:service-worker';
  const resolvedId = `\0${virtualId}`;
  let building = false;
  return {
    name: 'megabyte-service-worker',
    enforce: 'post',
    configResolved(config) {
      building = config.command === 'build';
    },
    resolveId: (id) => (id === virtualId ? resolvedId : undefined),
    // `virtual:service-worker` is the worker's URL in a build, null in the dev server (which has
    // none). Not import.meta.env.PROD: a build run under vitest has NODE_ENV=test.
    load: (id) => (id === resolvedId ? `export default ${building ? "'./sw.js'" : 'null'};` : undefined),
    generateBundle(_options, bundle) {
      const worker = Object.values(bundle).find(
        (output) => output.type === 'chunk' && output.facadeModuleId === SERVICE_WORKER_ENTRY,
      );
      if (worker?.type !== 'chunk') throw new Error('the service worker was not built');
      const shell = Object.keys(bundle)
        .filter((name) => name !== worker.fileName && !name.endsWith('.wasm') && !name.startsWith('models/'))
        .sort();
      const hash = createHash('sha256');
      for (const name of shell) {
        const output = bundle[name]!;
        hash.update(name).update(output.type === 'chunk' ? output.code : output.source);
      }
      const files = shell.map((name) => (name === 'index.html' ? './' : `./${name}`));
      worker.code = worker.code
        .replace('__SHELL__', JSON.stringify(files))
        .replace('__VERSION__', JSON.stringify(hash.digest('hex').slice(0, 16)));
    },
  };
}

/** Content types of every kind of file the site has (a static host needs the same list). */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
};
/** Files worth compressing: all but images (already compressed) and the hosts' `_headers`. */
const COMPRESSED = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.onnx', '.safetensors']);

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .map((name) => join(directory, name))
    .filter((path) => statSync(path).isFile());
}

/**
 * The built site as a static host should serve it: every compressible file gets a gzip twin
 * (`NAME.gz`, what nginx's gzip_static and Caddy's `precompressed` serve), and `vite preview`
 * (`pnpm demo`) serves the site itself with the right types, the twins, cache headers and COOP/COEP.
 */
function staticSite(): Plugin {
  return {
    name: 'megabyte-static-site',
    writeBundle({ dir }) {
      for (const path of filesUnder(dir!)) {
        if (!COMPRESSED.has(extname(path))) continue;
        const data = readFileSync(path);
        if (data.length >= 1024) writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
      }
    },
    configurePreviewServer(server) {
      const root = resolve(server.config.root, server.config.build.outDir);
      server.middlewares.use((request, response, next) => {
        if (request.method !== 'GET' && request.method !== 'HEAD') return next();
        let path = decodeURIComponent((request.url ?? '/').split('?')[0]!);
        if (path.endsWith('/')) path += 'index.html';
        const file = resolve(root, `.${path}`);
        const type = CONTENT_TYPES[extname(file)];
        if (!file.startsWith(root + sep) || !type || !existsSync(file) || !statSync(file).isFile())
          return next();
        const gzip = existsSync(`${file}.gz`) && /\bgzip\b/.test(String(request.headers['accept-encoding']));
        const served = gzip ? `${file}.gz` : file;
        for (const [name, value] of Object.entries(CROSS_ORIGIN_ISOLATION)) response.setHeader(name, value);
        response.setHeader('Content-Type', type);
        response.setHeader('Content-Length', statSync(served).size);
        response.setHeader('Vary', 'Accept-Encoding');
        // Hashed names never change content; everything else is checked on each visit.
        response.setHeader(
          'Cache-Control',
          path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
        if (gzip) response.setHeader('Content-Encoding', 'gzip');
        if (request.method === 'HEAD') return response.end();
        createReadStream(served).pipe(response);
      });
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
  worker: { format: 'es', plugins: () => [runtimeSizes()] },
  plugins: [defaultModel(), imageModel(), runtimeSizes(), serviceWorker(), staticSite()],
  server: { headers: CROSS_ORIGIN_ISOLATION },
  preview: { headers: CROSS_ORIGIN_ISOLATION },
  // Not minified: tfjs-backend-wasm starts its threads from the source text of a bundled function
  // (Function.prototype.toString), and a minifier renames the free variables that text refers to.
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    minify: false,
    // The default model's ONNX export takes a few seconds by design; no timing report on each build.
    rolldownOptions: {
      checks: { pluginTimings: false, bundlerTimings: false },
      // The page, and the service worker as `sw.js` at the root (its scope is the whole site).
      input: { index: fileURLToPath(new URL('./index.html', import.meta.url)), sw: SERVICE_WORKER_ENTRY },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
});
