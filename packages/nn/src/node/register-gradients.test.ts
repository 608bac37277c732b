import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { needsExtension, TFJS_DIST_RESOLVE_HOOK } from './register-gradients.js';

const dist = 'file:///app/node_modules/@tensorflow/tfjs-core/dist/ops/add.js';

describe('the resolve hook for tfjs-core dist', () => {
  it('adds .js only to extensionless relative imports made inside tfjs-core dist', () => {
    expect(needsExtension('./gradients/Abs_grad', dist)).toBe(true);
    expect(needsExtension('../engine', dist)).toBe(true);
    expect(needsExtension('./engine.js', dist)).toBe(false);
    expect(needsExtension('seedrandom', dist)).toBe(false);
    expect(needsExtension('./local', 'file:///app/src/main.js')).toBe(false);
    expect(needsExtension('./x', undefined)).toBe(false);
  });

  it('lets plain Node load tfjs-core gradients for the CommonJS tfjs-core a user imports', () => {
    // A child Node without vite: the CJS tfjs-core and cpu backend, the hook, the registration.
    const require = createRequire(import.meta.url);
    const core = require.resolve('@tensorflow/tfjs-core');
    const cpu = require.resolve('@tensorflow/tfjs-backend-cpu');
    const registration = pathToFileURL(`${dirname(core)}/register_all_gradients.js`).href;
    const script = `
      import { register } from 'node:module';
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const tf = require(${JSON.stringify(core)});
      require(${JSON.stringify(cpu)});
      tf.env().set('PROD', true);
      const before = tf.getGradient('RealDiv') !== undefined;
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(TFJS_DIST_RESOLVE_HOOK)}));
      await import(${JSON.stringify(registration)});
      await tf.setBackend('cpu');
      const dx = tf.grad((x) => tf.sum(tf.div(tf.mul(x, x), 2)))(tf.tensor1d([1, 2, 3]));
      console.log(JSON.stringify({ before, after: tf.getGradient('RealDiv') !== undefined, dx: Array.from(dx.dataSync()) }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ before: false, after: true, dx: [1, 2, 3] });
  });
});
