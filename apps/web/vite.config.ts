import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

/** The shipped model, read from the repository so the site never holds a second copy in git. */
const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../models/default/', import.meta.url));
const DEFAULT_MODEL_FILES = ['config.json', 'model.safetensors'] as const;

// Multi-threaded wasm needs SharedArrayBuffer, which browsers give only to cross-origin-isolated pages.
const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * Serves models/default under `models/default/` in dev and copies it into the build, and exposes
 * `virtual:default-model` ({ version, bytes }). `version` is a hash of the files: the page
 * caches the model under a URL that carries it, so a new model replaces the cached one.
 */
function defaultModel(): Plugin {
  const virtualId = 'virtual:default-model';
  const resolvedId = `\0${virtualId}`;
  const read = () =>
    DEFAULT_MODEL_FILES.map((name) => ({ name, data: readFileSync(DEFAULT_MODEL_DIR + name) }));
  return {
    name: 'megabyte-default-model',
    resolveId: (id) => (id === virtualId ? resolvedId : undefined),
    load(id) {
      if (id !== resolvedId) return undefined;
      const files = read();
      const hash = createHash('sha256');
      for (const file of files) hash.update(file.data);
      const info = {
        version: hash.digest('hex').slice(0, 16),
        bytes: files.reduce((sum, file) => sum + file.data.length, 0),
      };
      return `export default ${JSON.stringify(info)};`;
    },
    configureServer(server) {
      server.middlewares.use((request, response, next) => {
        const path = (request.url ?? '').split('?')[0]!;
        const name = DEFAULT_MODEL_FILES.find((file) => path.endsWith(`/models/default/${file}`));
        if (!name) return next();
        response.setHeader(
          'Content-Type',
          name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        );
        response.end(readFileSync(DEFAULT_MODEL_DIR + name));
      });
    },
    generateBundle() {
      for (const file of read()) {
        this.emitFile({ type: 'asset', fileName: `models/default/${file.name}`, source: file.data });
      }
    },
  };
}

export default defineConfig({
  // Relative URLs: the built site works from any directory of any static server.
  base: './',
  resolve: {
    // Workspace packages from their TypeScript sources, as vitest resolves them.
    conditions: ['@megabyte/source', ...defaultClientConditions],
    dedupe: ['@tensorflow/tfjs-core'],
  },
  worker: { format: 'es' },
  plugins: [defaultModel()],
  server: { headers: CROSS_ORIGIN_ISOLATION },
  preview: { headers: CROSS_ORIGIN_ISOLATION },
  // Not minified: tfjs-backend-wasm starts its threads from the source text of a bundled function
  // (Function.prototype.toString), and a minifier renames the free variables that text refers to.
  build: { target: 'es2022', chunkSizeWarningLimit: 4096, minify: false },
});
