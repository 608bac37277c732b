import { assertImageLayout, type ImageLayout, imageByteLength } from './image.js';

// What a model's bytes are besides bytes. A modality is a codec (image.ts, wav.ts) plus its spec
// here: `megabyte train` writes the spec as media.json in the run directory, and the CLI's eval and
// generate and the web demo read it back through `parseSavedMedia`, so none repeats the format.

/** The file, at the top of a run directory, that holds the run's `SavedMedia`. Text runs have none. */
export const MEDIA_FILE = 'media.json';

export const MODALITIES = ['text', 'image', 'audio'] as const;
export type Modality = (typeof MODALITIES)[number];

/** How the bytes of a non-text model are laid out. */
export type MediaSpec =
  | { readonly modality: 'image'; readonly layout: ImageLayout }
  | { readonly modality: 'audio'; readonly sampleRate: number };

/** media.json: the spec plus the data it was trained on, so eval and generate need no repeated flags. */
export type SavedMedia = MediaSpec & {
  /** The data set or path the run trained on. */
  readonly data?: string | undefined;
  readonly maxFiles?: number | undefined;
  readonly validationFraction?: number | undefined;
};

/** Why a model cannot read images of a layout (see `imageFitProblem`). */
export type ImageFitProblem =
  | { readonly field: 'context'; readonly imageBytes: number; readonly contextLength: number }
  | { readonly field: 'patch'; readonly blockBytes: number; readonly patchBytes: number };

/**
 * Why a model cannot read images of `layout`, or undefined when it can. Every window holds whole
 * images (the context is a whole number of them) and, in patch scan, each model patch is one
 * image block: otherwise patches would straddle blocks and the scan would lose the locality it
 * exists for. `patchBytes` is the model's outermost patch, 1 for a model without patches.
 */
export function imageFitProblem(
  model: { readonly contextLength: number; readonly patchBytes: number },
  layout: ImageLayout,
): ImageFitProblem | undefined {
  const imageBytes = imageByteLength(layout);
  if (model.contextLength % imageBytes !== 0)
    return { field: 'context', imageBytes, contextLength: model.contextLength };
  const blockBytes = layout.patch * layout.patch * 3;
  if (layout.scan === 'patch' && model.patchBytes > 1 && model.patchBytes !== blockBytes)
    return { field: 'patch', blockBytes, patchBytes: model.patchBytes };
  return undefined;
}

/** One line on a layout, e.g. `32 x 32 RGB, patch scan (4 x 4 blocks)` or `32 x 32 RGB, raster scan`. */
export function describeImageLayout(layout: ImageLayout): string {
  const scan =
    layout.scan === 'patch' ? `patch scan (${layout.patch} x ${layout.patch} blocks)` : 'raster scan';
  return `${layout.size} x ${layout.size} RGB, ${scan}`;
}

/** Reads a media.json; `name` (its path) is named in every error, with what the file should hold. */
export function parseSavedMedia(text: string, name: string): SavedMedia {
  let media: Record<string, unknown>;
  try {
    media = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new Error(
      `${name} is not valid JSON (${error instanceof Error ? error.message : String(error)}): it should be the ${MEDIA_FILE} that \`megabyte train --modality image|audio\` wrote`,
    );
  }
  if (media === null || typeof media !== 'object' || Array.isArray(media)) {
    throw new Error(`${name} should be an object like { "modality": "image", "layout": { ... } }`);
  }
  const extras = {
    ...optional(media, 'data', name, (v) => typeof v === 'string', 'a string'),
    ...optional(
      media,
      'maxFiles',
      name,
      (v) => Number.isInteger(v) && (v as number) >= 1,
      'a positive integer',
    ),
    ...optional(
      media,
      'validationFraction',
      name,
      (v) => typeof v === 'number' && v >= 0 && v < 1,
      'a number from 0 (no validation) up to 1',
    ),
  } as Pick<SavedMedia, 'data' | 'maxFiles' | 'validationFraction'>;
  if (media.modality === 'image') return { modality: 'image', layout: imageLayoutOf(media, name), ...extras };
  if (media.modality === 'audio') {
    const { sampleRate } = media;
    if (!(Number.isInteger(sampleRate) && (sampleRate as number) >= 1)) {
      throw new Error(
        `${name}: sampleRate must be a positive integer (Hz), got ${JSON.stringify(sampleRate)}; retrain with \`megabyte train --modality audio\`, which writes it`,
      );
    }
    return { modality: 'audio', sampleRate: sampleRate as number, ...extras };
  }
  throw new Error(
    `${name}: modality must be "image" or "audio", got ${JSON.stringify(media.modality)} (a text model has no ${MEDIA_FILE}: delete it)`,
  );
}

function imageLayoutOf(media: Record<string, unknown>, name: string): ImageLayout {
  const layout = media.layout as Partial<ImageLayout> | undefined | null;
  if (layout === undefined || layout === null || typeof layout !== 'object') {
    throw new Error(
      `${name} is for an image model but has no layout ({ "size", "scan", "patch" }): without it nothing can tell how the bytes make an image; retrain with \`megabyte train --modality image\`, which writes it`,
    );
  }
  const { size, scan, patch } = layout;
  const parsed = { size, scan, patch } as ImageLayout;
  try {
    assertImageLayout(parsed, name);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)} (in its layout)`);
  }
  return parsed;
}

/** `{ [key]: value }` when the field is there and valid, `{}` when absent; an error otherwise. */
function optional(
  media: Record<string, unknown>,
  key: string,
  name: string,
  valid: (value: unknown) => boolean,
  expected: string,
): Record<string, unknown> {
  const value = media[key];
  if (value === undefined) return {};
  if (!valid(value)) throw new Error(`${name}: ${key} must be ${expected}, got ${JSON.stringify(value)}`);
  return { [key]: value };
}
