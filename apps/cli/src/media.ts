import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ModelConfig, modelGeometry } from '@megabyte/core';
import {
  IMAGE_SCANS,
  type ImageLayout,
  type ImageScan,
  imageFitProblem,
  MEDIA_FILE,
  type MediaSpec,
  MODALITIES,
  type Modality,
  parseSavedMedia,
  type SavedMedia,
} from '@megabyte/patching';
import {
  DEFAULT_AUDIO_SAMPLE_RATE,
  DEFAULT_IMAGE_LAYOUT,
  IMAGE_DATASETS,
  writeFileAtomic,
} from '@megabyte/patching/node';
import { runDirectoryOf } from '@megabyte/trainer';
import { type Command, Option } from 'commander';
import { integer, userPath } from './options.js';

/** The media flags of train, eval and generate (commander's camelCase names). */
export interface MediaFlags {
  modality?: Modality;
  scan?: ImageScan;
  imageSize?: number;
  imagePatch?: number;
  sampleRate?: number;
}

/** Adds the options behind MediaFlags, shared by every command that reads or writes media. */
export function withMediaOptions(command: Command): Command {
  const options = [
    new Option(
      '--modality <kind>',
      'text (bytes as they are), image (PNG files as RGB bytes) or audio (WAV files as 8-bit mu-law)',
    ).choices(MODALITIES),
    new Option('--scan <order>', 'image byte order: patch (p x p blocks, the paper) or raster').choices(
      IMAGE_SCANS,
    ),
    new Option(
      '--image-size <px>',
      `side images are resized to (default ${DEFAULT_IMAGE_LAYOUT.size})`,
    ).argParser(integer(1)),
    new Option(
      '--image-patch <px>',
      "patch-scan block side p (default: from the model's patch size P = p * p * 3)",
    ).argParser(integer(1)),
    new Option(
      '--sample-rate <hz>',
      `audio is resampled to this rate (default ${DEFAULT_AUDIO_SAMPLE_RATE})`,
    ).argParser(integer(1)),
  ];
  for (const option of options) command.addOption(option);
  return command;
}

/**
 * The media.json of the run a checkpoint belongs to: in the checkpoint itself, else in its run
 * directory (`runDirectoryOf`: above `best/` or `checkpoints/step-N/`).
 */
export async function readSavedMedia(checkpointDir: string): Promise<SavedMedia | undefined> {
  for (const dir of new Set([checkpointDir, runDirectoryOf(checkpointDir)])) {
    const path = join(dir, MEDIA_FILE);
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text !== undefined) return parseSavedMedia(text, path);
  }
  return undefined;
}

export async function writeSavedMedia(runDir: string, saved: SavedMedia): Promise<void> {
  await writeFileAtomic(join(runDir, MEDIA_FILE), `${JSON.stringify(saved, null, 2)}\n`);
}

/**
 * The media spec for a model: flags first, else what the run saved, else defaults; undefined for
 * text. A flag that contradicts the saved spec is an error (the model only knows its own format).
 */
export function resolveMedia(
  flags: MediaFlags,
  config: ModelConfig,
  saved: SavedMedia | undefined,
): MediaSpec | undefined {
  const modality = flags.modality ?? saved?.modality ?? 'text';
  if (saved !== undefined && saved.modality !== modality) {
    throw new Error(
      `--modality ${modality}: this model was trained on ${saved.modality} (see its ${MEDIA_FILE}); drop --modality or pass ${saved.modality}`,
    );
  }
  const savedImage = saved?.modality === 'image' ? saved.layout : undefined;
  const savedRate = saved?.modality === 'audio' ? saved.sampleRate : undefined;
  const agree = <T>(flag: string, given: T | undefined, kept: T | undefined): T | undefined => {
    if (given !== undefined && kept !== undefined && given !== kept) {
      throw new Error(
        `${flag} ${given}: this model was trained with ${kept} (see its ${MEDIA_FILE}); drop ${flag}`,
      );
    }
    return given ?? kept;
  };
  if (modality === 'text') {
    const stray = (['scan', 'imageSize', 'imagePatch', 'sampleRate'] as const).find(
      (k) => flags[k] !== undefined,
    );
    if (stray) throw new Error(`--${kebab(stray)} applies to --modality image or audio, not text`);
    return undefined;
  }
  if (modality === 'audio') {
    if (flags.scan ?? flags.imageSize ?? flags.imagePatch) {
      throw new Error('--scan, --image-size and --image-patch apply to --modality image, not audio');
    }
    return {
      modality,
      sampleRate: agree('--sample-rate', flags.sampleRate, savedRate) ?? DEFAULT_AUDIO_SAMPLE_RATE,
    };
  }
  if (flags.sampleRate !== undefined) throw new Error('--sample-rate applies to --modality audio, not image');
  const scan = agree('--scan', flags.scan, savedImage?.scan) ?? DEFAULT_IMAGE_LAYOUT.scan;
  const layout: ImageLayout = {
    size: agree('--image-size', flags.imageSize, savedImage?.size) ?? DEFAULT_IMAGE_LAYOUT.size,
    scan,
    patch: agree('--image-patch', flags.imagePatch, savedImage?.patch) ?? blockSideOf(config),
  };
  assertModelFitsImages(config, layout);
  return { modality, layout };
}

/** p such that the model's patch size is p * p * 3 (one p x p RGB block), else the default. */
function blockSideOf(config: ModelConfig): number {
  const patchSize = modelGeometry(config).stepBytes;
  if (patchSize === 1) return DEFAULT_IMAGE_LAYOUT.patch;
  const side = Math.round(Math.sqrt(patchSize / 3));
  return side * side * 3 === patchSize ? side : DEFAULT_IMAGE_LAYOUT.patch;
}

/** Refuses a model that cannot read images of the layout (see `imageFitProblem`), naming the flags that fix it. */
export function assertModelFitsImages(config: ModelConfig, layout: ImageLayout): void {
  const { size, patch } = layout;
  const problem = imageFitProblem(
    { contextLength: config.contextLength, patchBytes: modelGeometry(config).stepBytes },
    layout,
  );
  if (problem?.field === 'context') {
    throw new Error(
      `the model's context is ${problem.contextLength} bytes, not a whole number of ${size} x ${size} RGB images (${problem.imageBytes} bytes each): ` +
        `use --preset image-tiny (32 x 32, context 3072), a config with contextLength ${problem.imageBytes}, or --image-size to match`,
    );
  }
  if (problem?.field === 'patch') {
    throw new Error(
      `patch scan with ${patch} x ${patch} blocks needs the model's patch size P = ${patch} * ${patch} * 3 = ${problem.blockBytes} (one block per patch), but the model has P = ${problem.patchBytes}: ` +
        `use --preset image-tiny (P = 48, 4 x 4 blocks), a config with patchSize ${problem.blockBytes}, or --scan raster`,
    );
  }
}

/** Media data as given on the command line: an image set's name as it is, else a path from the user's directory. */
export function mediaDataPath(data: string): string {
  return Object.hasOwn(IMAGE_DATASETS, data) ? data : userPath(data);
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
