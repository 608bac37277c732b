// Renders Brown corpus sentences as speech with Debian's espeak-ng: a real, reproducible audio set
// for `megabyte train --modality audio`. Nothing is downloaded; the WAVs go outside the repository.
//
//   apt-get install espeak-ng
//   pnpm tsx scripts/make-speech-dataset.ts --out ../shared/data/speech --count 200
//
// Writes <out>/sentence-NNNN.wav (espeak-ng's 22.05 kHz 16-bit mono PCM; training resamples it)
// and <out>/sentences.tsv (file, voice, text). The same --count, --seed and voices give the same set.
import { execFile } from 'node:child_process';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Rng } from '../packages/patching/src/index.js';
import { loadDataset, writeFileAtomic } from '../packages/patching/src/node/index.js';

const run = promisify(execFile);

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    count: { type: 'string', default: '200' },
    seed: { type: 'string', default: '0' },
    voices: { type: 'string', default: 'en-us,en-gb' },
    speed: { type: 'string', default: '150' },
  },
});

if (values.out === undefined) {
  process.stderr.write(
    'usage: pnpm tsx scripts/make-speech-dataset.ts --out <dir> [--count 200] [--seed 0] [--voices en-us,en-gb] [--speed 150]\n',
  );
  process.exit(2);
}
const count = Number(values.count);
const seed = Number(values.seed);
if (!Number.isInteger(count) || count < 1)
  throw new Error(`--count: expected an integer >= 1, got ${values.count}`);
if (!Number.isInteger(seed) || seed < 0)
  throw new Error(`--seed: expected an integer >= 0, got ${values.seed}`);
const voices = values.voices.split(',').filter((voice) => voice !== '');
const out = resolve(values.out);

try {
  await run('espeak-ng', ['--version']);
} catch {
  throw new Error(
    'espeak-ng is not installed: run `apt-get install espeak-ng` (as root), then run this again',
  );
}

// Whole sentences of 6 to 25 words: long enough to be speech, short enough for a 1-4 s clip.
const sentences: string[] = [];
for (const document of await loadDataset('brown')) {
  const text = new TextDecoder().decode(document.bytes);
  for (const sentence of text.match(/[A-Z][^.!?\n]*[.!?]/g) ?? []) {
    const words = sentence.split(' ').length;
    if (words >= 6 && words <= 25 && !/["()[\];]/.test(sentence)) sentences.push(sentence);
  }
}
const chosen = new Rng(seed).shuffle(sentences.map((_, index) => index)).slice(0, count);

await mkdir(out, { recursive: true });
const rows = ['file\tvoice\ttext'];
for (const [index, sentence] of chosen.map((i) => sentences[i]!).entries()) {
  const file = `sentence-${String(index).padStart(4, '0')}.wav`;
  const voice = voices[index % voices.length]!;
  const temporary = join(out, `.${file}.tmp`);
  try {
    await run('espeak-ng', ['-v', voice, '-s', values.speed, '-w', temporary, sentence]);
    await rename(temporary, join(out, file));
  } finally {
    await rm(temporary, { force: true });
  }
  rows.push(`${file}\t${voice}\t${sentence}`);
  if ((index + 1) % 50 === 0) process.stderr.write(`${index + 1}/${chosen.length} clips\n`);
}
await writeFileAtomic(join(out, 'sentences.tsv'), `${rows.join('\n')}\n`);
process.stderr.write(
  `wrote ${chosen.length} clips (${sentences.length} candidate sentences) to ${out}\n  megabyte train --modality audio --data ${out}\n`,
);
