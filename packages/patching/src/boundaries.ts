/*
 * Dynamic patch boundaries. Every function here returns patch *start indices*: a sorted
 * Int32Array that begins with 0 (for a non-empty input), where patch i covers
 * [starts[i], starts[i + 1]) and the last patch runs to the end of the input. Convert with
 * boundariesToLengths / lengthsToBoundaries.
 */

export interface MaxPatchLengthOption {
  /** A patch that reaches this many bytes is closed and a new one starts (default: no limit). */
  maxPatchLength?: number;
}

function readMaxPatchLength(options: MaxPatchLengthOption, caller: string): number {
  const maxPatchLength = options.maxPatchLength ?? Number.POSITIVE_INFINITY;
  if (
    maxPatchLength !== Number.POSITIVE_INFINITY &&
    (!Number.isInteger(maxPatchLength) || maxPatchLength < 1)
  ) {
    throw new RangeError(`${caller}: maxPatchLength must be a positive integer, got ${maxPatchLength}`);
  }
  return maxPatchLength;
}

/**
 * Walks positions 1..length-1, starting a patch where `startsPatch(position)` says so or where the
 * current patch has reached maxPatchLength.
 */
function collectStarts(length: number, maxPatchLength: number, startsPatch: (position: number) => boolean) {
  if (length === 0) return new Int32Array(0);
  const starts = [0];
  let currentStart = 0;
  for (let position = 1; position < length; position++) {
    if (position - currentStart >= maxPatchLength || startsPatch(position)) {
      starts.push(position);
      currentStart = position;
    }
  }
  return Int32Array.from(starts);
}

/** Fixed-size patches as start indices: 0, P, 2P, ... (the last patch may be shorter). */
export function fixedBoundaries(length: number, patchSize: number): Int32Array {
  if (!Number.isInteger(patchSize) || patchSize < 1) {
    throw new RangeError(`fixedBoundaries: patch size must be a positive integer, got ${patchSize}`);
  }
  return collectStarts(length, patchSize, () => false);
}

/**
 * SpaceByte's "space-like" bytes: anything but an ASCII letter, an ASCII digit or a UTF-8
 * continuation byte (0x80..0xBF). A multi-byte character's lead byte counts as space-like.
 */
export function isSpaceLike(byte: number): boolean {
  const isDigit = byte >= 0x30 && byte <= 0x39;
  const isLetter = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
  const isContinuation = byte >= 0x80 && byte <= 0xbf;
  return !(isDigit || isLetter || isContinuation);
}

/**
 * Word-like patches following SpaceByte's rule (Slagle, 2024): a patch ends at a space-like byte
 * that is not preceded by another space-like byte, so a new patch starts right after the first
 * byte of every run of space-like bytes. The rest of a run opens the next patch, the way GPT-2
 * tokens carry their leading space: `"Hi,  you"` -> `"Hi,"`, `"  you"`.
 */
export function spaceLikeBoundaries(
  bytes: ArrayLike<number>,
  options: MaxPatchLengthOption = {},
): Int32Array {
  const maxPatchLength = readMaxPatchLength(options, 'spaceLikeBoundaries');
  return collectStarts(bytes.length, maxPatchLength, (position) => {
    const previous = bytes[position - 1]!;
    const beforePrevious = position >= 2 ? bytes[position - 2]! : undefined;
    return isSpaceLike(previous) && (beforePrevious === undefined || !isSpaceLike(beforePrevious));
  });
}

export interface EntropyBoundaryOptions extends MaxPatchLengthOption {
  /**
   * `'global'`: a patch starts at t where H(x_t) > threshold. `'monotonic'` (BLT's approximate
   * monotonicity constraint): a patch starts at t where H(x_t) - H(x_{t-1}) > relativeThreshold.
   */
  mode: 'global' | 'monotonic';
  /** theta_g, in the unit of the entropies (nats or bits); required by the global mode. */
  threshold?: number;
  /** theta_r, in the unit of the entropies; required by the monotonic mode. */
  relativeThreshold?: number;
}

