import { Corpus, type CorpusDocument } from '../corpus.js';
import { describeImageLayout, type MediaSpec } from '../media-spec.js';
import { loadAudioDataset } from './audio-dataset.js';
import { loadImageDataset } from './image-dataset.js';
import type { MediaDataset } from './media-split.js';

export interface MediaCorporaOptions {
  readonly validationFraction: number;
  readonly maxFiles?: number | undefined;
  readonly include?: string[] | undefined;
  readonly exclude?: string[] | undefined;
}

export interface MediaCorpora {
  readonly train: Corpus;
  readonly validation: Corpus | undefined;
  readonly dataset: MediaDataset;
}

/**
 * The training and validation corpora of an image or audio data set (`source`: a directory, or an
 * image set's name such as `openclipart`), in the format `spec` gives. Images are laid end to end
 * without boundary ids: each is exactly one image long, so windows of a whole number of images
 * that start at 0 (the validation windows, `megabyte eval`'s windows) hold whole images. Audio
 * clips are joined like text documents, with a boundary id between clips.
 */
export async function loadMediaCorpora(
  spec: MediaSpec,
  source: string,
  options: MediaCorporaOptions,
): Promise<MediaCorpora> {
  const common = {
    validationFraction: options.validationFraction,
    limit: options.maxFiles,
    include: options.include,
    exclude: options.exclude,
  };
  const dataset =
    spec.modality === 'image'
      ? await loadImageDataset(source, { ...spec.layout, ...common })
      : await loadAudioDataset(source, { sampleRate: spec.sampleRate, ...common });
  const corpus = (documents: CorpusDocument[]) =>
    documents.length === 0
      ? undefined
      : spec.modality === 'image'
        ? Corpus.fromBytes(concatenate(documents))
        : Corpus.fromDocuments(documents);
  return { train: corpus(dataset.train)!, validation: corpus(dataset.validation), dataset };
}

function concatenate(documents: CorpusDocument[]): Uint8Array {
  const bytes = new Uint8Array(documents.reduce((sum, d) => sum + d.bytes.length, 0));
  let offset = 0;
  for (const { bytes: part } of documents) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** One line on what media corpora hold, for logs. */
export function describeMediaCorpora(spec: MediaSpec, data: MediaCorpora): string {
  const { dataset } = data;
  const files = dataset.train.length + dataset.validation.length;
  const format =
    spec.modality === 'image'
      ? describeImageLayout(spec.layout)
      : `${spec.sampleRate} Hz mono mu-law, ${((data.train.byteLength + (data.validation?.byteLength ?? 0)) / spec.sampleRate).toFixed(1)} s`;
  const skipped =
    dataset.skipped.length > 0
      ? `; skipped ${dataset.skipped.length} (first: ${dataset.skipped[0]!.name}: ${dataset.skipped[0]!.reason})`
      : '';
  return `${spec.modality}: ${files} file(s) from ${dataset.directory} as ${format}: ${dataset.train.length} train, ${dataset.validation.length} validation${skipped}`;
}
