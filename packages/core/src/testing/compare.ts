/** max |a - b| / max |b|: the error relative to the reference's scale (elementwise blows up at 0). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new Error(`length ${actual.length} != reference length ${expected.length}`);
  }
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / Math.max(scale, Number.MIN_VALUE);
}

/** Deterministic bytes for a [batch, length] input. */
export function sampleIds(batch: number, length: number, seed: number): number[] {
  return Array.from({ length: batch * length }, (_, i) => (seed * 131 + i * 97 + ((i * i) % 7)) % 256);
}