/**
 * Entropy-based patches as in the Byte Latent Transformer (Pagnoni et al., 2024).
 * `entropies[t]` is the entropy of a small byte model's prediction of byte t given bytes < t, so
 * a patch starts where the next byte is hard to predict. Position 0 always starts a patch.
 */
export function entropyBoundaries(
  entropies: Float32Array | Float64Array | readonly number[],
  options: EntropyBoundaryOptions,
): Int32Array {
  const maxPatchLength = readMaxPatchLength(options, 'entropyBoundaries');
  for (let position = 0; position < entropies.length; position++) {
    if (Number.isNaN(entropies[position])) {
      throw new RangeError(`entropyBoundaries: entropy at position ${position} is NaN`);
    }
  }
  if (options.mode === 'global') {
    const threshold = requireFinite(options.threshold, 'threshold', 'global');
    return collectStarts(entropies.length, maxPatchLength, (position) => entropies[position]! > threshold);
  }
  if (options.mode === 'monotonic') {
    const relativeThreshold = requireFinite(options.relativeThreshold, 'relativeThreshold', 'monotonic');
    return collectStarts(
      entropies.length,
      maxPatchLength,
      (position) => entropies[position]! - entropies[position - 1]! > relativeThreshold,
    );
  }
  throw new Error(`entropyBoundaries: mode must be 'global' or 'monotonic', got '${String(options.mode)}'`);
}

function requireFinite(value: number | undefined, name: string, mode: string): number {
  if (value === undefined || !Number.isFinite(value)) {
    throw new RangeError(`entropyBoundaries: mode '${mode}' needs a finite ${name}, got ${value}`);
  }
  return value;
}

/** Patch lengths from start indices and the total length. */
export function boundariesToLengths(starts: ArrayLike<number>, totalLength: number): Int32Array {
  assertValidStarts(starts, totalLength);
  const lengths = new Int32Array(starts.length);
  for (let index = 0; index < starts.length; index++) {
    const end = index + 1 < starts.length ? starts[index + 1]! : totalLength;
    lengths[index] = end - starts[index]!;
  }
  return lengths;
}

/** Start indices from patch lengths (each at least 1). */
export function lengthsToBoundaries(lengths: ArrayLike<number>): Int32Array {
  const starts = new Int32Array(lengths.length);
  let position = 0;
  for (let index = 0; index < lengths.length; index++) {
    const length = lengths[index]!;
    if (!Number.isInteger(length) || length < 1) {
      throw new RangeError(`lengthsToBoundaries: patch ${index} has length ${length}; lengths must be >= 1`);
    }
    starts[index] = position;
    position += length;
  }
  return starts;
}

/** Views of `sequence` cut at the given start indices. */
export function patchesAt<T extends Uint8Array | Int32Array>(sequence: T, starts: ArrayLike<number>): T[] {
  assertValidStarts(starts, sequence.length);
  const patches: T[] = [];
  for (let index = 0; index < starts.length; index++) {
    const end = index + 1 < starts.length ? starts[index + 1]! : sequence.length;
    patches.push(sequence.subarray(starts[index]!, end) as T);
  }
  return patches;
}

function assertValidStarts(starts: ArrayLike<number>, totalLength: number): void {
  if (totalLength === 0 && starts.length === 0) return;
  if (starts[0] !== 0) {
    throw new RangeError(`patch starts must begin with 0, got ${starts[0]} (total length ${totalLength})`);
  }
  for (let index = 1; index < starts.length; index++) {
    if (!(starts[index]! > starts[index - 1]! && starts[index]! < totalLength)) {
      throw new RangeError(
        `patch starts must increase strictly and stay below the total length ${totalLength}: starts[${index - 1}] = ${starts[index - 1]}, starts[${index}] = ${starts[index]}`,
      );
    }
  }
}
