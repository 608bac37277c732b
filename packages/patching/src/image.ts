/** An 8-bit RGB image: `data` holds width * height * 3 bytes, row-major, R G B per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

const CHANNELS = 3;

function assertDimensions(width: number, height: number, caller: string): void {
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new RangeError(`${caller}: width and height must be positive integers, got ${width} x ${height}`);
  }
}

function assertByteLength(byteLength: number, width: number, height: number, caller: string): void {
  const expected = width * height * CHANNELS;
  if (byteLength !== expected) {
    throw new RangeError(
      `${caller}: a ${width} x ${height} RGB image has ${expected} bytes (width * height * 3), got ${byteLength}`,
    );
  }
}

/** Throws unless `image` has positive integer dimensions and exactly width * height * 3 bytes. */
export function assertRgbImage(image: RgbImage, caller = 'assertRgbImage'): void {
  assertDimensions(image.width, image.height, caller);
  assertByteLength(image.data.length, image.width, image.height, caller);
}

function assertPatchGrid(width: number, height: number, patchSide: number, caller: string): void {
  if (!Number.isInteger(patchSide) || patchSide < 1) {
    throw new RangeError(`${caller}: patch side must be a positive integer, got ${patchSide}`);
  }
  if (width % patchSide !== 0 || height % patchSide !== 0) {
    throw new RangeError(
      `${caller}: image is ${width} x ${height}, which is not a multiple of the patch side ${patchSide} in ${width % patchSide !== 0 ? 'width' : 'height'}; resize it (resizeImage) to multiples of ${patchSide}`,
    );
  }
}

/** Raster scan: rows top to bottom, pixels left to right, 3 bytes each (a copy of `data`). */
export function imageToRasterBytes(image: RgbImage): Uint8Array {
  assertRgbImage(image, 'imageToRasterBytes');
  return image.data.slice();
}

/** Inverse of imageToRasterBytes. */
export function rasterBytesToImage(bytes: Uint8Array, width: number, height: number): RgbImage {
  assertDimensions(width, height, 'rasterBytesToImage');
  assertByteLength(bytes.length, width, height, 'rasterBytesToImage');
  return { width, height, data: bytes.slice() };
}

/**
 * The MEGABYTE patch scan: the image is cut into `patchSide` x `patchSide` blocks, taken in raster
 * order of blocks; each block contributes its pixels row-major, 3 bytes each. With a model patch
 * size P = patchSide * patchSide * 3, every model patch is exactly one image block.
 */
export function imageToPatchScanBytes(image: RgbImage, patchSide: number): Uint8Array {
  assertRgbImage(image, 'imageToPatchScanBytes');
  assertPatchGrid(image.width, image.height, patchSide, 'imageToPatchScanBytes');
  const bytes = new Uint8Array(image.data.length);
  forEachPatchScanRow(image.width, image.height, patchSide, (scanOffset, rasterOffset, length) => {
    bytes.set(image.data.subarray(rasterOffset, rasterOffset + length), scanOffset);
  });
  return bytes;
}

/** Exact inverse of imageToPatchScanBytes. */
export function patchScanBytesToImage(
  bytes: Uint8Array,
  width: number,
  height: number,
  patchSide: number,
): RgbImage {
  assertDimensions(width, height, 'patchScanBytesToImage');
  assertByteLength(bytes.length, width, height, 'patchScanBytesToImage');
  assertPatchGrid(width, height, patchSide, 'patchScanBytesToImage');
  const data = new Uint8Array(bytes.length);
  forEachPatchScanRow(width, height, patchSide, (scanOffset, rasterOffset, length) => {
    data.set(bytes.subarray(scanOffset, scanOffset + length), rasterOffset);
  });
  return { width, height, data };
}

/** Visits every pixel row of every block: where it sits in the patch scan and in the raster. */
function forEachPatchScanRow(
  width: number,
  height: number,
  patchSide: number,
  visit: (scanOffset: number, rasterOffset: number, length: number) => void,
): void {
  const rowBytes = patchSide * CHANNELS;
  let scanOffset = 0;
  for (let blockTop = 0; blockTop < height; blockTop += patchSide) {
    for (let blockLeft = 0; blockLeft < width; blockLeft += patchSide) {
      for (let y = blockTop; y < blockTop + patchSide; y++) {
        visit(scanOffset, (y * width + blockLeft) * CHANNELS, rowBytes);
        scanOffset += rowBytes;
      }
    }
  }
}

export interface ResizeOptions {
  /**
   * `'area'` (default) averages the source pixels each target pixel covers, weighted by overlap:
   * no aliasing when shrinking, and plain pixel replication with blended seams when enlarging.
   * `'nearest'` picks the source pixel under each target pixel's centre.
   */
  method?: 'area' | 'nearest';
}

/** Resizes to `width` x `height`. */
export function resizeImage(
  image: RgbImage,
  width: number,
  height: number,
  options: ResizeOptions = {},
): RgbImage {
  assertRgbImage(image, 'resizeImage');
  assertDimensions(width, height, 'resizeImage');
  const method = options.method ?? 'area';
  if (method === 'nearest') return resizeNearest(image, width, height);
  if (method === 'area') return resizeArea(image, width, height);
  throw new Error(`resizeImage: method must be 'area' or 'nearest', got '${String(method)}'`);
}

