import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Corpus, RandomWindowSampler, splitCorpus } from './corpus.js';
import { BOUNDARY_ID } from './special-ids.js';
import { decodeText } from './text.js';

/** One document whose byte at position i is i (mod 256): a window's start is readable from its first id. */
const countingCorpus = (length: number) =>
  Corpus.fromBytes(Uint8Array.from({ length }, (_, index) => index % 256));

const documentsArbitrary = fc.array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 6 });

describe('Corpus', () => {
  it('joins documents with the boundary id and keeps byte 0 as a byte', () => {
    const corpus = Corpus.fromDocuments(['ab', Uint8Array.from([0]), { bytes: Uint8Array.from([99]) }]);
    expect([...corpus.toIds()]).toEqual([97, 98, BOUNDARY_ID, 0, BOUNDARY_ID, 99]);
    expect(corpus.length).toBe(6);
    expect(corpus.documentCount).toBe(3);
    expect(corpus.byteLength).toBe(4);
    expect(decodeText(corpus.document(0))).toBe('ab');
  });

  it('reads any range of the id stream, empty documents included', () => {
    fc.assert(
      fc.property(documentsArbitrary, fc.nat(), fc.nat(), (documents, startSeed, lengthSeed) => {
        const corpus = Corpus.fromDocuments(documents);
        const expected = documents.flatMap((document, index) =>
          index === 0 ? [...document] : [BOUNDARY_ID, ...document],
        );
        const start = startSeed % (corpus.length + 1);
        const length = lengthSeed % (corpus.length - start + 1);
        return corpus.readIds(start, length).join() === expected.slice(start, start + length).join();
      }),
    );
  });

  it('rejects ranges outside the stream', () => {
    expect(() => countingCorpus(5).readIds(3, 3)).toThrow(/range \[3, 6\) is outside the corpus of 5 ids/);
    expect(() => Corpus.fromDocuments([])).toThrow(/no documents/);
  });
});

describe('RandomWindowSampler', () => {
  it('starts every window at a multiple of alignment, and resumes only with the same one', () => {
    // Ten "images" of 12 bytes in one stream, each byte its image's number: an aligned window of
    // one image is uniform.
    const corpus = Corpus.fromBytes(Uint8Array.from({ length: 120 }, (_, i) => Math.floor(i / 12)));
    const sampler = new RandomWindowSampler(corpus, { windowLength: 12, seed: 3, alignment: 12 });
    const seen = new Set<number>();
    for (const row of Array.from({ length: 60 }, () => [...sampler.next()])) {
      expect(new Set(row).size, `window ${row}`).toBe(1);
      seen.add(row[0]!);
    }
    expect(seen.size).toBe(10); // every image can be drawn, the last one included
    const batch = sampler.nextBatch(4);
    for (let r = 0; r < 4; r++) expect(new Set(batch.ids.subarray(r * 12, (r + 1) * 12)).size).toBe(1);
    // Unaligned windows straddle images: the comparison can fail.
    const anywhere = new RandomWindowSampler(corpus, { windowLength: 12, seed: 3 });
    expect(Array.from({ length: 20 }, () => new Set(anywhere.next()).size).some((n) => n > 1)).toBe(true);
    expect(() => anywhere.restore(sampler.state())).toThrow(
      /multiples of 12, but this sampler starts them at multiples of 1/,
    );
    expect(() => new RandomWindowSampler(corpus, { windowLength: 12, seed: 3, alignment: 0 })).toThrow(
      /alignment/,
    );
  });

  it('draws contiguous windows reproducibly from a seed', () => {
    const corpus = countingCorpus(200);
    const windows = (seed: number) => {
      const sampler = new RandomWindowSampler(corpus, { windowLength: 9, seed });
      return Array.from({ length: 20 }, () => [...sampler.next()]);
    };
    const first = windows(1);
    expect(windows(1)).toEqual(first);
    expect(windows(2)).not.toEqual(first);
    for (const window of first) {
      expect(window).toEqual(Array.from({ length: 9 }, (_, offset) => window[0]! + offset));
    }
  });

  it('resumes from a saved state with the identical continuation', () => {
    const corpus = Corpus.fromDocuments(['first document', 'second', 'and a third one']);
    const original = new RandomWindowSampler(corpus, { windowLength: 5, seed: 11 });
    for (let index = 0; index < 7; index++) original.next();
    const saved = JSON.parse(JSON.stringify(original.state()));
    const continuation = [original.nextBatch(4).ids, original.next()];

    const resumed = new RandomWindowSampler(corpus, { windowLength: 5, seed: 999 });
    resumed.restore(saved);
    expect(resumed.position).toBe(7);
    expect([resumed.nextBatch(4).ids, resumed.next()]).toEqual(continuation);
  });

  it('builds the same batch from nextBatch as from stacking next()', () => {
    const corpus = countingCorpus(50);
    const batched = new RandomWindowSampler(corpus, { windowLength: 4, seed: 5 }).nextBatch(3);
    const single = new RandomWindowSampler(corpus, { windowLength: 4, seed: 5 });
    const [a, b, c] = single;
    expect(batched).toEqual({ ids: Int32Array.from([...a!, ...b!, ...c!]), batch: 3, length: 4 });
  });

  it('says how big the corpus is and what one window needs', () => {
    expect(() => new RandomWindowSampler(countingCorpus(10), { windowLength: 65, seed: 0 })).toThrow(
      /the corpus has 10 ids but one window needs 65 \(the context T\); use a larger corpus or a shorter context/,
    );
  });

  it('refuses a state saved for another corpus or window length', () => {
    const state = new RandomWindowSampler(countingCorpus(30), { windowLength: 4, seed: 0 }).state();
    expect(() =>
      new RandomWindowSampler(countingCorpus(31), { windowLength: 4, seed: 0 }).restore(state),
    ).toThrow(/state is for windows of 4 over 30 ids, but this sampler has windows of 4 over 31 ids/);
  });
});

