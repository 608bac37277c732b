import { type ImageLayout, serializeImage } from '@megabyte/patching';
import { describe, expect, it } from 'vitest';
import {
  assertModelShowsImages,
  completionPromptLength,
  fitRgba,
  imagePixels,
  layoutFromMedia,
  sameLayout,
} from './images.js';

const PATCH: ImageLayout = { size: 4, scan: 'patch', patch: 2 };
const RASTER: ImageLayout = { size: 4, scan: 'raster', patch: 2 };

/** A 4 x 4 image whose pixel i is (i, 100 + i, 200 + i). */
const image = {
  width: 4,
  height: 4,
  data: Uint8Array.from({ length: 48 }, (_, i) => Math.floor(i / 3) + [0, 100, 200][i % 3]!),
};

const pixel = (rgba: Uint8ClampedArray, index: number) => [...rgba.subarray(index * 4, index * 4 + 4)];

describe('layoutFromMedia', () => {
  it('reads the layout that `megabyte train --modality image` writes', () => {
    const media = { modality: 'image', layout: PATCH, data: 'openclipart', validationFraction: 0.05 };
    expect(layoutFromMedia(JSON.stringify(media), 'run/media.json')).toEqual(PATCH);
  });

  it('names what is wrong: no layout, another modality, a bad layout, not JSON', () => {
    expect(() => layoutFromMedia('{"modality":"image"}', 'run/media.json')).toThrow(
      /run\/media\.json is for an image model but has no layout/,
    );
    expect(() => layoutFromMedia('{"modality":"audio","sampleRate":8000}', 'm.json')).toThrow(
      /trained on audio; this page shows text and image models only/,
    );
    expect(() =>
      layoutFromMedia('{"modality":"image","layout":{"size":6,"scan":"patch","patch":4}}', 'm.json'),
    ).toThrow(/not a multiple of the patch side 4.*\(in its layout\)/);
    expect(() => layoutFromMedia('{"modality":', 'm.json')).toThrow(/m\.json is not valid JSON/);
  });
});

describe('assertModelShowsImages', () => {
  it('needs a context of at least one image and, in patch scan, one block per model patch', () => {
    expect(() => assertModelShowsImages({ contextLength: 48, patchBytes: 12 }, PATCH, 'run/')).not.toThrow();
    expect(() => assertModelShowsImages({ contextLength: 32, patchBytes: 12 }, PATCH, 'run/')).toThrow(
      /\(48 bytes\) but the model's context is 32 bytes/,
    );
    expect(() => assertModelShowsImages({ contextLength: 48, patchBytes: 4 }, PATCH, 'run/')).toThrow(
      /needs model patches of 12 bytes, but the model's patch size is 4/,
    );
    expect(() => assertModelShowsImages({ contextLength: 48, patchBytes: 4 }, RASTER, 'run/')).not.toThrow();
  });
});

describe('completionPromptLength', () => {
  it('is the first half of the block rows in patch scan and of the pixel rows in raster', () => {
    expect(completionPromptLength(PATCH)).toBe(24);
    expect(completionPromptLength(RASTER)).toBe(24);
    // Three block rows: the middle one is generated, never split.
    expect(completionPromptLength({ size: 6, scan: 'patch', patch: 2 })).toBe(36);
    expect(completionPromptLength({ size: 5, scan: 'raster', patch: 1 })).toBe(30);
  });

  it('covers exactly the top half of the image in both scans', () => {
    for (const layout of [PATCH, RASTER]) {
      const prompt = serializeImage(image, layout).subarray(0, completionPromptLength(layout));
      expect([...prompt].sort((a, b) => a - b)).toEqual(
        [...image.data.subarray(0, 24)].sort((a, b) => a - b),
      );
    }
  });
});

describe('imagePixels', () => {
  it('places known bytes with the scan inverse and draws a checker elsewhere', () => {
    const bytes = serializeImage(image, PATCH);
    // One patch-scan block (the top-left 2 x 2) and one byte more.
    const rgba = imagePixels(bytes, 13, PATCH);
    for (const index of [0, 1, 4, 5]) {
      expect(pixel(rgba, index)).toEqual([index, 100 + index, 200 + index, 255]);
    }
    // Pixel 2 has one of its three bytes: still unknown.
    expect(pixel(rgba, 2)).toEqual([205, 205, 205, 255]);
    expect(pixel(rgba, 3)).toEqual([225, 225, 225, 255]);
    expect(pixel(rgba, 6)).toEqual([225, 225, 225, 255]);
    expect([...imagePixels(bytes, 48, PATCH)].filter((_, i) => i % 4 !== 3)).toEqual([...image.data]);
  });

  it('fills raster scan row by row', () => {
    const rgba = imagePixels(serializeImage(image, RASTER), 12, RASTER);
    expect(pixel(rgba, 3)).toEqual([3, 103, 203, 255]);
    expect(pixel(rgba, 4)).toEqual([225, 225, 225, 255]);
  });
});

describe('fitRgba', () => {
  it('keeps an image of the right size and composites alpha over white', () => {
    const rgba = new Uint8ClampedArray(4 * 4 * 4);
    for (let i = 0; i < 16; i++) rgba.set([...image.data.subarray(i * 3, i * 3 + 3), 255], i * 4);
    expect(fitRgba(rgba, 4, 4, 4).data).toEqual(image.data);
    expect([...fitRgba(Uint8ClampedArray.from([200, 100, 0, 0]), 1, 1, 1).data]).toEqual([255, 255, 255]);
    expect([...fitRgba(Uint8ClampedArray.from([0, 0, 0, 51]), 1, 1, 1).data]).toEqual([204, 204, 204]);
  });

  it('letterboxes a wide image over white before the area resize', () => {
    const black = new Uint8ClampedArray(4 * 2 * 4);
    for (let i = 0; i < 8; i++) black[i * 4 + 3] = 255;
    // 4 x 2 becomes a 4 x 4 square with a white row above and below, then 2 x 2.
    expect([...fitRgba(black, 4, 2, 2).data]).toEqual(Array(12).fill(128));
  });
});

it('sameLayout compares by value', () => {
  expect(sameLayout(PATCH, { ...PATCH })).toBe(true);
  expect(sameLayout(PATCH, RASTER)).toBe(false);
  expect(sameLayout(undefined, PATCH)).toBe(false);
});
