import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { PNG as PngCodec } from 'pngjs';
import { assertRgbImage, type RgbImage } from '../image.js';
import { checkImageSize, pngHeaderSize } from '../image-header.js';
import { writeFileAtomic } from './atomic-write.js';

/** pngjs, an optional peer dependency: only PNG files need it, so it is loaded on first use. */
function pngjs(): typeof PngCodec {
  try {
    return (createRequire(import.meta.url)('pngjs') as { PNG: typeof PngCodec }).PNG;
  } catch {
    throw new Error(
      'reading or writing PNG files needs the npm package "pngjs": install it with `npm install pngjs`',
    );
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface ReadImageOptions {
  /**
   * Colour that transparent pixels are composited over (default black, which is the same as
   * premultiplying by alpha).
   */
  background?: readonly [number, number, number];
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((byte, index) => bytes[index] === byte);
}

function describeFormat(bytes: Uint8Array): string {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'JPEG';
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) return 'GIF';
  if (startsWith(bytes, [0x42, 0x4d])) return 'BMP';
  if (
    startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) &&
    String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP'
  ) {
    return 'WebP';
  }
  return 'an unrecognised format';
}

/**
 * Decodes PNG bytes (any bit depth, palette, grey or alpha: pngjs normalises them to 8-bit RGBA)
 * into an RGB image, compositing alpha over `background`.
 */
export function decodePng(bytes: Uint8Array, options: ReadImageOptions = {}, source = 'decodePng'): RgbImage {
  if (!startsWith(bytes, PNG_SIGNATURE)) {
    throw new Error(
      `${source}: the data is ${describeFormat(bytes)}, not PNG; only PNG can be decoded in Node (convert it, e.g. \`magick in.jpg out.png\`)`,
    );
  }
  // Refused from the header: pngjs would allocate the declared size before seeing the pixels.
  const declared = pngHeaderSize(bytes);
  if (declared === undefined) throw new Error(`${source}: corrupt PNG: no IHDR chunk after the signature`);
  checkImageSize(declared.width, declared.height, source);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = pngjs().sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new Error(`${source}: corrupt PNG: ${(error as Error).message}`);
  }
  const background = options.background ?? [0, 0, 0];
  const pixelCount = decoded.width * decoded.height;
  const data = new Uint8Array(pixelCount * 3);
  for (let pixel = 0; pixel < pixelCount; pixel++) {
    const alpha = decoded.data[pixel * 4 + 3]! / 255;
    for (let channel = 0; channel < 3; channel++) {
      const value = decoded.data[pixel * 4 + channel]!;
      data[pixel * 3 + channel] = Math.round(value * alpha + background[channel]! * (1 - alpha));
    }
  }
  return { width: decoded.width, height: decoded.height, data };
}

/** Encodes an RGB image as an 8-bit RGB PNG. */
export function encodePng(image: RgbImage): Uint8Array {
  assertRgbImage(image, 'encodePng');
  const options = { colorType: 2, inputColorType: 2, inputHasAlpha: false } as const;
  const png = new (pngjs())({ width: image.width, height: image.height, ...options });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return new Uint8Array(pngjs().sync.write(png, options));
}

/** Reads an image file as RGB. Only PNG is supported in Node; other formats get an error naming them. */
export async function readImageFile(path: string, options: ReadImageOptions = {}): Promise<RgbImage> {
  const bytes = await readFile(path);
  return decodePng(bytes, options, `readImageFile(${path})`);
}

/** Writes an RGB image as PNG, atomically (temporary file, then rename). */
export async function writePngFile(path: string, image: RgbImage): Promise<void> {
  await writeFileAtomic(path, encodePng(image));
}
