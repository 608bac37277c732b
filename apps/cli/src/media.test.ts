// tfjs-core (and its cpu backend) before any @megabyte import: one tfjs-core instance for all.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// ---
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserializeImage, encodeWav, parseWav, serializeImage } from '@megabyte/patching';
import { decodePng, encodePng, readImageFile } from '@megabyte/patching/node';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { trainCommand } from './commands/train.js';
import { readSavedMedia } from './media.js';
import { topHalf } from './media-generation.js';

let root: string;
let images: string;
let audio: string;
let imageModel: string;
let audioModel: string;

/** Commander runs a fresh command on `args`; errors throw instead of exiting the process. */
async function run(command: Command, args: string[]): Promise<void> {
  await command
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .parseAsync(args, { from: 'user' });
}

/** A 4 x 4 test card: left half dark, right half bright, rows tinted by `seed`. */
function card(seed: number) {
  const data = new Uint8Array(4 * 4 * 3);
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 4; x++) data.set([x < 2 ? 20 : 230, 40 * y, (seed * 50) % 256], (y * 4 + x) * 3);
  return { width: 4, height: 4, data };
}

function chirp(samples: number, rate: number): Uint8Array {
  const pcm = new Uint8Array(samples * 2);
  const view = new DataView(pcm.buffer);
  for (let i = 0; i < samples; i++) view.setInt16(i * 2, Math.round(6000 * Math.sin((i * i) / 400)), true);
  return encodeWav({ sampleRate: rate, channels: 1, bitsPerSample: 16, data: pcm });
}

// Micro models: a 4 x 4 image is 48 bytes, P = 2 * 2 * 3 = 12 bytes (one 2 x 2 block).
const imageConfig = {
  kind: 'megabyte',
  patchSize: 12,
  contextLength: 48,
  global: { byteDim: 2, layers: 1, heads: 2 },
  local: { dim: 8, layers: 1, heads: 2 },
};
const audioConfig = { ...imageConfig, patchSize: 4, contextLength: 64 };

const quick = ['--steps', '2', '--batch', '2', '--warmup', '0', '--eval-windows', '2', '--backend', 'cpu'];

beforeAll(async () => {
  await tf.setBackend('cpu');
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  root = await mkdtemp(join(tmpdir(), 'cli-media-'));
  images = join(root, 'images');
  audio = join(root, 'audio');
  await mkdir(images);
  await mkdir(audio);
  for (let i = 0; i < 8; i++) await writeFile(join(images, `card-${i}.png`), encodePng(card(i)));
  for (let i = 0; i < 4; i++) await writeFile(join(audio, `clip-${i}.wav`), chirp(400 + 100 * i, 16000));
  await writeFile(join(root, 'image.json'), JSON.stringify(imageConfig));
  await writeFile(join(root, 'audio.json'), JSON.stringify(audioConfig));
  imageModel = join(root, 'image-run');
  audioModel = join(root, 'audio-run');
  await run(trainCommand(), [
    ...['--modality', 'image', '--data', images, '--image-size', '4', '--validation', '0.25'],
    ...['--preset', join(root, 'image.json'), '--out', imageModel, ...quick],
  ]);
  await run(trainCommand(), [
    ...['--modality', 'audio', '--data', audio, '--preset', join(root, 'audio.json')],
    ...['--out', audioModel, '--validation', '0.25', ...quick],
  ]);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await rm(root, { recursive: true, force: true });
});

