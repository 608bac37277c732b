import type { KVCache } from '@megabyte/nn';
import { PAD_ID } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import { idsTensor } from '../byte-model.js';
import type { MegabyteModel } from '../megabyte-model.js';
import { handDown } from '../model-definition.js';
import type { AnyModel } from '../models.js';
import type { TransformerModel } from '../transformer-model.js';
import type { DecoderOptions, IncrementalDecoder } from './incremental-decoder.js';
import { PatchSchedule, type PatchSteps } from './patch-schedule.js';
import { SlidingWindowDecoder } from './sliding-window-decoder.js';

/** The decoder that suits the model: MEGABYTE's two-level cache, or the baseline's single one. */
export function createDecoder(model: AnyModel, options: DecoderOptions = {}): IncrementalDecoder {
  if (options.cache === false) return new UncachedDecoder(model, options.slide);
  return model.config.kind === 'megabyte'
    ? new MegabyteDecoder(model as MegabyteModel, options.slide)
    : new TransformerDecoder(model as TransformerModel, options.slide);
}

/** The sliding window (`SlidingWindowDecoder`) over a tfjs model. */
abstract class WindowedDecoder<M extends AnyModel = AnyModel> extends SlidingWindowDecoder<tf.Tensor2D> {
  constructor(
    readonly model: M,
    slide: number | undefined,
  ) {
    super(model.config, slide);
  }

  protected read(logits: tf.Tensor2D): Promise<Float32Array> {
    // data(), not dataSync(): GPU backends in the browser must not block on a read.
    return logits.data<'float32'>().finally(() => logits.dispose());
  }

  /** `window` as a [B, n] tensor of ids, from column `from` to column `to` (exclusive). */
  protected windowIds(from: number, to: number): tf.Tensor2D {
    return idsTensor(this.windowColumns(from, to), this.batchSize, to - from);
  }
}

/**
 * MEGABYTE: the global model runs once per completed patch with its own KV cache, the local model
 * once per byte with a cache that starts fresh at each patch. Encoding a window of n bytes costs
 * one global pass over its whole patches (all at once) plus one local step per byte of the
 * unfinished patch (fewer than P). A middle level of a deeper hierarchy runs once per patch of
 * its own, with a cache that starts fresh at each patch of the level above.
 */
class MegabyteDecoder extends WindowedDecoder<MegabyteModel> {
  /**
   * Each level's caches, outermost first, and below the outermost the conditioning the level above
   * handed it for its current patch: [B, P/P', P'*D'] for a middle level, [B, P, D_L] for the local one.
   */
  private readonly levels: { readonly caches: KVCache[]; conditioning: tf.Tensor3D | undefined }[];

  private readonly schedule: PatchSchedule;
  private readonly steps: PatchSteps<tf.Tensor2D> = {
    resetCaches: () => {
      for (const cache of [...this.levels[0]!.caches, ...this.levels.at(-1)!.caches]) cache.reset();
    },
    outerStep: (from, to) => this.outerStep(from, to),
    innerStep: (t) => this.innerStep(t),
    release: (logits) => logits.dispose(),
  };

  constructor(model: MegabyteModel, slide: number | undefined) {
    super(model, slide);
    this.schedule = new PatchSchedule(model.config);
    this.levels = [...model.patchLevels, model.local].map((level) => ({
      caches: level.createCaches(),
      conditioning: undefined,
    }));
  }

  protected encode(): Promise<tf.Tensor2D> {
    return this.schedule.encode(this.window[0]!.length, this.steps);
  }

  protected extend(): Promise<tf.Tensor2D> {
    return this.schedule.extend(this.window[0]!.length, this.steps);
  }

  protected selectRows(rows: number[]): void {
    for (const level of this.levels) {
      for (const cache of level.caches) cache.selectRows(rows);
      const tensor = level.conditioning;
      if (!tensor) continue;
      level.conditioning = tf.tidy(() => tf.gather(tensor, tf.tensor1d(rows, 'int32')));
      tensor.dispose();
    }
  }

  dispose(): void {
    for (const level of this.levels) {
      for (const cache of level.caches) cache.dispose();
      level.conditioning?.dispose();
      level.conditioning = undefined;
    }
  }

  /** The global model reads the patches of window columns [from, to) and conditions the patch after them. */
  private outerStep(from: number, to: number): void {
    const global = this.model.global;
    const history = global.embedder.history;
    const out = tf.tidy(() => {
      // Empty caches (a fresh window) take the pad patch first: its output conditions patch 0.
      const ids = to > from ? this.windowIds(from, to) : undefined;
      const before = ids && from > 0 ? this.windowIds(Math.max(0, from - history), from) : undefined;
      return global.step(this.levels[0]!.caches, this.batchSize, ids, { before });
    });
    this.handDown(0, out);
  }

