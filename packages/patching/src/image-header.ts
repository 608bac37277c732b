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

/** JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the size. */
const JPEG_FRAME_MARKERS = new Set([
  0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf,
]);

/**
 * Width and height from a JPEG's start-of-frame segment, walking the segments from the start, or
 * undefined when the bytes are not a JPEG or end before the frame header (read 64 KB or more).
 */
export function jpegHeaderSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 2;
  while (offset + 9 <= bytes.length) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (JPEG_FRAME_MARKERS.has(marker))
      return { height: view.getUint16(offset + 5), width: view.getUint16(offset + 7) };
    // Markers without a length (restart, start and end of image) are two bytes long.
    if ((marker >= 0xd0 && marker <= 0xd9) || marker === 0x01) offset += 2;
    else offset += 2 + view.getUint16(offset + 2);
  }
  return undefined;
}

/** A PNG's or JPEG's declared size from its first bytes, or undefined for other data. */
export function imageHeaderSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  return pngHeaderSize(bytes) ?? jpegHeaderSize(bytes);
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
