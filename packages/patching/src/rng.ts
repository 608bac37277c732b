/** JSON-serialisable state of an Rng: store it in a checkpoint, restore with Rng.fromState. */
export interface RngState {
  algorithm: 'sfc32';
  /** Four unsigned 32-bit words. */
  words: [number, number, number, number];
}

const TWO_POW_32 = 2 ** 32;

/** A 32-bit integer hash (splitmix-style) to spread a seed over the generator's state. */
function mix32(value: number): number {
  let z = value | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * Seeded pseudo-random numbers (Chris Doty-Humphrey's sfc32: 128-bit state, fast with 32-bit
 * integer arithmetic, good statistical quality; not cryptographic). The same seed gives the same
 * sequence on every platform, and `state()` / `Rng.fromState()` resume it exactly.
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  /** `seed`: any safe integer (negative and above 2^32 included). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng: seed must be a safe integer, got ${seed}`);
    const low = seed >>> 0;
    const high = Math.floor(seed / TWO_POW_32) >>> 0;
    this.a = mix32(low + 0x9e3779b9);
    this.b = mix32(high ^ mix32(low));
    this.c = mix32(this.a ^ this.b ^ 0x85ebca6b);
    this.d = 1;
    // Let the weakly mixed initial state diffuse before the first output.
    for (let round = 0; round < 12; round++) this.nextUint32();
  }

  static fromState(state: RngState): Rng {
    const words = state?.words;
    if (
      state?.algorithm !== 'sfc32' ||
      !Array.isArray(words) ||
      words.length !== 4 ||
      !words.every((word) => Number.isInteger(word) && word >= 0 && word < TWO_POW_32)
    ) {
      throw new Error(
        `Rng.fromState: expected { algorithm: 'sfc32', words: four unsigned 32-bit integers }, got ${JSON.stringify(state)}`,
      );
    }
    const rng = new Rng(0);
    [rng.a, rng.b, rng.c, rng.d] = words.map((word) => word | 0) as [number, number, number, number];
    return rng;
  }

  state(): RngState {
    return { algorithm: 'sfc32', words: [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0] };
  }

  /** An independent copy that continues the same sequence. */
  clone(): Rng {
    return Rng.fromState(this.state());
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n), without modulo bias; 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`Rng.int: n must be an integer in 1..2^32, got ${n}`);
    }
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const value = this.nextUint32();
      if (value < limit) return value % n;
    }
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let index = items.length - 1; index > 0; index--) {
      const other = this.int(index + 1);
      [items[index], items[other]] = [items[other]!, items[index]!];
    }
    return items;
  }
}
