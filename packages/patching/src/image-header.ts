/**
 * Image sizes read from file headers, so that a decompression bomb (a small file declaring a huge
 * image) is refused before any pixel is decoded, in Node and in the browser alike.
 */

/** The most pixels an image may declare: 64 megapixels (8192 x 8192), about 256 MB once decoded to RGBA. */
export const MAX_IMAGE_PIXELS = 8192 * 8192;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Width and height from a PNG's IHDR chunk (the first 24 bytes of the file), or undefined when the
 * bytes do not start like a PNG.
 */
export function pngHeaderSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 24 || !PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return undefined;
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * Throws when a declared image size is empty or over {@link MAX_IMAGE_PIXELS}, naming `source`,
 * the size, the limit and the fix.
 */
export function checkImageSize(width: number, height: number, source: string): void {
  if (width < 1 || height < 1) {
    throw new Error(
      `${source}: the image declares a size of ${width} x ${height} pixels, which holds nothing`,
    );
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new Error(
      `${source}: the image declares ${width} x ${height} = ${width * height} pixels, more than the limit of ${MAX_IMAGE_PIXELS} (8192 x 8192); scale it down first (e.g. \`magick in.png -resize 1024x1024 out.png\`)`,
    );
  }
}
