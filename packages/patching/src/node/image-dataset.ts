import { stat } from 'node:fs/promises';
import { assertImageLayout, fitImageToSquare, type ImageLayout, serializeImage } from '../image.js';
import type { ReadDirectoryOptions } from './corpus-files.js';
import { decodePng } from './image-file.js';
import { type MediaDataset, type MediaSplitOptions, readMediaDocuments } from './media-split.js';

/** Image sets installed from Debian packages (nothing is downloaded by this code). */
export const IMAGE_DATASETS = {
  openclipart: {
    directory: '/usr/share/openclipart/png',
    install: 'apt-get install openclipart-png',
    description: 'about 8,100 clip-art PNGs dedicated to the public domain (Debian openclipart-png)',
  },
} as const;

export type ImageDatasetName = keyof typeof IMAGE_DATASETS;

export const IMAGE_DATASET_NAMES = Object.keys(IMAGE_DATASETS) as ImageDatasetName[];

/** The 32 x 32 patch scan with 4 x 4 blocks: P = 48 bytes, 64 patches per image. */
export const DEFAULT_IMAGE_LAYOUT: ImageLayout = { size: 32, scan: 'patch', patch: 4 };

export interface LoadImageDatasetOptions
  extends Partial<ImageLayout>,
    MediaSplitOptions,
    ReadDirectoryOptions {
  /** Colour transparent pixels and letterbox bars become (default white, as clip art is drawn on). */
  background?: readonly [number, number, number];
}

export interface ImageDataset extends MediaDataset {
  layout: ImageLayout;
}

/**
 * PNG images as model documents: each file is decoded (alpha composited over `background`),
 * letterboxed to a square, area-resized to `size` x `size` RGB and serialised in `scan` order, so
 * one image is exactly size * size * 3 bytes. `spec` is a directory (read recursively, `*.png` by
 * default) or a name from IMAGE_DATASETS. Files that are not decodable PNGs are skipped and listed.
 */
export async function loadImageDataset(
  spec: string,
  options: LoadImageDatasetOptions = {},
): Promise<ImageDataset> {
  const caller = `loadImageDataset(${spec})`;
  const layout: ImageLayout = {
    size: options.size ?? DEFAULT_IMAGE_LAYOUT.size,
    scan: options.scan ?? DEFAULT_IMAGE_LAYOUT.scan,
    patch: options.patch ?? DEFAULT_IMAGE_LAYOUT.patch,
  };
  assertImageLayout(layout, caller);
  const directory = await imageDirectory(spec);
  const background = options.background ?? [255, 255, 255];
  const dataset = await readMediaDocuments(
    directory,
    options,
    {
      include: ['**/*.{png,PNG}'],
      kind: 'PNG',
      noneHint: 'convert other formats to PNG first',
      convert: (file) =>
        serializeImage(fitImageToSquare(decodePng(file, { background }), layout.size), layout),
    },
    caller,
  );
  return { directory, layout, ...dataset };
}

async function imageDirectory(spec: string): Promise<string> {
  const named = Object.hasOwn(IMAGE_DATASETS, spec) ? IMAGE_DATASETS[spec as ImageDatasetName] : undefined;
  const directory = named?.directory ?? spec;
  const stats = await stat(directory).catch(() => undefined);
  if (named !== undefined && !stats?.isDirectory()) {
    throw new Error(
      `image dataset "${spec}" is not installed: ${directory} is missing; install it with \`${named.install}\` (as root)`,
    );
  }
  if (stats === undefined) {
    throw new Error(
      `image data "${spec}": no such directory, and not an image dataset name (known: ${IMAGE_DATASET_NAMES.join(', ')})`,
    );
  }
  if (!stats.isDirectory()) throw new Error(`image data "${spec}" is a file; give a directory of PNG files`);
  return directory;
}
