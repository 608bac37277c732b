import { Rng, type RngState } from './rng.js';
import { BOUNDARY_ID } from './special-ids.js';
import { encodeText } from './text.js';

/** A named document, as the Node loaders return them. */
export interface CorpusDocument {
  /** File path relative to the source, or the dataset's document id (e.g. `ca01`). */
  name: string;
  bytes: Uint8Array;
  /** Genre or other grouping, where the source has one. */
  category?: string;
}

/** Anything that can become a corpus document: bytes, text (encoded as UTF-8) or a CorpusDocument. */
export type DocumentInput = Uint8Array | string | { bytes: Uint8Array };

function documentBytes(document: DocumentInput): Uint8Array {
  if (typeof document === 'string') return encodeText(document);
  return document instanceof Uint8Array ? document : document.bytes;
}

/**
 * The training stream: the bytes of every document, in order, with BOUNDARY_ID between
 * consecutive documents (none before the first or after the last). Bytes are stored once as a
 * Uint8Array; ids are materialised as Int32Array only for the windows that are read, so a corpus
 * costs one byte per byte, not four.
 */
export class Corpus {
  private readonly bytes: Uint8Array;
  /** byteStarts[d] is where document d begins in `bytes`; the last entry is bytes.length. */
  private readonly byteStarts: readonly number[];

  private constructor(bytes: Uint8Array, byteStarts: readonly number[]) {
    this.bytes = bytes;
    this.byteStarts = byteStarts;
  }

  /** A corpus of one document (no boundary ids). The bytes are shared, not copied. */
  static fromBytes(bytes: Uint8Array): Corpus {
    return new Corpus(bytes, [0, bytes.length]);
  }

  /** Documents joined by BOUNDARY_ID. */
  static fromDocuments(documents: readonly DocumentInput[]): Corpus {
    if (documents.length === 0) throw new Error('Corpus.fromDocuments: no documents given');
    const parts = documents.map(documentBytes);
    const byteStarts = [0];
    for (const part of parts) byteStarts.push(byteStarts.at(-1)! + part.length);
    const bytes = new Uint8Array(byteStarts.at(-1)!);
    parts.forEach((part, index) => {
      bytes.set(part, byteStarts[index]);
    });
    return new Corpus(bytes, byteStarts);
  }

  /** Number of ids in the stream: all bytes plus one boundary between each pair of documents. */
  get length(): number {
    return this.bytes.length + this.documentCount - 1;
  }

  get documentCount(): number {
    return this.byteStarts.length - 1;
  }

  /** Total bytes over all documents (boundaries excluded). */
  get byteLength(): number {
    return this.bytes.length;
  }

  /** The bytes of document `index` (a view). */
  document(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.documentCount) {
      throw new RangeError(`Corpus.document: index ${index} is outside 0..${this.documentCount - 1}`);
    }
    return this.bytes.subarray(this.byteStarts[index], this.byteStarts[index + 1]);
  }

  /** Stream position of the first byte of document `index`. */
  private streamStart(index: number): number {
    return this.byteStarts[index]! + index;
  }

  /** The ids at stream positions [start, start + length), written into `target` at `targetOffset`. */
  readIds(start: number, length: number, target = new Int32Array(length), targetOffset = 0): Int32Array {
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(length) ||
      start < 0 ||
      length < 0 ||
      start + length > this.length
    ) {
      throw new RangeError(
        `Corpus.readIds: range [${start}, ${start + length}) is outside the corpus of ${this.length} ids`,
      );
    }
    if (targetOffset + length > target.length) {
      throw new RangeError(
        `Corpus.readIds: ${length} ids do not fit in the target at offset ${targetOffset}`,
      );
    }
    let document = this.documentAt(start);
    let position = start;
    let written = targetOffset;
    const end = start + length;
    while (position < end) {
      const offsetInDocument = position - this.streamStart(document);
      const documentLength = this.byteStarts[document + 1]! - this.byteStarts[document]!;
      if (offsetInDocument < documentLength) {
        const count = Math.min(end - position, documentLength - offsetInDocument);
        const from = this.byteStarts[document]! + offsetInDocument;
        target.set(this.bytes.subarray(from, from + count), written);
        written += count;
        position += count;
      } else {
        target[written++] = BOUNDARY_ID;
        position += 1;
        document += 1;
      }
    }
    return target;
  }

  /** The whole stream as ids (four bytes per id: prefer readIds for large corpora). */
  toIds(): Int32Array {
    return this.readIds(0, this.length);
  }

  /** The document whose bytes, or trailing boundary, contain stream position `position`. */
  private documentAt(position: number): number {
    let low = 0;
    let high = this.documentCount - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.streamStart(middle) <= position) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}

