import { patchStep } from '@megabyte/global';
import { byteStep } from '@megabyte/local';
import { KVCache } from '@megabyte/nn';
import { PAD_ID } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import { idsTensor } from '../byte-model.js';
import type { MegabyteModel } from '../megabyte-model.js';
import { handDown } from '../model-definition.js';
import type { AnyModel } from '../models.js';
import type { TransformerModel } from '../transformer-model.js';
import type { DecoderOptions, IncrementalDecoder } from './incremental-decoder.js';
import { type Columns, PatchSchedule, type PatchSteps } from './patch-schedule.js';
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
 * MEGABYTE on tfjs: runs the steps the decoding schedule (`PatchSchedule`) asks for, each level's
 * step of the model definition with its KV caches.
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
    patchStep: (i, patches, before, keepBelow) => this.patchStep(i, patches, before, keepBelow),
    byteStep: (position, previous) => this.byteStep(position, previous),
    release: (logits) => logits.dispose(),
  };

  constructor(model: MegabyteModel, slide: number | undefined) {
    super(model, slide);
    this.schedule = new PatchSchedule(model.config);
    const stacks = [...model.spec.patchLevels, model.spec.byteLevel].map((level) => level.stack);
    this.levels = stacks.map((stack) => ({ caches: layerCaches(stack.layers), conditioning: undefined }));
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

  /** Patch level i's step (see `PatchSteps.patchStep`): its output, handed down, conditions level i + 1. */
  private patchStep(i: number, patches?: Columns, before?: Columns, keepBelow = 0): void {
    const state = this.levels[i]!;
    const below = this.levels[i + 1]!;
    const { spec } = this.model;
    const conditioning = tf.tidy(() => {
      const ops = this.model.ops();
      const ids = (columns?: Columns) => columns && this.windowIds(columns.from, columns.to);
      const cached = state.caches[0]?.length ?? 0;
      const context = { before: ids(before), conditioning: state.conditioning };
      const out = patchStep(
        ops,
        spec.patchLevels[i]!,
        state.caches,
        cached,
        this.batchSize,
        ids(patches),
        context,
      );
      return handDown(ops, spec, i, out) as tf.Tensor3D;
    });
    below.conditioning?.dispose();
    below.conditioning = conditioning;
    for (const cache of below.caches) {
      if (keepBelow > 0) cache.keepLast(keepBelow);
      else cache.reset();
    }
  }

  /** The byte level's step (see `PatchSteps.byteStep`): logits [B, V]. */
  private byteStep(position: number, previous: number | undefined): tf.Tensor2D {
    const { caches, conditioning } = this.levels.at(-1)!;
    return tf.tidy(() => {
      // At position 0 the pad stands for the previous byte: any id will do.
      const ids = (
        previous === undefined
          ? tf.zeros([this.batchSize], 'int32')
          : tf.reshape(this.windowIds(previous, previous + 1), [-1])
      ) as tf.Tensor1D;
      return byteStep(
        this.model.ops(),
        this.model.spec.byteLevel,
        caches,
        conditioning!,
        position,
        ids,
      ) as tf.Tensor2D;
    });
  }
}

/** The baseline transformer: one KV cache; encoding a window is one pass over all its bytes. */
class TransformerDecoder extends WindowedDecoder<TransformerModel> {
  private readonly caches = layerCaches(this.model.config.layers);

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

/** One empty KV cache per layer of a stack. */
function layerCaches(layers: number): KVCache[] {
  return Array.from({ length: layers }, () => new KVCache());
}
