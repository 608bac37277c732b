import { type AnyModel, generate } from '@megabyte/core';
import {
  deserializeImage,
  fitImageToSquare,
  type ImageLayout,
  imageByteLength,
  type MediaSpec,
  muLawBytesToWav,
  parseWav,
  serializeImage,
  wavToMuLawBytes,
} from '@megabyte/patching';
import { decodePng, writeFileAtomic, writePngFile } from '@megabyte/patching/node';
import { readInputFile, userPath } from './options.js';

/** generate's flags that images and audio read. */
export interface MediaOutputFlags {
  out?: string;
  promptImage?: string;
  promptAudio?: string;
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
}

/**
 * Generates an image (a whole one, or the bottom half of --prompt-image) or an audio clip (after
 * --prompt-audio, if given) and writes it to --out as PNG or WAV. `given` says whether a flag was
 * typed, so defaults that only make sense for text can be told apart from choices.
 */
export async function generateMedia(
  model: AnyModel,
  media: MediaSpec,
  flags: MediaOutputFlags,
  given: (flag: string) => boolean,
): Promise<void> {
  if (flags.out === undefined) {
    throw new Error(
      `--modality ${media.modality} writes a file: add --out <file.${media.modality === 'image' ? 'png' : 'wav'}>`,
    );
  }
  const textOnly = (['prompt', 'promptFile', 'raw', 'stop'] as const).filter((name) => given(name));
  if (textOnly.length > 0) {
    throw new Error(
      `${textOnly.map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}: text only; ` +
        (media.modality === 'image'
          ? 'complete an image with --prompt-image'
          : 'continue a clip with --prompt-audio'),
    );
  }
  const out = userPath(flags.out);
  const sample = async (prompt: Uint8Array, maxBytes: number): Promise<Uint8Array> => {
    const bytes = [...prompt];
    const started = performance.now();
    for await (const byte of generate(model, {
      prompt,
      maxBytes,
      temperature: flags.temperature,
      topK: flags.topK,
      topP: flags.topP,
      minP: flags.minP,
      repetitionPenalty: flags.repetitionPenalty,
      seed: flags.seed,
      cache: flags.cache,
    })) {
      bytes.push(byte);
      if (process.stderr.isTTY && bytes.length % 256 === 0)
        process.stderr.write(`\r${bytes.length - prompt.length}/${maxBytes} bytes`);
    }
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(
      `${process.stderr.isTTY ? '\n' : ''}${bytes.length - prompt.length} bytes in ${seconds.toFixed(2)} s (${((bytes.length - prompt.length) / seconds).toFixed(1)} bytes/s)\n`,
    );
    return Uint8Array.from(bytes);
  };

  if (media.modality === 'image') {
    if (given('promptAudio')) throw new Error('--prompt-audio: this is an image model; use --prompt-image');
    if (given('maxBytes')) {
      throw new Error(
        `--max-bytes: an image model always writes one whole ${media.layout.size} x ${media.layout.size} image (${imageByteLength(media.layout)} bytes); drop --max-bytes`,
      );
    }
    const prompt = flags.promptImage
      ? await topHalf(userPath(flags.promptImage), media.layout)
      : new Uint8Array();
    const bytes = await sample(prompt, imageByteLength(media.layout) - prompt.length);
    await writePngFile(out, deserializeImage(bytes, media.layout));
    process.stderr.write(
      `wrote ${out}: ${media.layout.size} x ${media.layout.size} PNG${flags.promptImage ? `, top ${prompt.length / (media.layout.size * 3)} rows from ${flags.promptImage}` : ''}\n`,
    );
    return;
  }

  if (given('promptImage')) throw new Error('--prompt-image: this is an audio model; use --prompt-audio');
  const prompt = flags.promptAudio
    ? await audioPrompt(flags.promptAudio, media.sampleRate)
    : new Uint8Array();
  const bytes = await sample(prompt, given('maxBytes') ? flags.maxBytes : media.sampleRate);
  await writeFileAtomic(out, muLawBytesToWav(bytes, media.sampleRate));
  process.stderr.write(
    `wrote ${out}: ${(bytes.length / media.sampleRate).toFixed(2)} s of 16-bit mono WAV at ${media.sampleRate} Hz${prompt.length > 0 ? ` (the first ${(prompt.length / media.sampleRate).toFixed(2)} s from ${flags.promptAudio})` : ''}\n`,
  );
}

/**
 * The top half of an image, as model bytes: the image is fitted to the layout and serialised, and
 * the prompt is its first whole rows of blocks (patch scan) or pixels (raster) up to half the
 * bytes: exactly the top half when the image has an even number of them.
 */
export async function topHalf(path: string, layout: ImageLayout): Promise<Uint8Array> {
  const bytes = await readInputFile('--prompt-image', path);
  const image = decodePng(bytes, { background: [255, 255, 255] }, `--prompt-image ${userPath(path)}`);
  const serialized = serializeImage(fitImageToSquare(image, layout.size), layout);
  const rowBytes = layout.size * 3 * (layout.scan === 'patch' ? layout.patch : 1);
  return serialized.slice(0, Math.floor(serialized.length / 2 / rowBytes) * rowBytes);
}

/** A WAV clip as model bytes at the model's rate; parse errors name the flag and the file. */
async function audioPrompt(path: string, sampleRate: number): Promise<Uint8Array> {
  const bytes = await readInputFile('--prompt-audio', path);
  try {
    return wavToMuLawBytes(parseWav(bytes), sampleRate);
  } catch (error) {
    throw new Error(`--prompt-audio ${userPath(path)}: ${(error as Error).message}`);
  }
}
