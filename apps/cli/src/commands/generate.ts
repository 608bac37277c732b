import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GenerateOptions, generate } from '@megabyte/core';
import { encodeText, Utf8StreamDecoder } from '@megabyte/patching';
import { Command, Option } from 'commander';
import {
  BACKEND_HELP,
  BACKENDS,
  collect,
  integer,
  nonNegativeNumber,
  positiveNumber,
  userPath,
} from '../options.js';
import { startRuntime } from '../runtime.js';
import { loadModelArgument } from './model-loading.js';

interface GenerateFlags {
  model?: string;
  prompt?: string;
  promptFile?: string;
  maxBytes: number;
  temperature: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
  stop?: string[];
  raw: boolean;
  cache: boolean;
  backend: string;
}

/** The model that ships with the project (models/default at the repository root), used when --model is not given. */
export function defaultModelDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'models', 'default');
    if (existsSync(join(candidate, 'config.json')) || dirname(dir) === dir) return candidate;
    dir = dirname(dir);
  }
}

export function generateCommand(): Command {
  return new Command('generate')
    .description('generate bytes from a model, streamed to stdout as they come')
    .option('--model <dir>', 'checkpoint or run directory (default: the model shipped in models/default)')
    .option('--prompt <text>', 'text to continue', '')
    .option('--prompt-file <path>', 'continue the bytes of this file instead')
    .option('--max-bytes <n>', 'bytes to generate', integer(1), 400)
    .option('--temperature <t>', '0 is greedy', nonNegativeNumber, 0.8)
    .option('--top-k <k>', 'sample among the k most likely bytes', integer(1))
    .option('--top-p <p>', 'nucleus sampling', positiveNumber)
    .option('--min-p <p>', 'drop bytes less likely than p times the best', positiveNumber)
    .option('--repetition-penalty <x>', 'CTRL-style penalty for recent bytes (1.05 to 1.2)', positiveNumber)
    .option('--seed <n>', 'seed for reproducible output', integer(0))
    .option('--stop <text>', 'stop when the output ends with this (repeatable)', collect)
    .option('--raw', 'write raw bytes (binary models) instead of UTF-8 text', false)
    .option('--no-cache', 'recompute the full forward pass for every byte (slow; for comparison)')
    .addOption(new Option('--backend <name>', BACKEND_HELP).choices(BACKENDS).default('auto'))
    .addHelpText(
      'after',
      `
Examples:
  megabyte generate --prompt "The jury said" --seed 1
  megabyte generate --model runs/2026-11-28T04-00-00 --temperature 0 --max-bytes 200
  megabyte generate --prompt-file start.bin --raw --max-bytes 4096 > out.bin`,
    )
    .action(async (flags: GenerateFlags) => {
      await startRuntime(flags.backend, false);
      const { model, dir } = await loadModelArgument(flags.model ?? defaultModelDirectory());
      const prompt = flags.promptFile
        ? new Uint8Array(await readFile(userPath(flags.promptFile)))
        : encodeText(flags.prompt ?? '');
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      const options: GenerateOptions = {
        prompt,
        maxBytes: flags.maxBytes,
        temperature: flags.temperature,
        topK: flags.topK,
        topP: flags.topP,
        minP: flags.minP,
        repetitionPenalty: flags.repetitionPenalty,
        seed: flags.seed,
        stop: flags.stop,
        cache: flags.cache,
        signal: abort.signal,
      };
      if (!flags.raw && !flags.promptFile) process.stdout.write(flags.prompt ?? '');
      const decoder = new Utf8StreamDecoder();
      const started = performance.now();
      let count = 0;
      for await (const byte of generate(model, options)) {
        count += 1;
        if (flags.raw) process.stdout.write(Uint8Array.of(byte));
        else process.stdout.write(decoder.push(byte));
      }
      if (!flags.raw) process.stdout.write(`${decoder.flush()}\n`);
      const seconds = (performance.now() - started) / 1000;
      process.stderr.write(
        `\n${count} bytes in ${seconds.toFixed(2)} s: ${(count / seconds).toFixed(1)} bytes/s (${dir})\n`,
      );
      model.dispose();
    });
}
