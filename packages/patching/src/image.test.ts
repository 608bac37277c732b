import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deserializeImage,
  fitImageToSquare,
  type ImageLayout,
  imageByteLength,
  imageToPatchScanBytes,
  imageToRasterBytes,
  patchScanBytesToImage,
  type RgbImage,
  rasterBytesToImage,
  resizeImage,
  serializeImage,
} from './image.js';

/** Pixel i has R = i, G = 100 + i, B = 200 + i (i < 56). */
function indexedImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let pixel = 0; pixel < width * height; pixel++) data.set([pixel, 100 + pixel, 200 + pixel], pixel * 3);
  return { width, height, data };
}

const imageWithGrid = fc
  .record({
    patchSide: fc.integer({ min: 1, max: 4 }),
    blocksWide: fc.integer({ min: 1, max: 4 }),
    blocksHigh: fc.integer({ min: 1, max: 4 }),
  })
  .chain(({ patchSide, blocksWide, blocksHigh }) => {
    const width = patchSide * blocksWide;
    const height = patchSide * blocksHigh;
    return fc
      .uint8Array({ minLength: width * height * 3, maxLength: width * height * 3 })
      .map((data) => ({ image: { width, height, data }, patchSide }));
  });

describe('raster scan', () => {
  it('is the row-major RGB data and round-trips', () => {
    const image = indexedImage(3, 2);
    const bytes = imageToRasterBytes(image);
    expect([...bytes.subarray(0, 6)]).toEqual([0, 100, 200, 1, 101, 201]);
    expect(rasterBytesToImage(bytes, 3, 2)).toEqual(image);
  });

  it('names the expected and actual byte counts', () => {
    expect(() => rasterBytesToImage(new Uint8Array(17), 3, 2)).toThrow(
      /3 x 2 RGB image has 18 bytes \(width \* height \* 3\), got 17/,
    );
    expect(() => imageToRasterBytes({ width: 0, height: 2, data: new Uint8Array(0) })).toThrow(
      /positive integers/,
    );
  });
});

