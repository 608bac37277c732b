import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { type GenerateOptions, generate } from '@megabyte/core';
import { encodeText, Utf8StreamDecoder } from '@megabyte/patching';
import { Command, Option } from 'commander';
import { type MediaFlags, readSavedMedia, resolveMedia, withMediaOptions } from '../media.js';
import { generateMedia, type MediaOutputFlags } from '../media-generation.js';
import {
  BACKEND_HELP,
  BACKENDS,
  collect,
  integer,
  nonNegativeNumber,
  positiveNumber,
  readInputFile,
} from '../options.js';
import { markInterrupted } from '../process-exit.js';
import { startRuntime } from '../runtime.js';
import { loadModelArgument } from './model-loading.js';

/** The text flags are MediaOutputFlags' too: images and audio read them. */
interface GenerateFlags extends MediaFlags, MediaOutputFlags {
  model?: string;
  backend: string;
}

/** The model that ships with the CLI (the package @megabyte/model-default), used when --model is not given. */
export function defaultModelDirectory(): string {
  return dirname(createRequire(import.meta.url).resolve('@megabyte/model-default/package.json'));
}

export function generateCommand(): Command {
  return withMediaOptions(new Command('generate'))
    .description(
      'generate bytes from a model, streamed to stdout as they come, or an image (PNG) or audio clip (WAV) with --out',
    )
    .option('--model <dir>', 'checkpoint or run directory (default: the model of @megabyte/model-default)')
    .option('--prompt <text>', 'text to continue', '')
    .option('--prompt-file <path>', 'continue the bytes of this file instead')
    .option(
      '--max-bytes <n>',
      'bytes to generate (audio: default one second; images: the whole image)',
      integer(1),
      400,
    )
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
    .option('--out <file>', 'images and audio: write the result here (.png or .wav)')
    .option('--prompt-image <png>', 'images: complete this image from its top half')
    .option('--prompt-audio <wav>', 'audio: continue this clip (written at the start of --out)')
    .addHelpText(
      'after',
      `
Examples:
  megabyte generate --prompt "The jury said" --seed 1
  megabyte generate --model runs/2026-11-28T04-00-00 --temperature 0 --max-bytes 200
  megabyte generate --prompt-file start.bin --raw --max-bytes 4096 > out.bin
  megabyte generate --model runs/images --out sample.png --seed 1
  megabyte generate --model runs/images --out completed.png --prompt-image photo.png
  megabyte generate --model runs/speech --out clip.wav --max-bytes 16000`,
    )
    .action(async (flags: GenerateFlags, command: Command) => {
      await startRuntime(flags.backend, false);
      const { model, dir } = await loadModelArgument(flags.model ?? defaultModelDirectory());
      const media = resolveMedia(flags, model.config, await readSavedMedia(dir));
      if (media) {
        try {
          await generateMedia(model, media, flags, (name) => command.getOptionValueSource(name) === 'cli');
        } finally {
          model.dispose();
        }
        return;
      }
      rejectMediaFlags(flags);
      const prompt = flags.promptFile
        ? await readInputFile('--prompt-file', flags.promptFile)
        : encodeText(flags.prompt ?? '');
      const abort = new AbortController();
      process.once('SIGINT', () => {
        markInterrupted();
        abort.abort();
      });
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

function rejectMediaFlags(flags: MediaOutputFlags): void {
  for (const [flag, value] of [
    ['--out', flags.out],
    ['--prompt-image', flags.promptImage],
    ['--prompt-audio', flags.promptAudio],
  ] as const) {
    if (value !== undefined) {
      throw new Error(
        `${flag} needs an image or audio model (--modality image or audio, or a run trained with one); text goes to stdout`,
      );
    }
  }
}