function assertWindowFits(corpus: Corpus, windowLength: number, caller: string): void {
  if (!Number.isInteger(windowLength) || windowLength < 1) {
    throw new RangeError(
      `${caller}: window length must be a positive integer (the context T), got ${windowLength}`,
    );
  }
  if (corpus.length < windowLength) {
    throw new RangeError(
      `${caller}: the corpus has ${corpus.length} ids but one window needs ${windowLength} (the context T); use a larger corpus or a shorter context`,
    );
  }
}

export interface RandomWindowSamplerOptions {
  /** Ids per window: the context length T. The model shifts inside, so a window is its own target. */
  windowLength: number;
  seed: number;
  /**
   * Windows start at multiples of this many ids: for a stream of records of one size, such as
   * images serialised in patch order, which a window that starts mid-record would scramble.
   * Default 1: any position.
   */
  alignment?: number;
}

/** Serialisable position of a RandomWindowSampler, for checkpoints. */
export interface RandomWindowSamplerState {
  rng: RngState;
  windowsDrawn: number;
  windowLength: number;
  corpusLength: number;
  alignment?: number;
}

/**
 * Windows of `windowLength` ids at uniformly random stream positions (with replacement). The
 * sequence depends only on the corpus and the seed; `state()` and `restore()` continue it exactly.
 * Iterating never ends: take as many windows as needed, or use nextBatch.
 */
export class RandomWindowSampler implements Iterable<Int32Array> {
  readonly windowLength: number;
  private readonly corpus: Corpus;
  private rng: Rng;
  private windowsDrawn = 0;
  private readonly alignment: number;

  constructor(corpus: Corpus, options: RandomWindowSamplerOptions) {
    assertWindowFits(corpus, options.windowLength, 'RandomWindowSampler');
    this.corpus = corpus;
    this.windowLength = options.windowLength;
    this.rng = new Rng(options.seed);
    this.alignment = options.alignment ?? 1;
    if (!Number.isInteger(this.alignment) || this.alignment < 1) {
      throw new RangeError(
        `RandomWindowSampler: alignment must be a positive integer, got ${options.alignment}`,
      );
    }
  }

  /** A uniform draw among the aligned positions that leave room for a whole window (0 always does). */
  private nextStart(): number {
    this.windowsDrawn += 1;
    const starts = Math.floor((this.corpus.length - this.windowLength) / this.alignment) + 1;
    return this.rng.int(starts) * this.alignment;
  }

  /** Number of windows drawn so far. */
  get position(): number {
    return this.windowsDrawn;
  }

  next(): Int32Array {
    return this.corpus.readIds(this.nextStart(), this.windowLength);
  }