describe('patch scan', () => {
  it('emits p x p blocks in raster order of blocks, each block row-major', () => {
    const bytes = imageToPatchScanBytes(indexedImage(4, 4), 2);
    const redOrder = [...bytes].filter((_, index) => index % 3 === 0);
    expect(redOrder).toEqual([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
    // One model patch of P = 2 * 2 * 3 bytes is exactly one block.
    expect([...bytes.subarray(0, 12)]).toEqual([0, 100, 200, 1, 101, 201, 4, 104, 204, 5, 105, 205]);
  });

  it('round-trips exactly', () => {
    fc.assert(
      fc.property(imageWithGrid, ({ image, patchSide }) => {
        const bytes = imageToPatchScanBytes(image, patchSide);
        const back = patchScanBytesToImage(bytes, image.width, image.height, patchSide);
        return back.data.join() === image.data.join();
      }),
    );
  });

  it('explains sizes that are not multiples of the patch side', () => {
    expect(() => imageToPatchScanBytes(indexedImage(4, 3), 2)).toThrow(
      /image is 4 x 3, which is not a multiple of the patch side 2 in height; resize it/,
    );
    expect(() => patchScanBytesToImage(new Uint8Array(10), 2, 2, 2)).toThrow(/has 12 bytes .*got 10/);
    expect(() => imageToPatchScanBytes(indexedImage(2, 2), 0)).toThrow(
      /patch side must be a positive integer/,
    );
  });
});

describe('resizeImage', () => {
  it('averages areas when downscaling', () => {
    const image = {
      width: 2,
      height: 2,
      data: Uint8Array.from([0, 0, 0, 100, 100, 100, 50, 50, 50, 250, 250, 250]),
    };
    expect([...resizeImage(image, 1, 1).data]).toEqual([100, 100, 100]);
    const wide = { width: 3, height: 1, data: Uint8Array.from([0, 0, 0, 90, 90, 90, 180, 180, 180]) };
    // Each target pixel covers 1.5 source pixels: (0 + 0.5 * 90) / 1.5 and (0.5 * 90 + 180) / 1.5.
    expect([...resizeImage(wide, 2, 1).data]).toEqual([30, 30, 30, 150, 150, 150]);
  });

  it('replicates pixels when upscaling by an integer factor, with either method', () => {
    const image = indexedImage(2, 1);
    for (const method of ['area', 'nearest'] as const) {
      const big = resizeImage(image, 4, 2, { method });
      expect([...big.data].filter((_, index) => index % 3 === 0)).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
    }
  });

  it('is the identity at the same size and keeps constant images constant', () => {
    fc.assert(
      fc.property(
        imageWithGrid,
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        ({ image }, width, height) => {
          const same = resizeImage(image, image.width, image.height);
          const flat = { ...image, data: new Uint8Array(image.data.length).fill(77) };
          return (
            same.data.join() === image.data.join() &&
            resizeImage(flat, width, height).data.every((value) => value === 77)
          );
        },
      ),
    );
  });

  it('picks the source pixel under the target centre with nearest', () => {
    const image = indexedImage(4, 1);
    expect(
      [...resizeImage(image, 2, 1, { method: 'nearest' }).data].filter((_, index) => index % 3 === 0),
    ).toEqual([1, 3]);
  });
});

describe('image layouts', () => {
  it('fits any image to a square: letterboxed on the background, nothing cut', () => {
    // A 2 x 1 black image becomes a 2 x 2 square with a white row under it, then 1 x 1.
    const wide = { width: 2, height: 1, data: new Uint8Array(6) };
    const square = fitImageToSquare(wide, 2);
    expect([...square.data]).toEqual([0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255]);
    const tall = { width: 1, height: 3, data: new Uint8Array(9) };
    // 1 black column centred in 3: columns 0 and 2 are white (background red here).
    expect([...fitImageToSquare(tall, 3, [255, 0, 0]).data.subarray(0, 9)]).toEqual([
      255, 0, 0, 0, 0, 0, 255, 0, 0,
    ]);
    expect(fitImageToSquare(indexedImage(7, 5), 4)).toMatchObject({ width: 4, height: 4 });
  });

  it('serialises in the scan order and round-trips exactly', () => {
    const image = indexedImage(4, 4);
    const patch: ImageLayout = { size: 4, scan: 'patch', patch: 2 };
    const raster: ImageLayout = { size: 4, scan: 'raster', patch: 2 };
    expect(imageByteLength(patch)).toBe(48);
    expect(serializeImage(image, patch)).toEqual(imageToPatchScanBytes(image, 2));
    expect(serializeImage(image, raster)).toEqual(imageToRasterBytes(image));
    for (const layout of [patch, raster])
      expect(deserializeImage(serializeImage(image, layout), layout)).toEqual(image);
  });

  it('puts the top half of the image in the first half of the bytes, in both scans', () => {
    const image = indexedImage(4, 4);
    for (const scan of ['patch', 'raster'] as const) {
      const layout: ImageLayout = { size: 4, scan, patch: 2 };
      const bytes = serializeImage(image, layout);
      const firstHalf = deserializeImage(
        Uint8Array.from([...bytes.subarray(0, 24), ...new Uint8Array(24)]),
        layout,
      );
      expect(firstHalf.data.subarray(0, 24)).toEqual(image.data.subarray(0, 24));
    }
  });

  it('explains wrong sizes and layouts', () => {
    expect(() => serializeImage(indexedImage(4, 2), { size: 4, scan: 'raster', patch: 2 })).toThrow(
      /layout is for 4 x 4 images, got 4 x 2; fit it first/,
    );
    expect(() => serializeImage(indexedImage(6, 6), { size: 6, scan: 'patch', patch: 4 })).toThrow(
      /not a multiple of the patch side 4/,
    );
    expect(() =>
      deserializeImage(new Uint8Array(3), { size: 1, scan: 'zigzag' as 'patch', patch: 1 }),
    ).toThrow(/scan must be 'patch' or 'raster', got 'zigzag'/);
  });
});
