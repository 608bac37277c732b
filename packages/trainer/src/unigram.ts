import type { Corpus } from '@megabyte/patching';

/**
 * Bits per byte of the validation ids under a unigram model of the training ids (add-one
 * smoothing): the bar any context-using model must clear to show it learned more than byte
 * frequencies.
 */
export function unigramBitsPerByte(train: Corpus, validation: Corpus, vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  const chunk = 1 << 20;
  for (let start = 0; start < train.length; start += chunk) {
    for (const id of train.readIds(start, Math.min(chunk, train.length - start))) counts[id]! += 1;
  }
  const total = counts.reduce((a, b) => a + b, 0);
  let bits = 0;
  for (let start = 0; start < validation.length; start += chunk) {
    for (const id of validation.readIds(start, Math.min(chunk, validation.length - start)))
      bits -= Math.log2(counts[id]! / total);
  }
  return bits / validation.length;
}
