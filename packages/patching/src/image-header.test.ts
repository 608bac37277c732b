import { describe, expect, it } from 'vitest';
import { checkImageSize, imageHeaderSize, jpegHeaderSize, MAX_IMAGE_PIXELS } from './image-header.js';

/** The first segments of a JPEG: SOI, an APP0 segment, fill bytes, then a baseline frame header. */
function jpegHead(width: number, height: number, frameMarker = 0xc0): Uint8Array {
  const app0 = [0xff, 0xe0, 0x00, 0x10, ...new Array(14).fill(0)];
  const frame = [0xff, frameMarker, 0x00, 0x11, 8, height >> 8, height & 255, width >> 8, width & 255, 3];
  return Uint8Array.from([0xff, 0xd8, ...app0, 0xff, ...frame, ...new Array(9).fill(0)]);
}

describe('image sizes from headers', () => {
  it('reads a JPEG frame header after other segments, baseline or progressive', () => {
    expect(jpegHeaderSize(jpegHead(640, 480))).toEqual({ width: 640, height: 480 });
    expect(imageHeaderSize(jpegHead(30000, 30000, 0xc2))).toEqual({ width: 30000, height: 30000 });
  });

  it('says nothing for data that is not a JPEG or ends before the frame header', () => {
    expect(jpegHeaderSize(Uint8Array.from([1, 2, 3, 4]))).toBeUndefined();
    expect(jpegHeaderSize(jpegHead(640, 480).subarray(0, 20))).toBeUndefined();
    expect(imageHeaderSize(new Uint8Array(100))).toBeUndefined();
  });

  it('refuses sizes past the limit or empty, naming the source', () => {
    expect(() => checkImageSize(30000, 30000, 'photo.jpg')).toThrow(
      /^photo\.jpg: the image declares 30000 x 30000 = 900000000 pixels, more than the limit of 67108864/,
    );
    expect(() => checkImageSize(8192, 8192, 'ok')).not.toThrow();
    expect(MAX_IMAGE_PIXELS).toBe(8192 * 8192);
    expect(() => checkImageSize(0, 5, 'x.png')).toThrow(/x\.png: the image declares a size of 0 x 5 pixels/);
  });
});
