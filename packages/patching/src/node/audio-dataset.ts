import { stat } from 'node:fs/promises';
import { parseWav, wavToMuLawBytes } from '../wav.js';
import type { ReadDirectoryOptions } from './corpus-files.js';
import { type MediaDataset, type MediaSplitOptions, readMediaDocuments } from './media-split.js';

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
  const dataset = await readMediaDocuments(
    directory,
    options,
    {
      include: ['**/*.{wav,WAV}'],
      kind: 'WAV',
      convert: (file) => wavToMuLawBytes(parseWav(file), sampleRate),
    },
    caller,
  );
  return { directory, sampleRate, ...dataset };
}
