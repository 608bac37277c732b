import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import { setMemoryBudget } from '@megabyte/core';
import * as tf from '@tensorflow/tfjs-core';
import { Command } from 'commander';
import { benchCommand } from './commands/bench.js';
import { onnxBenchCommand } from './commands/bench-onnx.js';
import { serveBenchCommand } from './commands/bench-serve.js';
import { trainBenchCommand } from './commands/bench-train.js';
import { convertCommand } from './commands/convert.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { generateCommand } from './commands/generate.js';
import { infoCommand } from './commands/info.js';
import { serveCommand } from './commands/serve.js';
import { trainCommand } from './commands/train.js';
import { installExitHandlers, wasInterrupted } from './process-exit.js';

installExitHandlers();
// tfjs's own warnings (e.g. "install tfjs-node" on the cpu backend) are off: every command says
// on stderr which backend it runs on and which faster ones it skipped, and why.
tf.env().set('PROD', true);

// Configs and batches are bounded by what this machine holds (MEGABYTE_MEMORY_BYTES overrides it).
setMemoryBudget(Number(process.env.MEGABYTE_MEMORY_BYTES) || totalmem());

// ../package.json from src/ (tests, tsx) and from dist/ (the bundle) alike.
const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = new Command('megabyte')
  .description('MEGABYTE byte-level language models: train, evaluate, generate, inspect')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError('(run with --help for usage)')
  .addCommand(trainCommand())
  .addCommand(evalCommand())
  .addCommand(generateCommand())
  .addCommand(infoCommand())
  .addCommand(convertCommand())
  .addCommand(exportCommand())
  .addCommand(serveCommand())
  .addCommand(benchCommand([onnxBenchCommand(), trainBenchCommand(), serveBenchCommand()]));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (wasInterrupted()) process.exit();
  process.stderr.write(`megabyte: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
