/** Number of distinct byte values; ids below this are bytes, and byte 0 is an ordinary byte. */
export const BYTE_COUNT = 256;
/** Right-padding of sequences whose length is not a multiple of the patch size. Masked out of the loss. */
export const PAD_ID = 256;
/** Separates documents in a corpus; prompt with it to start a fresh document. */
export const BOUNDARY_ID = 257;
/** Size of the default vocabulary: 256 byte values plus PAD_ID and BOUNDARY_ID. */
export const VOCAB_SIZE = 258;

/** JSON form of a vocabulary, as stored in a model config. */
export interface VocabularyConfig {
  byteCount: typeof BYTE_COUNT;
  specialTokens: string[];
}

/**
 * Describes the id space of a byte-level model: ids 0..255 are byte values and named special
 * tokens follow from 256 in the order given. The default vocabulary is `pad` (256) and
 * `boundary` (257), matching PAD_ID and BOUNDARY_ID.
 */
export class Vocabulary {
  static readonly default = new Vocabulary(['pad', 'boundary']);

  readonly specialTokens: readonly string[];
  private readonly idsByName: ReadonlyMap<string, number>;

  constructor(specialTokens: readonly string[]) {
    const idsByName = new Map<string, number>();
    specialTokens.forEach((name, index) => {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) {
        throw new Error(`Vocabulary: special token name "${name}" must match /^[a-z][a-z0-9_]*$/`);
      }
      if (idsByName.has(name)) throw new Error(`Vocabulary: special token "${name}" is listed twice`);
      idsByName.set(name, BYTE_COUNT + index);
    });
    this.specialTokens = [...specialTokens];
    this.idsByName = idsByName;
  }

  static fromConfig(config: VocabularyConfig): Vocabulary {
    if (config.byteCount !== BYTE_COUNT) {
      throw new Error(`Vocabulary.fromConfig: byteCount must be ${BYTE_COUNT}, got ${config.byteCount}`);
    }
    return new Vocabulary(config.specialTokens);
  }

  /** Number of ids, i.e. the size of the model's embedding table and output layer. */
  get size(): number {
    return BYTE_COUNT + this.specialTokens.length;
  }

  isByte(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < BYTE_COUNT;
  }

  isSpecial(id: number): boolean {
    return Number.isInteger(id) && id >= BYTE_COUNT && id < this.size;
  }

  /** Name of a special id (`'pad'`, `'boundary'`, ...), or undefined for bytes and unknown ids. */
  specialName(id: number): string | undefined {
    return this.isSpecial(id) ? this.specialTokens[id - BYTE_COUNT] : undefined;
  }

  /** Id of a named special token; throws listing the known names. */
  specialId(name: string): number {
    const id = this.idsByName.get(name);
    if (id === undefined) {
      throw new Error(
        `Vocabulary: unknown special token "${name}"; known: ${this.specialTokens.join(', ') || '(none)'}`,
      );
    }
    return id;
  }

  /** Printable form of one id for logs: `a`, `\n`, `\xff`, or `<pad>`. */
  describe(id: number): string {
    const special = this.specialName(id);
    if (special !== undefined) return `<${special}>`;
    if (!this.isByte(id)) throw new RangeError(`Vocabulary.describe: ${id} is not an id of this vocabulary`);
    if (id === 0x0a) return '\\n';
    if (id === 0x09) return '\\t';
    if (id === 0x5c) return '\\\\';
    if (id >= 0x20 && id < 0x7f) return String.fromCharCode(id);
    return `\\x${id.toString(16).padStart(2, '0')}`;
  }

  /**
   * The bytes among `ids`, e.g. to decode generated output. Special ids are dropped with
   * `special: 'skip'` (the default) or rejected with `'error'`; ids outside the vocabulary always throw.
   */
  bytesOf(ids: ArrayLike<number>, options: { special?: 'skip' | 'error' } = {}): Uint8Array {
    const special = options.special ?? 'skip';
    const bytes = new Uint8Array(ids.length);
    let count = 0;
    for (let index = 0; index < ids.length; index++) {
      const id = ids[index]!;
      if (this.isByte(id)) {
        bytes[count++] = id;
      } else if (!this.isSpecial(id)) {
        throw new RangeError(`Vocabulary.bytesOf: id ${id} at index ${index} is outside 0..${this.size - 1}`);
      } else if (special === 'error') {
        throw new Error(`Vocabulary.bytesOf: special id ${this.describe(id)} at index ${index}`);
      }
    }
    return bytes.slice(0, count);
  }

  toConfig(): VocabularyConfig {
    return { byteCount: BYTE_COUNT, specialTokens: [...this.specialTokens] };
  }
}
