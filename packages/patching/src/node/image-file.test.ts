import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngHeaderSize } from '../image-header.js';
import { decodePng, encodePng, readImageFile, writePngFile } from './image-file.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'patching-image-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('PNG files', () => {
  it('round-trip any RGB image', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        (width, height, seed) => {
          const data = Uint8Array.from(
            { length: width * height * 3 },
            (_, index) => (index * 37 + seed) % 256,
          );
          const decoded = decodePng(encodePng({ width, height, data }));
          return decoded.width === width && decoded.height === height && decoded.data.join() === data.join();
        },
      ),
      { numRuns: 50 },
    );
  });

  it('writes atomically, leaving no temporary file, and reads back', async () => {
    const path = join(root, 'out.png');
    const image = { width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    await writePngFile(path, image);
    await writePngFile(path, image);
    expect(await readImageFile(path)).toEqual(image);
    expect(await readdir(root)).toEqual(['out.png']);
  });

  it('composites alpha over the background', () => {
    const png = new PNG({ width: 2, height: 1 });
    png.data = Buffer.from([200, 100, 0, 255, 200, 100, 0, 0]);
    const bytes = PNG.sync.write(png);
    expect([...decodePng(bytes).data]).toEqual([200, 100, 0, 0, 0, 0]);
    expect([...decodePng(bytes, { background: [255, 255, 255] }).data]).toEqual([200, 100, 0, 255, 255, 255]);
  });

  it('names unsupported formats and corrupt data', async () => {
    const jpeg = join(root, 'photo.jpg');
    await writeFile(jpeg, Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]));
    await expect(readImageFile(jpeg)).rejects.toThrow(
      /photo\.jpg\): the data is JPEG, not PNG; only PNG can be decoded in Node/,
    );
    const valid = encodePng({ width: 4, height: 4, data: new Uint8Array(48) });
    expect(() => decodePng(valid.subarray(0, 30))).toThrow(/corrupt PNG/);
    expect(() => encodePng({ width: 2, height: 2, data: new Uint8Array(3) })).toThrow(
      /2 x 2 RGB image has 12 bytes/,
    );
    await expect(readImageFile(join(root, 'missing.png'))).rejects.toThrow(/ENOENT/);
    expect((await readFile(jpeg)).length).toBe(6);
  });

  it('refuses a PNG declaring more pixels than the limit from its header, before decoding', () => {
    const png = encodePng({ width: 1, height: 1, data: new Uint8Array(3) });
    const view = new DataView(png.buffer, png.byteOffset);
    view.setUint32(16, 20000);
    view.setUint32(20, 20000);
    expect(pngHeaderSize(png)).toEqual({ width: 20000, height: 20000 });
    expect(() => decodePng(png, {}, 'bomb.png')).toThrow(
      /^bomb\.png: the image declares 20000 x 20000 = 400000000 pixels, more than the limit of 67108864/,
    );
    view.setUint32(16, 0);
    expect(() => decodePng(png, {}, 'empty.png')).toThrow(/declares a size of 0 x 20000 pixels/);
    expect(() => decodePng(png.subarray(0, 20), {}, 'cut.png')).toThrow(/cut\.png: corrupt PNG: no IHDR/);
  });
});
