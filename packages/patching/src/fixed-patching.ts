import { PAD_ID } from './vocabulary.js';

/**
 * Returned by the shift functions where the model uses a learned pad (the pad patch of the global
 * model, the pad vector of the local model) instead of real bytes.
 */
export const LEARNED_PAD = -1;

export interface PaddedIds {
  /** The ids followed by `padId` up to a multiple of the patch size. */
  ids: Int32Array;
  /** 1 where `ids` holds a real id, 0 on padding: multiply the per-byte loss by it. */
  mask: Uint8Array;
  /** Number of real ids (the input length). */
  length: number;
}

export function assertPatchSize(patchSize: number, caller: string): void {
  if (!Number.isInteger(patchSize) || patchSize < 1) {
    throw new RangeError(`${caller}: patch size must be a positive integer, got ${patchSize}`);
  }
}

function assertMultipleOfPatch(length: number, patchSize: number, caller: string): void {
  if (length % patchSize !== 0) {
    throw new RangeError(
      `${caller}: length ${length} is not a multiple of the patch size ${patchSize}; pad it first with padToMultiple`,
    );
  }
}

/** Right-pads `ids` to the next multiple of `patchSize` (an empty input stays empty). */
export function padToMultiple(ids: ArrayLike<number>, patchSize: number, padId: number = PAD_ID): PaddedIds {
  assertPatchSize(patchSize, 'padToMultiple');
  const length = ids.length;
  const paddedLength = Math.ceil(length / patchSize) * patchSize;
  const padded = new Int32Array(paddedLength);
  padded.set(ids);
  padded.fill(padId, length);
  const mask = new Uint8Array(paddedLength);
  mask.fill(1, 0, length);
  return { ids: padded, mask, length };
}

/** Cuts `ids` into K = length / P patches; each is a view into one shared buffer. */
export function splitPatches(ids: ArrayLike<number>, patchSize: number): Int32Array[] {
  assertPatchSize(patchSize, 'splitPatches');
  assertMultipleOfPatch(ids.length, patchSize, 'splitPatches');
  const all = ids instanceof Int32Array ? ids : Int32Array.from(ids);
  const patches: Int32Array[] = [];
  for (let start = 0; start < all.length; start += patchSize) {
    patches.push(all.subarray(start, start + patchSize));
  }
  return patches;
}

/**
 * The patch whose embedding is the global model's input at patch `patchIndex`: the previous
 * patch, so that the output at patch k has seen only patches < k. LEARNED_PAD (-1) for patch 0.
 */
export function globalShiftSource(patchIndex: number): number {
  if (!Number.isInteger(patchIndex) || patchIndex < 0) {
    throw new RangeError(`globalShiftSource: patch index must be a non-negative integer, got ${patchIndex}`);
  }
  return patchIndex - 1;
}

/**
 * The sequence position whose byte the local model reads at `position`: the previous byte when it
 * lies in the same patch, LEARNED_PAD (-1) at the first position of each patch (what came before
 * reaches the local model only through the global model).
 */
export function localShiftSource(position: number, patchSize: number): number {
  assertPatchSize(patchSize, 'localShiftSource');
  if (!Number.isInteger(position) || position < 0) {
    throw new RangeError(`localShiftSource: position must be a non-negative integer, got ${position}`);
  }
  return position % patchSize === 0 ? LEARNED_PAD : position - 1;
}

/**
 * The global input at byte level: patch k holds the ids of patch k-1 and patch 0 holds
 * `padMarker`. Same length as `ids`, which must be a multiple of `patchSize`.
 */
export function globalShiftedPatches(
  ids: ArrayLike<number>,
  patchSize: number,
  padMarker: number = LEARNED_PAD,
): Int32Array {
  assertPatchSize(patchSize, 'globalShiftedPatches');
  assertMultipleOfPatch(ids.length, patchSize, 'globalShiftedPatches');
  const shifted = new Int32Array(ids.length);
  for (let position = 0; position < ids.length; position++) {
    const sourcePatch = globalShiftSource(Math.floor(position / patchSize));
    shifted[position] =
      sourcePatch === LEARNED_PAD ? padMarker : ids[sourcePatch * patchSize + (position % patchSize)]!;
  }
  return shifted;
}

/** The local model's byte input at every position: `ids[localShiftSource(t)]`, or `padMarker`. */
export function localShiftedInputs(
  ids: ArrayLike<number>,
  patchSize: number,
  padMarker: number = LEARNED_PAD,
): Int32Array {
  assertPatchSize(patchSize, 'localShiftedInputs');
  const shifted = new Int32Array(ids.length);
  for (let position = 0; position < ids.length; position++) {
    const source = localShiftSource(position, patchSize);
    shifted[position] = source === LEARNED_PAD ? padMarker : ids[source]!;
  }
  return shifted;
}
