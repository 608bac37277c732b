import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CorpusDocument } from '../corpus.js';
import { parseWav, wavToMuLawBytes } from '../wav.js';
import { listCorpusFiles, type ReadDirectoryOptions, readCorpusFile } from './corpus-files.js';
import {
  type MediaDataset,
  type MediaSplitOptions,
  type SkippedFile,
  sampleFiles,
  splitMediaDocuments,
} from './media-split.js';

/** Telephone quality: speech stays intelligible and a second of audio is 8,000 bytes. */
export const DEFAULT_AUDIO_SAMPLE_RATE = 8000;

export interface LoadAudioDatasetOptions extends MediaSplitOptions, ReadDirectoryOptions {
  /** Rate every clip is resampled to, in Hz (default 8000). */
  sampleRate?: number;
}

export interface AudioDataset extends MediaDataset {
  sampleRate: number;
}

/**
 * WAV clips (8- or 16-bit PCM, any rate, channels averaged) under `directory` (recursively,
 * `*.wav` by default) as model documents: mono, resampled to `sampleRate`, one mu-law byte per
 * sample. Files that are not PCM WAV are skipped and listed.
 */
export async function loadAudioDataset(
  directory: string,
  options: LoadAudioDatasetOptions = {},
): Promise<AudioDataset> {
  const caller = `loadAudioDataset(${directory})`;
  const sampleRate = options.sampleRate ?? DEFAULT_AUDIO_SAMPLE_RATE;
  if (!Number.isInteger(sampleRate) || sampleRate < 1) {
    throw new RangeError(`${caller}: sampleRate must be a positive integer (Hz), got ${sampleRate}`);
  }
  const stats = await stat(directory).catch(() => undefined);
  if (!stats?.isDirectory()) {
    throw new Error(
      `audio data "${directory}": ${stats ? 'is a file' : 'no such directory'}; give a directory of WAV files (scripts/make-speech-dataset.ts writes one)`,
    );
  }
  const paths = await listCorpusFiles(directory, {
    ...options,
    include: options.include ?? ['**/*.{wav,WAV}'],
  });
  if (paths.length === 0) throw new Error(`${caller}: no WAV files under ${directory}`);
  const documents: CorpusDocument[] = [];
  const skipped: SkippedFile[] = [];
  for (const name of sampleFiles(paths, options, caller)) {
    try {
      const audio = parseWav(await readCorpusFile(join(directory, name)));
      documents.push({ name, bytes: wavToMuLawBytes(audio, sampleRate) });
    } catch (error) {
      skipped.push({ name, reason: (error as Error).message });
    }
  }
  if (documents.length === 0) {
    throw new Error(`${caller}: none of the ${skipped.length} files parsed; first: ${skipped[0]?.reason}`);
  }
  const split = splitMediaDocuments(documents, options.validationFraction ?? 0.05, caller);
  return { directory, sampleRate, skipped, ...split };
}
