import { Dropout, type NamedParameter, NO_DROPOUT, softmaxCrossEntropy, TfjsOps } from '@megabyte/nn';
import { PAD_ID } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from './config.js';
import { ModelGeometry } from './geometry.js';
import { type ByteScores, type ScoreOptions, scoreBytes, type WindowScorer } from './scoring.js';

export interface ForwardOptions {
  /** Enables dropout. */
  readonly training?: boolean;
  /** Seed of this pass's dropout masks, so a training step is reproducible. */
  readonly dropoutSeed?: number;
}

export interface NatsOptions {
  /**
   * Bytes per pass of the levels that run independently on each patch (MEGABYTE's local level),
   * bounding their memory whatever the window's length. Default 16384.
   */
  readonly chunkBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 16384;

export interface LossOptions extends ForwardOptions {
  /** [B, T], 1 where the byte counts in the loss. Defaults to every position whose id is not padding. */
  readonly mask?: tf.Tensor2D;
}

/**
 * What every byte-level model here offers. `forward` takes bytes [B, T] and returns logits
 * [B, T, V] in which position t predicts byte t itself from the bytes before it: the input shift
 * lives inside the model, so loss needs no separate targets.
 */
export abstract class ByteModel<C extends ModelConfig = ModelConfig> implements WindowScorer {
  /** Patch sizes, step unit, padding and widths of the levels: what callers ask of the model's shape. */
  readonly geometry: ModelGeometry;

  protected constructor(
    readonly config: C,
    private readonly params: NamedParameter[],
  ) {
    this.geometry = new ModelGeometry(config);
  }

  parameters(): NamedParameter[] {
    return [...this.params];
  }

  private byName: Map<string, tf.Variable> | undefined;

  /** The tfjs executor of the model definition (model-definition.ts) over this model's parameters. */
  ops(dropout?: Dropout): TfjsOps {
    this.byName ??= new Map(this.params.map((p) => [p.name, p.variable]));
    const byName = this.byName;
    return new TfjsOps((name) => {
      const variable = byName.get(name);
      if (!variable) throw new Error(`the model has no parameter named ${name}`);
      return variable;
    }, dropout);
  }

  /** ids [B, T] (int32, any T up to the context length) -> logits [B, T, V] */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const [batch, length] = ids.shape;
    this.checkLength(length);
    if (length === 0) return tf.zeros([batch, 0, this.config.vocabSize]);
    const dropout =
      options.training && this.config.dropout > 0
        ? new Dropout(this.config.dropout, options.dropoutSeed ?? 0)
        : NO_DROPOUT;
    return tf.tidy(() => {
      const padded = this.padInput(ids);
      const logits = this.logits(padded, dropout);
      return length === padded.shape[1]
        ? logits
        : tf.slice(logits, [0, 0, 0], [batch, length, this.config.vocabSize]);
    });
  }

  /** Mean cross-entropy in nats over the positions of the mask. */
  loss(ids: tf.Tensor2D, options: LossOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const logits = this.forward(ids, options);
      const mask = tf.cast(options.mask ?? tf.notEqual(ids, PAD_ID), 'float32') as tf.Tensor2D;
      return maskedCrossEntropy(logits, ids, mask);
    });
  }

  /**
   * Per-byte cross-entropy in nats, ids [B, T] -> [B, T]: -ln p(ids[t] | ids[< t]), without dropout.
   * What evaluation reads: a model may compute it without holding every logit at once, as
   * MEGABYTE does for its local level, so that long windows fit in memory.
   */
  nats(ids: tf.Tensor2D, options: NatsOptions = {}): tf.Tensor2D {
    const [batch, length] = ids.shape;
    this.checkLength(length);
    if (length === 0) return tf.zeros([batch, 0]);
    return tf.tidy(() => {
      const padded = this.padInput(ids);
      const nats = this.paddedNats(padded, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
      return length === padded.shape[1] ? nats : tf.slice(nats, [0, 0], [batch, length]);
    });
  }

  /** Bits per byte of the sequences (loss / ln 2), read back as a number (asynchronously: GPU backends need it). */
  async bitsPerByte(ids: tf.Tensor2D, options: LossOptions = {}): Promise<number> {
    const loss = this.loss(ids, options);
    const nats = (await loss.data())[0]!;
    loss.dispose();
    return nats / Math.LN2;
  }

  /**
   * Per-byte surprisal (bits) and bits per byte of any number of bytes, in sliding windows of the
   * context (see `ScoreOptions.stride`); a text longer than the context is not an error here.
   */
  scoreBytes(bytes: ArrayLike<number>, options: ScoreOptions = {}): Promise<ByteScores> {
    return scoreBytes(this, bytes, options);
  }

  /** -log2 p of each byte of one window of at most the context (what `scoreBytes` slides). */
  async windowSurprisal(window: Int32Array): Promise<Float32Array> {
    const nats = tf.tidy(() => this.nats(tf.tensor2d(window, [1, window.length], 'int32')));
    const values = (await nats.data()) as Float32Array;
    nats.dispose();
    return values.map((value) => value / Math.LN2);
  }

  dispose(): void {
    for (const p of this.params) p.variable.dispose();
  }

  /** Pads ids on the right so their length suits the model (a whole number of patches). */
  private padInput(ids: tf.Tensor2D): tf.Tensor2D {
    const [batch, length] = ids.shape;
    const extra = this.geometry.paddedLength(length) - length;
    return extra === 0 ? ids : tf.concat([ids, tf.fill([batch, extra], PAD_ID, 'int32')], 1);
  }

  /** ids [B, T'] (already padded) -> logits [B, T', V] */
  protected abstract logits(ids: tf.Tensor2D, dropout: Dropout): tf.Tensor3D;

  /** ids [B, T'] (already padded) -> per-byte nats [B, T'] */
  protected paddedNats(ids: tf.Tensor2D, _chunkBytes: number): tf.Tensor2D {
    return sequenceNats(this.logits(ids, NO_DROPOUT), ids);
  }

  private checkLength(length: number): void {
    if (length > this.config.contextLength) {
      throw new RangeError(
        `sequence of ${length} bytes is longer than the model's context of ${this.config.contextLength}: score it with scoreBytes/scoreText, which slide a window over it`,
      );
    }
  }
}

/** logits [B, T, V] and the ids they predict [B, T] -> nats of each id [B, T] */
export function sequenceNats(logits: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, length, vocab] = logits.shape;
    const nats = softmaxCrossEntropy(
      tf.reshape(logits, [batch * length, vocab]),
      tf.reshape(tf.cast(ids, 'int32'), [batch * length]),
    );
    return tf.reshape(nats, [batch, length]);
  });
}

/** logits [B, T, V], targets [B, T], mask [B, T] -> mean nats per masked position. */
export function maskedCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const count = tf.maximum(tf.sum(mask), 1);
    return tf.div(tf.sum(tf.mul(sequenceNats(logits, targets), mask)), count) as tf.Scalar;
  });
}

/** A [B, T] int32 tensor from row-major ids. */
export function idsTensor(
  ids: Int32Array | Uint8Array | number[],
  batch: number,
  length: number,
): tf.Tensor2D {
  return tf.tensor2d(Int32Array.from(ids), [batch, length], 'int32');
}
