import { saveModel } from '@megabyte/core/node';
import { Command, Option } from 'commander';
import { userPath } from '../options.js';
import { startRuntime } from '../runtime.js';
import { loadModelArgument } from './model-loading.js';

export function convertCommand(): Command {
  return new Command('convert')
    .description(
      'write a model-only checkpoint (config.json + model.safetensors), e.g. in float16 to halve its size',
    )
    .requiredOption('--model <dir>', 'checkpoint or run directory')
    .requiredOption('--out <dir>', 'where to write the checkpoint (replaced if it already holds one)')
    .addOption(
      new Option('--dtype <dtype>', 'storage type of the weights')
        .choices(['float32', 'float16'])
        .default('float16'),
    )
    .addHelpText(
      'after',
      '\nExample:\n  megabyte convert --model runs/2026-11-28T04-00-00 --out models/mine --dtype float16',
    )
    .action(async (flags: { model: string; out: string; dtype: 'float32' | 'float16' }) => {
      await startRuntime('auto', false);
      const { model, dir } = await loadModelArgument(flags.model);
      const out = userPath(flags.out);
      await saveModel(model, out, { dtype: flags.dtype });
      process.stderr.write(`wrote ${out} (${flags.dtype}) from ${dir}\n`);
      model.dispose();
    });
}
