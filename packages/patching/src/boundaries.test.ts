import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boundariesToLengths,
  entropyBoundaries,
  fixedBoundaries,
  isSpaceLike,
  lengthsToBoundaries,
  patchesAt,
  spaceLikeBoundaries,
} from './boundaries.js';
import { decodeText, encodeText } from './text.js';

const patchTexts = (text: string, starts: Int32Array) =>
  patchesAt(encodeText(text), starts).map((patch) => decodeText(patch));

describe('fixedBoundaries', () => {
  it('starts a patch every P bytes', () => {
    expect([...fixedBoundaries(10, 4)]).toEqual([0, 4, 8]);
    expect([...fixedBoundaries(0, 4)]).toEqual([]);
  });
});

describe('spaceLikeBoundaries', () => {
  it('classifies bytes as SpaceByte does', () => {
    expect([...encodeText('aZ09')].map(isSpaceLike)).toEqual([false, false, false, false]);
    expect([...encodeText(' ,\n_')].map(isSpaceLike)).toEqual([true, true, true, true]);
    // é is C3 A9: the lead byte is space-like, the continuation byte is not.
    expect([...encodeText('é')].map(isSpaceLike)).toEqual([true, false]);
  });

  it('ends a patch after the first space-like byte of each run', () => {
    const text = 'hello world foo';
    expect([...spaceLikeBoundaries(encodeText(text))]).toEqual([0, 6, 12]);
    expect(patchTexts('Hi,  you', spaceLikeBoundaries(encodeText('Hi,  you')))).toEqual(['Hi,', '  you']);
    expect(patchTexts('a. b', spaceLikeBoundaries(encodeText('a. b')))).toEqual(['a.', ' b']);
    expect(patchTexts(' x', spaceLikeBoundaries(encodeText(' x')))).toEqual([' ', 'x']);
  });

  it('splits after the lead byte of a multi-byte character, like SpaceByte', () => {
    expect([...spaceLikeBoundaries(encodeText('café'))]).toEqual([0, 4]);
  });

  it('forces a boundary at maxPatchLength', () => {
    expect([...spaceLikeBoundaries(encodeText('abcdefgh ij'), { maxPatchLength: 3 })]).toEqual([0, 3, 6, 9]);
    expect(() => spaceLikeBoundaries(encodeText('ab'), { maxPatchLength: 0 })).toThrow(/maxPatchLength/);
  });
});

describe('entropyBoundaries', () => {
  const entropies = [0.1, 2.0, 0.5, 0.4, 3.0, 2.9, 0.2];

  it('global rule: a patch starts where H(x_t) > theta_g', () => {
    expect([...entropyBoundaries(entropies, { mode: 'global', threshold: 1 })]).toEqual([0, 1, 4, 5]);
    expect([...entropyBoundaries(Float32Array.from(entropies), { mode: 'global', threshold: 2.95 })]).toEqual(
      [0, 4],
    );
  });

  it('monotonic rule: a patch starts where H(x_t) - H(x_t-1) > theta_r', () => {
    expect([...entropyBoundaries(entropies, { mode: 'monotonic', relativeThreshold: 0.5 })]).toEqual([
      0, 1, 4,
    ]);
    expect([...entropyBoundaries(entropies, { mode: 'monotonic', relativeThreshold: -0.15 })]).toEqual([
      0, 1, 3, 4, 5,
    ]);
  });

  it('maxPatchLength forces a boundary and restarts the count at every boundary', () => {
    expect([
      ...entropyBoundaries([0, 0, 0, 0, 0, 0, 0], { mode: 'global', threshold: 1, maxPatchLength: 3 }),
    ]).toEqual([0, 3, 6]);
    expect([
      ...entropyBoundaries([0, 5, 0, 0, 0, 0], { mode: 'global', threshold: 1, maxPatchLength: 3 }),
    ]).toEqual([0, 1, 4]);
  });

  it('asks for the threshold its mode needs and rejects NaN entropies', () => {
    expect(() => entropyBoundaries(entropies, { mode: 'global' })).toThrow(
      /mode 'global' needs a finite threshold/,
    );
    expect(() => entropyBoundaries(entropies, { mode: 'monotonic', threshold: 1 })).toThrow(
      /relativeThreshold/,
    );
    expect(() => entropyBoundaries([0, Number.NaN], { mode: 'global', threshold: 1 })).toThrow(
      /position 1 is NaN/,
    );
    expect([...entropyBoundaries([], { mode: 'global', threshold: 1 })]).toEqual([]);
  });

  it('always yields valid starts that respect maxPatchLength', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 8, noNaN: true }), { maxLength: 60 }),
        fc.double({ min: 0, max: 8, noNaN: true }),
        fc.integer({ min: 1, max: 10 }),
        fc.constantFrom('global' as const, 'monotonic' as const),
        (values, threshold, maxPatchLength, mode) => {
          const starts = entropyBoundaries(values, {
            mode,
            threshold,
            relativeThreshold: threshold - 4,
            maxPatchLength,
          });
          const lengths = boundariesToLengths(starts, values.length);
          return (
            lengths.every((length) => length >= 1 && length <= maxPatchLength) &&
            lengths.reduce((sum, length) => sum + length, 0) === values.length
          );
        },
      ),
    );
  });
});

describe('starts and lengths', () => {
  it('convert into each other and cut the sequence losslessly', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: 1, max: 12 }),
        (bytes, maxPatchLength) => {
          const starts = spaceLikeBoundaries(bytes, { maxPatchLength });
          const lengths = boundariesToLengths(starts, bytes.length);
          const rejoined = patchesAt(bytes, starts).flatMap((patch) => [...patch]);
          return (
            [...lengthsToBoundaries(lengths)].join() === [...starts].join() &&
            rejoined.join() === [...bytes].join() &&
            lengths.every((length) => length <= maxPatchLength)
          );
        },
      ),
    );
  });

  it('rejects malformed starts', () => {
    expect(() => boundariesToLengths([1, 2], 5)).toThrow(/must begin with 0/);
    expect(() => boundariesToLengths([0, 3, 3], 5)).toThrow(/increase strictly/);
    expect(() => lengthsToBoundaries([2, 0])).toThrow(/patch 1 has length 0/);
  });
});
