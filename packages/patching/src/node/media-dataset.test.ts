import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deserializeImage, imageByteLength, imageToRasterBytes } from '../image.js';
import { BOUNDARY_ID } from '../special-ids.js';
import { encodeWav, muLawDecode } from '../wav.js';
import { loadAudioDataset } from './audio-dataset.js';
import { loadImageDataset } from './image-dataset.js';
import { encodePng } from './image-file.js';
import { describeMediaCorpora, loadMediaCorpora } from './media-corpora.js';

let root: string;
let images: string;
let audio: string;

/** An 8 x 8 image: red rising left to right, green top to bottom, blue = 10 * seed. */
function gradient(seed: number, width = 8, height = 8) {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([x * 30, y * 30, seed * 10], (y * width + x) * 3);
  return { width, height, data };
}

function tone(frequency: number, rate: number, samples: number, channels = 1): Uint8Array {
  const pcm = new Uint8Array(samples * channels * 2);
  const view = new DataView(pcm.buffer);
  for (let index = 0; index < samples * channels; index++) {
    const time = Math.floor(index / channels) / rate;
    view.setInt16(index * 2, Math.round(5000 * Math.sin(2 * Math.PI * frequency * time)), true);
  }
  return encodeWav({ sampleRate: rate, channels, bitsPerSample: 16, data: pcm });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'patching-media-'));
  images = join(root, 'images');
  await mkdir(join(images, 'nested'), { recursive: true });
  for (let index = 0; index < 10; index++) {
    const folder = index % 2 === 0 ? images : join(images, 'nested');
    await writeFile(join(folder, `gradient-${index}.png`), encodePng(gradient(index)));
  }
  // Half transparent: alpha must be flattened onto white.
  const png = new PNG({ width: 8, height: 8 });
  png.data = Buffer.alloc(8 * 8 * 4, 0);
  await writeFile(join(images, 'transparent.png'), PNG.sync.write(png));
  await writeFile(join(images, 'broken.png'), encodePng(gradient(0)).subarray(0, 40));
  await writeFile(join(images, 'notes.txt'), 'not an image');
  audio = join(root, 'audio');
  await mkdir(audio);
  await writeFile(join(audio, 'a.wav'), tone(300, 22050, 22050));
  await writeFile(join(audio, 'b.wav'), tone(500, 16000, 8000, 2));
  await writeFile(join(audio, 'c.wav'), tone(700, 8000, 4000));
  await writeFile(
    join(audio, 'float.wav'),
    Uint8Array.from([...tone(1, 8000, 2)].map((b, i) => (i === 20 ? 3 : b))),
  );
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadImageDataset', () => {
  it('decodes, fits and serialises every PNG, one image per document, and holds some out', async () => {
    const dataset = await loadImageDataset(images, { size: 4, scan: 'raster', validationFraction: 0.2 });
    expect(dataset.layout).toEqual({ size: 4, scan: 'raster', patch: 4 });
    const all = [...dataset.train, ...dataset.validation];
    expect(all).toHaveLength(11);
    expect(dataset.validation).toHaveLength(2);
    expect(all.every((document) => document.bytes.length === 4 * 4 * 3)).toBe(true);
    expect(dataset.skipped).toEqual([{ name: 'broken.png', reason: expect.stringMatching(/corrupt PNG/) }]);
    const transparent = all.find((document) => document.name === 'transparent.png')!;
    expect(transparent.bytes.every((value) => value === 255)).toBe(true);
    // 8 x 8 -> 4 x 4 averages 2 x 2 blocks: the first pixel of gradient 2 is mean(0, 30) etc.
    const first = all.find((document) => document.name === 'gradient-2.png')!;
    expect([...first.bytes.subarray(0, 6)]).toEqual([15, 15, 20, 75, 15, 20]);
  });

  it('gives the same split every time and the patch scan of the same pixels', async () => {
    const raster = await loadImageDataset(images, { size: 4, scan: 'raster', validationFraction: 0.2 });
    const patch = await loadImageDataset(images, {
      size: 4,
      scan: 'patch',
      patch: 2,
      validationFraction: 0.2,
    });
    expect(patch.validation.map((d) => d.name)).toEqual(raster.validation.map((d) => d.name));
    patch.train.forEach((document, index) => {
      const image = deserializeImage(document.bytes, patch.layout);
      expect(imageToRasterBytes(image)).toEqual(raster.train[index]!.bytes);
    });
  });

  it('samples a seeded subset with limit', async () => {
    const a = await loadImageDataset(images, { size: 4, limit: 4, seed: 1, validationFraction: 0 });
    const b = await loadImageDataset(images, { size: 4, limit: 4, seed: 1, validationFraction: 0 });
    expect(a.train.map((d) => d.name)).toEqual(b.train.map((d) => d.name));
    expect(a.train.length + a.skipped.length).toBe(4);
    expect(a.validation).toEqual([]);
  });

  it('explains bad sources and layouts', async () => {
    await expect(loadImageDataset(join(root, 'missing'))).rejects.toThrow(
      /no such directory, and not an image dataset name \(known: openclipart\)/,
    );
    await expect(loadImageDataset(audio)).rejects.toThrow(/no PNG files under/);
    await expect(loadImageDataset(images, { size: 6, scan: 'patch', patch: 4 })).rejects.toThrow(
      /not a multiple of the patch side 4/,
    );
  });
});

