import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  globalShiftedPatches,
  globalShiftSource,
  LEARNED_PAD,
  localShiftedInputs,
  localShiftSource,
  padToMultiple,
  splitPatches,
} from './fixed-patching.js';
import { PAD_ID } from './vocabulary.js';

describe('padToMultiple', () => {
  it('right-pads with PAD_ID (never byte 0) and masks the padding', () => {
    const padded = padToMultiple([0, 1, 2, 3, 4], 4);
    expect([...padded.ids]).toEqual([0, 1, 2, 3, 4, PAD_ID, PAD_ID, PAD_ID]);
    expect([...padded.mask]).toEqual([1, 1, 1, 1, 1, 0, 0, 0]);
    expect(padded.length).toBe(5);
  });

  it('leaves exact multiples and empty input alone', () => {
    expect([...padToMultiple([7, 8], 2).mask]).toEqual([1, 1]);
    expect(padToMultiple([], 8).ids.length).toBe(0);
    expect([...padToMultiple([1], 3, -7).ids]).toEqual([1, -7, -7]);
  });

  it('rejects patch sizes that are not positive integers', () => {
    expect(() => padToMultiple([1], 0)).toThrow(/patch size must be a positive integer, got 0/);
  });

  it('always yields a multiple of P that keeps the input as its prefix', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 50 }),
        fc.integer({ min: 1, max: 9 }),
        (ids, patchSize) => {
          const padded = padToMultiple(ids, patchSize);
          return (
            padded.ids.length % patchSize === 0 &&
            padded.ids.length - ids.length < patchSize &&
            ids.every((id, index) => padded.ids[index] === id) &&
            padded.mask.reduce((sum, bit) => sum + bit, 0) === ids.length
          );
        },
      ),
    );
  });
});

describe('splitPatches', () => {
  it('cuts into [K][P] views', () => {
    expect(splitPatches([1, 2, 3, 4, 5, 6], 3).map((patch) => [...patch])).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('asks for padding when the length is not a multiple of P', () => {
    expect(() => splitPatches([1, 2, 3], 2)).toThrow(
      /length 3 is not a multiple of the patch size 2; pad it first/,
    );
  });
});

describe('shifts', () => {
  it('conditions patch k on patch k-1 and patch 0 on the learned pad', () => {
    expect([0, 1, 5].map(globalShiftSource)).toEqual([LEARNED_PAD, 0, 4]);
    expect(() => globalShiftSource(-1)).toThrow(RangeError);
  });

  it('feeds the local model the previous byte within the patch only', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((position) => localShiftSource(position, 4))).toEqual([
      -1, 0, 1, 2, -1, 4, 5, 6,
    ]);
    expect(localShiftSource(3, 1)).toBe(LEARNED_PAD);
  });

  it('builds the shifted arrays from the same definitions', () => {
    const ids = [10, 11, 12, 13, 14, 15];
    expect([...globalShiftedPatches(ids, 2)]).toEqual([-1, -1, 10, 11, 12, 13]);
    expect([...localShiftedInputs(ids, 2)]).toEqual([-1, 10, -1, 12, -1, 14]);
    expect([...localShiftedInputs(ids, 3, PAD_ID)]).toEqual([PAD_ID, 10, 11, PAD_ID, 13, 14]);
  });

  it('never lets a position see its own byte or any later byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 8 }), (patches, patchSize) => {
        const ids = Array.from({ length: patches * patchSize }, (_, position) => position);
        const global = globalShiftedPatches(ids, patchSize);
        const local = localShiftedInputs(ids, patchSize);
        return ids.every((position) => {
          const patchStart = Math.floor(position / patchSize) * patchSize;
          const localSource = local[position]!;
          const localSeesOnlyEarlierBytesOfItsPatch =
            localSource === LEARNED_PAD || (localSource >= patchStart && localSource < position);
          return global[position]! < patchStart && localSeesOnlyEarlierBytesOfItsPatch;
        });
      }),
    );
  });
});
