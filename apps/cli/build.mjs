// Bundles the CLI into one ES module. tfjs ships its gradient registration only as ES modules
// written for bundlers (extensionless imports, `require` inside), beside CommonJS bundles for
// Node that lack it; bundling with the `module` entries gives one tfjs-core with gradients.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { build } from 'esbuild';

const { outputFiles } = await build({
  entryPoints: [new URL('src/main.ts', import.meta.url).pathname],
  outfile: new URL('dist/megabyte.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  // workspace packages from their TypeScript sources; tfjs from its ES module entries
  conditions: ['@megabyte/source'],
  mainFields: ['module', 'main'],
  // resolved at run time from node_modules: native or optional packages and the wasm binaries' home
  external: [
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
    'webgpu',
    // native binary; wasm files found next to its own dist
    'onnxruntime-node',
    'onnxruntime-web',
    '@tensorflow/tfjs-backend-wasm/package.json',
  ],
  banner: {
    // CommonJS code inside the bundle (tfjs's Emscripten glue) expects require and __dirname
    js: [
      '#!/usr/bin/env node',
      "import { createRequire as __createRequire } from 'node:module';",
      "import { fileURLToPath as __fileURLToPath } from 'node:url';",
      'const require = __createRequire(import.meta.url);',
      'const __filename = __fileURLToPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join('\n'),
  },
  logLevel: 'warning',
  write: false,
});
// Each file is written under a temporary name and renamed: several test files rebuild the bundle
// while others run it, and a reader must never see a half-written one.
for (const file of outputFiles) {
  mkdirSync(dirname(file.path), { recursive: true });
  const temporary = `${file.path}.tmp-${process.pid}`;
  writeFileSync(temporary, file.contents);
  renameSync(temporary, file.path);
}
