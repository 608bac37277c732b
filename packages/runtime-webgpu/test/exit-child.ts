// Run by node.test.ts in a child process: makes a WebGPU runtime, runs a few ops, then (with
// argument `shutdown`) calls shutdown() or (with `none`) just returns, and prints `done`. The
// parent measures how long the process takes to end after that.
import { createWebGpuRuntime, shutdown } from '../src/node.js';

const mode = process.argv[2] ?? 'none';
const runtime = await createWebGpuRuntime({ log: () => {} });
const { tf } = runtime;
const product = tf.tidy(() => tf.matMul(tf.ones([16, 16]), tf.ones([16, 16])));
const values = await product.data();
product.dispose();
if (values[0] !== 16) throw new Error(`expected 16, got ${values[0]}`);
if (mode === 'shutdown') shutdown();
console.log(`done ${runtime.adapter.vendor} ${runtime.adapter.architecture}`);
