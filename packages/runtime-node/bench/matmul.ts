/**
 * Square matmul timings per backend: `pnpm bench [--backends cpu,wasm] [--sizes 256,512] [--json out.json]`.
 * Each size is timed as the median of several runs after a warm-up, reading the result back so
 * asynchronous backends are timed to completion.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createRuntime, type NodeRuntime } from '../src/index.js';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'cpu,wasm' },
    sizes: { type: 'string', default: '256,512' },
    runs: { type: 'string', default: '7' },
    json: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const runs = Number(values.runs);

async function timeMatMul(runtime: NodeRuntime, n: number): Promise<number> {
  const { tf } = runtime;
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const once = async () => {
    const start = performance.now();
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
    return performance.now() - start;
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  a.dispose();
  b.dispose();
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

const rows: Array<{ backend: string; description: string; n: number; ms: number; gflops: number }> = [];
for (const backend of values.backends.split(',')) {
  const runtime = await createRuntime({ backend });
  console.log(runtime.description);
  for (const n of sizes) {
    const ms = await timeMatMul(runtime, n);
    rows.push({ backend, description: runtime.description, n, ms, gflops: (2 * n ** 3) / (ms * 1e6) });
  }
}

console.log(`\n${'backend'.padEnd(16)}${'n'.padStart(6)}${'ms'.padStart(10)}${'GFLOP/s'.padStart(10)}`);
for (const { backend, n, ms, gflops } of rows) {
  console.log(
    `${backend.padEnd(16)}${String(n).padStart(6)}${ms.toFixed(2).padStart(10)}${gflops.toFixed(2).padStart(10)}`,
  );
}
if (values.json) {
  const temporary = `${values.json}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ node: process.version, runs, rows }, null, 2)}\n`);
  renameSync(temporary, values.json);
}