function resizeNearest(image: RgbImage, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * CHANNELS);
  for (let y = 0; y < height; y++) {
    const sourceY = Math.min(image.height - 1, Math.floor(((y + 0.5) * image.height) / height));
    for (let x = 0; x < width; x++) {
      const sourceX = Math.min(image.width - 1, Math.floor(((x + 0.5) * image.width) / width));
      const source = (sourceY * image.width + sourceX) * CHANNELS;
      data.set(image.data.subarray(source, source + CHANNELS), (y * width + x) * CHANNELS);
    }
  }
  return { width, height, data };
}

interface Contribution {
  sourceIndex: number;
  weight: number;
}

/** For each target index, the source indices it overlaps and the overlap as a fraction of the target. */
function areaContributions(sourceLength: number, targetLength: number): Contribution[][] {
  const scale = sourceLength / targetLength;
  const contributions: Contribution[][] = [];
  for (let target = 0; target < targetLength; target++) {
    const begin = target * scale;
    const end = (target + 1) * scale;
    const list: Contribution[] = [];
    for (let source = Math.floor(begin); source < Math.min(sourceLength, Math.ceil(end)); source++) {
      const overlap = Math.min(end, source + 1) - Math.max(begin, source);
      if (overlap > 0) list.push({ sourceIndex: source, weight: overlap / scale });
    }
    contributions.push(list);
  }
  return contributions;
}

// Box filtering is separable: average along rows first, then along columns.
function resizeArea(image: RgbImage, width: number, height: number): RgbImage {
  const columns = areaContributions(image.width, width);
  const rows = areaContributions(image.height, height);
  const horizontal = new Float64Array(image.height * width * CHANNELS);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < width; x++) {
      const target = (y * width + x) * CHANNELS;
      for (const { sourceIndex, weight } of columns[x]!) {
        const source = (y * image.width + sourceIndex) * CHANNELS;
        for (let channel = 0; channel < CHANNELS; channel++) {
          horizontal[target + channel]! += weight * image.data[source + channel]!;
        }
      }
    }
  }
  const data = new Uint8Array(width * height * CHANNELS);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const target = (y * width + x) * CHANNELS;
      for (let channel = 0; channel < CHANNELS; channel++) {
        let sum = 0;
        for (const { sourceIndex, weight } of rows[y]!) {
          sum += weight * horizontal[(sourceIndex * width + x) * CHANNELS + channel]!;
        }
        data[target + channel] = Math.round(sum);
      }
    }
  }
  return { width, height, data };
}

/** Byte order of a serialised image: MEGABYTE's patch scan or plain raster scan. */
export type ImageScan = 'patch' | 'raster';

export const IMAGE_SCANS: readonly ImageScan[] = ['patch', 'raster'];

/** How square images of one size become model bytes (one image = size * size * 3 bytes). */
export interface ImageLayout {
  /** Side of the square image in pixels. */
  readonly size: number;
  readonly scan: ImageScan;
  /** Side of a patch-scan block in pixels (patch scan only); the model's patch size should be patch * patch * 3. */
  readonly patch: number;
}

/** Bytes of one image in `layout`. */
export function imageByteLength(layout: ImageLayout): number {
  return layout.size * layout.size * CHANNELS;
}

/** Throws unless the layout is usable: a positive size and, for patch scan, a patch side dividing it. */
export function assertImageLayout(layout: ImageLayout, caller = 'assertImageLayout'): void {
  assertDimensions(layout.size, layout.size, caller);
  if (layout.scan !== 'patch' && layout.scan !== 'raster') {
    throw new Error(`${caller}: scan must be 'patch' or 'raster', got '${String(layout.scan)}'`);
  }
  if (layout.scan === 'patch') assertPatchGrid(layout.size, layout.size, layout.patch, caller);
}

/**
 * Letterboxes `image` to a square over `background` (centred, so nothing is cut and shapes keep
 * their proportions), then area-resizes it to `size` x `size`.
 */
export function fitImageToSquare(
  image: RgbImage,
  size: number,
  background: readonly [number, number, number] = [255, 255, 255],
): RgbImage {
  assertRgbImage(image, 'fitImageToSquare');
  assertDimensions(size, size, 'fitImageToSquare');
  const side = Math.max(image.width, image.height);
  if (image.width === image.height) return resizeImage(image, size, size);
  const square = new Uint8Array(side * side * CHANNELS);
  for (let pixel = 0; pixel < side * side; pixel++) square.set(background, pixel * CHANNELS);
  const left = Math.floor((side - image.width) / 2);
  const top = Math.floor((side - image.height) / 2);
  const rowBytes = image.width * CHANNELS;
  for (let y = 0; y < image.height; y++) {
    square.set(image.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * side + left) * CHANNELS);
  }
  return resizeImage({ width: side, height: side, data: square }, size, size);
}

/** A `layout.size` square image to model bytes in the layout's scan order. */
export function serializeImage(image: RgbImage, layout: ImageLayout): Uint8Array {
  assertImageLayout(layout, 'serializeImage');
  if (image.width !== layout.size || image.height !== layout.size) {
    throw new RangeError(
      `serializeImage: the layout is for ${layout.size} x ${layout.size} images, got ${image.width} x ${image.height}; fit it first (fitImageToSquare)`,
    );
  }
  return layout.scan === 'patch' ? imageToPatchScanBytes(image, layout.patch) : imageToRasterBytes(image);
}

/** Exact inverse of serializeImage. */
export function deserializeImage(bytes: Uint8Array, layout: ImageLayout): RgbImage {
  assertImageLayout(layout, 'deserializeImage');
  return layout.scan === 'patch'
    ? patchScanBytesToImage(bytes, layout.size, layout.size, layout.patch)
    : rasterBytesToImage(bytes, layout.size, layout.size);
}