describe('megabyte train/eval/generate --modality image', () => {
  it('records the image layout with the run', async () => {
    const saved = JSON.parse(await readFile(join(imageModel, 'media.json'), 'utf8'));
    expect(saved).toMatchObject({
      modality: 'image',
      layout: { size: 4, scan: 'patch', patch: 2 },
      data: images,
      validationFraction: 0.25,
    });
  });

  it('writes a PNG of the trained size', async () => {
    const out = join(root, 'sample.png');
    await run(generateCommand(), ['--model', imageModel, '--out', out, '--seed', '1', '--backend', 'cpu']);
    const image = decodePng(await readFile(out));
    expect(image).toMatchObject({ width: 4, height: 4 });
    expect(image.data).toHaveLength(48);
  });

  it('completes an image keeping its top half exactly', async () => {
    const prompt = join(root, 'prompt.png');
    await writeFile(prompt, encodePng(card(7)));
    const out = join(root, 'completed.png');
    await run(generateCommand(), [
      ...['--model', imageModel, '--out', out, '--prompt-image', prompt, '--backend', 'cpu'],
    ]);
    const completed = await readImageFile(out);
    expect(completed.data.subarray(0, 24)).toEqual(card(7).data.subarray(0, 24));
    const layout = { size: 4, scan: 'patch', patch: 2 } as const;
    expect(await topHalf(prompt, layout)).toEqual(serializeImage(card(7), layout).subarray(0, 24));
    expect(deserializeImage(serializeImage(completed, layout), layout)).toEqual(completed);
  });

  it('scores the held-out images by default', async () => {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await run(evalCommand(), ['--model', imageModel, '--json', '--backend', 'cpu']);
      const report = JSON.parse(String(stdout.mock.calls.map((call) => call[0]).join('')));
      // 8 images, a quarter held out: 2 images of 48 bytes.
      expect(report).toMatchObject({ data: images, split: 'validation', bytes: 96 });
      expect(report.bitsPerByte).toBeGreaterThan(1);
      expect(report.bitsPerByte).toBeLessThan(9);
    } finally {
      stdout.mockRestore();
    }
  });

  it('explains flags that do not fit the model or the modality', async () => {
    const train = (extra: string[]) =>
      run(trainCommand(), ['--data', images, '--preset', join(root, 'image.json'), ...quick, ...extra]);
    await expect(train(['--modality', 'image', '--image-size', '4', '--image-patch', '1'])).rejects.toThrow(
      /patch scan with 1 x 1 blocks needs the model's patch size P = 1 \* 1 \* 3 = 3 \(one block per patch\), but the model has P = 12: use --preset image-tiny/,
    );
    await expect(train(['--modality', 'image', '--image-size', '8'])).rejects.toThrow(
      /context is 48 bytes, not a whole number of 8 x 8 RGB images \(192 bytes each\)/,
    );
    await expect(train(['--scan', 'raster'])).rejects.toThrow(
      /--scan applies to --modality image or audio, not text/,
    );
    await expect(train(['--modality', 'video'])).rejects.toThrow(/Allowed choices are text, image, audio/);
    await expect(run(trainCommand(), ['--modality', 'audio', ...quick])).rejects.toThrow(
      /--modality audio needs --data <directory of WAV files>; scripts\/make-speech-dataset\.ts/,
    );
    const generate = (extra: string[]) =>
      run(generateCommand(), ['--model', imageModel, '--backend', 'cpu', ...extra]);
    await expect(generate([])).rejects.toThrow(/--modality image writes a file: add --out <file\.png>/);
    await expect(generate(['--out', join(root, 'x.png'), '--max-bytes', '10'])).rejects.toThrow(
      /always writes one whole 4 x 4 image \(48 bytes\); drop --max-bytes/,
    );
    await expect(generate(['--out', join(root, 'x.png'), '--prompt', 'hi'])).rejects.toThrow(
      /--prompt: text only; complete an image with --prompt-image/,
    );
    await expect(generate(['--out', join(root, 'x.png'), '--scan', 'raster'])).rejects.toThrow(
      /--scan raster: this model was trained with patch/,
    );
    await expect(generate(['--modality', 'audio'])).rejects.toThrow(
      /--modality audio: this model was trained on image/,
    );
  });
});

describe('media.json', () => {
  it('is found from a run, its best/ and its step checkpoints, and a broken one is named', async () => {
    expect(await readSavedMedia(join(imageModel, 'best'))).toMatchObject({ modality: 'image' });
    expect(await readSavedMedia(join(imageModel, 'checkpoints', 'step-0000002'))).toMatchObject({
      modality: 'image',
    });
    expect(await readSavedMedia(root)).toBeUndefined();
    const broken = join(root, 'broken-run');
    await mkdir(broken);
    await writeFile(join(broken, 'media.json'), '{ "modality": ');
    await expect(readSavedMedia(broken)).rejects.toThrow(/broken-run\/media\.json is not valid JSON/);
  });
});

describe('megabyte train/generate --modality audio', () => {
  it('writes a mono 16-bit WAV at the trained rate', async () => {
    const out = join(root, 'clip.wav');
    await run(generateCommand(), [
      '--model',
      audioModel,
      '--out',
      out,
      '--max-bytes',
      '40',
      '--backend',
      'cpu',
    ]);
    const wav = parseWav(await readFile(out));
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1, bitsPerSample: 16, frameCount: 40 });
  });

  it('continues a prompt clip, which opens the output', async () => {
    const prompt = join(root, 'prompt.wav');
    await writeFile(prompt, chirp(320, 8000));
    const out = join(root, 'continued.wav');
    await run(generateCommand(), [
      ...[
        '--model',
        audioModel,
        '--out',
        out,
        '--prompt-audio',
        prompt,
        '--max-bytes',
        '16',
        '--backend',
        'cpu',
      ],
    ]);
    const wav = parseWav(await readFile(out));
    expect(wav.frameCount).toBe(320 + 16);
    // At the same rate the prompt goes through mu-law and back: within its quantisation step.
    const original = new DataView(parseWav(await readFile(prompt)).samples.buffer);
    const written = new DataView(wav.samples.buffer);
    for (let i = 0; i < 320; i++) {
      const x = original.getInt16(i * 2, true);
      expect(Math.abs(written.getInt16(i * 2, true) - x)).toBeLessThanOrEqual((Math.abs(x) + 132) / 16);
    }
  });
});