  /** `batchSize` windows as one [batchSize, windowLength] batch. */
  nextBatch(batchSize: number): Batch {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `RandomWindowSampler.nextBatch: batch size must be a positive integer, got ${batchSize}`,
      );
    }
    const ids = new Int32Array(batchSize * this.windowLength);
    for (let row = 0; row < batchSize; row++) {
      this.corpus.readIds(this.nextStart(), this.windowLength, ids, row * this.windowLength);
    }
    return { ids, batch: batchSize, length: this.windowLength };
  }

  *[Symbol.iterator](): Iterator<Int32Array> {
    for (;;) yield this.next();
  }

  state(): RandomWindowSamplerState {
    return {
      rng: this.rng.state(),
      windowsDrawn: this.windowsDrawn,
      windowLength: this.windowLength,
      corpusLength: this.corpus.length,
      ...(this.alignment > 1 && { alignment: this.alignment }),
    };
  }

  /** Continues from a saved state; the corpus and window length must be the ones it was saved with. */
  restore(state: RandomWindowSamplerState): void {
    if ((state.alignment ?? 1) !== this.alignment) {
      throw new Error(
        `RandomWindowSampler.restore: the state is for windows starting at multiples of ${state.alignment ?? 1}, but this sampler starts them at multiples of ${this.alignment}`,
      );
    }
    if (state.windowLength !== this.windowLength || state.corpusLength !== this.corpus.length) {
      throw new Error(
        `RandomWindowSampler.restore: the state is for windows of ${state.windowLength} over ${state.corpusLength} ids, but this sampler has windows of ${this.windowLength} over ${this.corpus.length} ids`,
      );
    }
    this.rng = Rng.fromState(state.rng);
    this.windowsDrawn = state.windowsDrawn;
  }
}

/**
 * Windows stacked row-major into [batch, length]. A window of T ids is a model input as it is:
 * the model predicts each id from the ones before it (its shifts are inside), so the targets are
 * the window itself.
 */
export interface Batch {
  ids: Int32Array;
  batch: number;
  length: number;
}

export interface SplitOptions {
  /** Share of documents (or of bytes, for a single document) held out, strictly between 0 and 1. */
  validationFraction: number;
  /** Chooses which documents are held out (default 0); ignored for a single document. */
  seed?: number;
}

export interface CorpusSplit {
  train: Corpus;
  validation: Corpus;
  /**
   * `'documents'`: round(fraction * count) whole documents, chosen by a seeded shuffle, are held out
   * (at least one on each side); both sides keep the original document order.
   * `'tail'`: a single document is cut, and its last round(fraction * bytes) bytes are held out.
   */
  mode: 'documents' | 'tail';
  /** Indices of the held-out documents (empty in tail mode). */
  validationDocuments: number[];
}

/** Deterministic, disjoint train/validation split; see CorpusSplit for the rule. */
export function splitCorpus(
  source: Corpus | readonly DocumentInput[] | Uint8Array,
  options: SplitOptions,
): CorpusSplit {
  const { validationFraction } = options;
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new RangeError(
      `splitCorpus: validationFraction must be strictly between 0 and 1, got ${validationFraction}`,
    );
  }
  const documents =
    source instanceof Corpus
      ? Array.from({ length: source.documentCount }, (_, index) => source.document(index))
      : source instanceof Uint8Array
        ? [source]
        : source.map(documentBytes);
  if (documents.length === 0) throw new Error('splitCorpus: no documents given');

  if (documents.length === 1) {
    const bytes = documents[0]!;
    if (bytes.length < 2) {
      throw new RangeError(`splitCorpus: a single document of ${bytes.length} bytes cannot be split in two`);
    }
    const validationBytes = Math.min(
      bytes.length - 1,
      Math.max(1, Math.round(validationFraction * bytes.length)),
    );
    const cut = bytes.length - validationBytes;
    return {
      train: Corpus.fromBytes(bytes.subarray(0, cut)),
      validation: Corpus.fromBytes(bytes.subarray(cut)),
      mode: 'tail',
      validationDocuments: [],
    };
  }

  const validationCount = Math.min(
    documents.length - 1,
    Math.max(1, Math.round(validationFraction * documents.length)),
  );
  const order = new Rng(options.seed ?? 0).shuffle(documents.map((_, index) => index));
  const validationDocuments = order.slice(0, validationCount).sort((left, right) => left - right);
  const held = new Set(validationDocuments);
  return {
    train: Corpus.fromDocuments(documents.filter((_, index) => !held.has(index))),
    validation: Corpus.fromDocuments(validationDocuments.map((index) => documents[index]!)),
    mode: 'documents',
    validationDocuments,
  };
}