describe('splitCorpus', () => {
  const documents = Array.from({ length: 20 }, (_, index) => `document number ${index}`);

  it('holds out whole documents, deterministically for a seed', () => {
    const split = splitCorpus(documents, { validationFraction: 0.2, seed: 1 });
    expect(split.mode).toBe('documents');
    expect(split.validationDocuments).toHaveLength(4);
    expect(splitCorpus(documents, { validationFraction: 0.2, seed: 1 }).validationDocuments).toEqual(
      split.validationDocuments,
    );
    expect(splitCorpus(documents, { validationFraction: 0.2, seed: 2 }).validationDocuments).not.toEqual(
      split.validationDocuments,
    );
    const texts = (corpus: Corpus) =>
      Array.from({ length: corpus.documentCount }, (_, index) => decodeText(corpus.document(index)));
    const train = texts(split.train);
    const validation = texts(split.validation);
    expect(train.filter((text) => validation.includes(text))).toEqual([]);
    expect([...train, ...validation].sort()).toEqual([...documents].sort());
    expect(validation).toEqual(split.validationDocuments.map((index) => documents[index]));
  });

  it('keeps at least one document on each side', () => {
    expect(splitCorpus(['a', 'b'], { validationFraction: 0.01 }).validationDocuments).toHaveLength(1);
    expect(splitCorpus(['a', 'b', 'c'], { validationFraction: 0.99 }).train.documentCount).toBe(1);
  });

  it('cuts a single document into a contiguous tail', () => {
    const bytes = Uint8Array.from({ length: 100 }, (_, index) => index);
    const split = splitCorpus(bytes, { validationFraction: 0.1 });
    expect(split.mode).toBe('tail');
    expect([...split.train.toIds()]).toEqual([...bytes.subarray(0, 90)]);
    expect([...split.validation.toIds()]).toEqual([...bytes.subarray(90)]);
    expect(splitCorpus(Corpus.fromBytes(bytes), { validationFraction: 0.1 }).validation.length).toBe(10);
  });

  it('rejects fractions outside (0, 1) and documents too small to split', () => {
    expect(() => splitCorpus(documents, { validationFraction: 0 })).toThrow(
      /strictly between 0 and 1, got 0/,
    );
    expect(() => splitCorpus(Uint8Array.from([1]), { validationFraction: 0.5 })).toThrow(
      /1 bytes cannot be split/,
    );
  });
});