describe('loadAudioDataset', () => {
  it('turns every PCM WAV into 8 kHz mono mu-law bytes and skips the rest', async () => {
    const dataset = await loadAudioDataset(audio, { validationFraction: 0.3 });
    expect(dataset.sampleRate).toBe(8000);
    const all = [...dataset.train, ...dataset.validation].sort((l, r) => (l.name < r.name ? -1 : 1));
    // 1 s at 22.05 kHz, 0.5 s of stereo at 16 kHz, 0.5 s at 8 kHz: all at 8 kHz now.
    expect(all.map((d) => [d.name, d.bytes.length])).toEqual([
      ['a.wav', 8000],
      ['b.wav', 4000],
      ['c.wav', 4000],
    ]);
    expect(dataset.validation).toHaveLength(1);
    expect(dataset.skipped).toEqual([{ name: 'float.wav', reason: expect.stringMatching(/parseWav/) }]);
    const peak = Math.max(...[...all[2]!.bytes].map(muLawDecode));
    expect(peak).toBeGreaterThan(4500);
    expect(peak).toBeLessThan(5500);
  });

  it('explains bad sources', async () => {
    await expect(loadAudioDataset(join(root, 'nope'))).rejects.toThrow(
      /no such directory; give a directory of WAV files/,
    );
    await expect(loadAudioDataset(images)).rejects.toThrow(/no WAV files under/);
    await expect(loadAudioDataset(audio, { sampleRate: 0 })).rejects.toThrow(
      /sampleRate must be a positive integer/,
    );
  });
});

describe('loadMediaCorpora', () => {
  it('lays images end to end, so windows of whole images from 0 hold whole images', async () => {
    const layout = { size: 4, scan: 'patch', patch: 2 } as const;
    const spec = { modality: 'image', layout } as const;
    const data = await loadMediaCorpora(spec, images, { validationFraction: 0.2 });
    const { train, validation } = data.dataset;
    expect(data.train.length).toBe(train.length * imageByteLength(layout));
    expect(data.train.readIds(imageByteLength(layout), imageByteLength(layout))).toEqual(
      Int32Array.from(train[1]!.bytes),
    );
    expect(data.validation?.length).toBe(validation.length * imageByteLength(layout));
    expect(describeMediaCorpora(spec, data)).toMatch(
      /^image: 11 file\(s\) from .* as 4 x 4 RGB, patch scan \(2 x 2 blocks\): 9 train, 2 validation; skipped 1 \(first: broken\.png/,
    );
  });

  it('joins audio clips like documents, a boundary id between clips, and none held out on 0', async () => {
    const spec = { modality: 'audio', sampleRate: 8000 } as const;
    const data = await loadMediaCorpora(spec, audio, { validationFraction: 0 });
    const lengths = data.dataset.train.map((clip) => clip.bytes.length);
    expect(data.validation).toBeUndefined();
    expect(data.train.length).toBe(lengths.reduce((a, b) => a + b) + lengths.length - 1);
    expect(data.train.readIds(lengths[0]!, 1)).toEqual(Int32Array.from([BOUNDARY_ID]));
    expect(describeMediaCorpora(spec, data)).toMatch(
      /^audio: 3 file\(s\) from .* as 8000 Hz mono mu-law, [\d.]+ s: 3 train, 0 validation; skipped 1/,
    );
  });
});