  /**
   * Window position t is next: every middle level whose patch starts at t takes its step (the
   * outer ones first, as each conditions the next), then the local model predicts byte t.
   */
  private innerStep(t: number): tf.Tensor2D {
    const patchLevels = this.model.spec.patchLevels;
    for (let i = 1; i < patchLevels.length; i++) {
      if (t % patchLevels[i]!.patchSize === 0) this.middleStep(i, t);
    }
    return this.localStep(t);
  }

  /**
   * Level i's output [B, 1, P*D] for the patch about to start conditions level i + 1, whose cache
   * starts fresh for its new patch (the local level's keeps the end of the previous patch with
   * cross-patch attention).
   */
  private handDown(i: number, out: tf.Tensor3D): void {
    const below = this.levels[i + 1]!;
    below.conditioning?.dispose();
    below.conditioning = tf.tidy(() => handDown(this.model.ops(), this.model.spec, i, out) as tf.Tensor3D);
    const keep = i + 1 === this.levels.length - 1 ? this.model.spec.byteLevel.crossPatch : 0;
    for (const cache of below.caches) {
      if (keep > 0) cache.keepLast(keep);
      else cache.reset();
    }
    out.dispose();
  }

  /** Patch level i's (i > 0) step for its patch that starts at t, inside a patch of the level above. */
  private middleStep(i: number, t: number): void {
    const level = this.model.patchLevels[i]!;
    const state = this.levels[i]!;
    const size = level.spec.patchSize;
    const inParent = t % level.spec.parent!.patchSize;
    const out = tf.tidy(() => {
      // The previous patch of this level, if it lies in the same parent patch (the caches are fresh otherwise).
      const previous = inParent === 0 ? undefined : this.windowIds(t - size, t);
      return level.step(state.caches, this.batchSize, previous, { conditioning: state.conditioning! });
    });
    this.handDown(i, out);
  }

  /** One local step at window position t: logits of byte t [B, V], from the bytes of its patch before t. */
  private localStep(t: number): tf.Tensor2D {
    const { caches, conditioning } = this.levels.at(-1)!;
    return tf.tidy(() => {
      const p = t % this.model.spec.byteLevel.patchSize;
      // At p = 0 the pad stands for the previous byte: any id will do.
      const previous = (
        p === 0 ? tf.zeros([this.batchSize], 'int32') : tf.reshape(this.windowIds(t - 1, t), [-1])
      ) as tf.Tensor1D;
      return this.model.local.step(caches, conditioning!, p, previous);
    });
  }
}

/** The baseline transformer: one KV cache; encoding a window is one pass over all its bytes. */
class TransformerDecoder extends WindowedDecoder<TransformerModel> {
  private readonly caches = this.model.transformer.createCaches();

  protected encode(): tf.Tensor2D {
    for (const cache of this.caches) cache.reset();
    const length = this.window[0]!.length;
    return tf.tidy(() =>
      this.model.step(this.caches, this.batchSize, length > 0 ? this.windowIds(0, length) : undefined),
    );
  }

  protected extend(): tf.Tensor2D {
    const length = this.window[0]!.length;
    return tf.tidy(() => this.model.step(this.caches, this.batchSize, this.windowIds(length - 1, length)));
  }

  protected selectRows(rows: number[]): void {
    for (const cache of this.caches) cache.selectRows(rows);
  }

  dispose(): void {
    for (const cache of this.caches) cache.dispose();
  }
}

/**
 * No cache, so nothing to keep between steps: a full forward pass over the context for every
 * byte, n positions per byte instead of one. A pad id stands in for the next byte, which the
 * model's causal shift never lets its own logits see.
 */
class UncachedDecoder extends WindowedDecoder {
  protected encode(): tf.Tensor2D {
    return this.extend();
  }

  protected extend(): tf.Tensor2D {
    return tf.tidy(() => {
      const batch = this.batchSize;
      const length = this.window[0]!.length;
      const ids = idsTensor(
        this.window.flatMap((bytes) => [...bytes, PAD_ID]),
        batch,
        length + 1,
      );
      const vocab = this.model.config.vocabSize;
      const last = tf.slice(this.model.forward(ids), [0, length, 0], [batch, 1, vocab]);
      return tf.reshape(last, [batch, vocab]);
    });
  }

  protected selectRows(): void {}

  dispose(): void {}
}
