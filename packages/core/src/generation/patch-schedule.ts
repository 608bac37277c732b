import { convHistory } from '@megabyte/global';
import { type MegabyteConfig, patchLevels } from '../config.js';
import { ModelGeometry } from '../geometry.js';
import { megabyteSpec } from '../model-definition.js';

/** Window columns [from, to) of every sequence. */
export interface Columns {
  readonly from: number;
  readonly to: number;
}

/**
 * What an executor does to decode MEGABYTE: run one level's step on the window columns the
 * schedule (`PatchSchedule`) names, and keep each level's caches and conditioning.
 */
export interface PatchSteps<Logits> {
  /** Drops every cache and conditioning: a new window starts. */
  resetCaches(): void;
  /**
   * Patch level i's step (`patchStep`): its new whole patches `patches` (none: undefined), after
   * its pad patch when its caches are empty, with the bytes `before` them that the outermost
   * level's convolutional encoder reads. Its output conditions the next patch of level i + 1,
   * whose caches start over, keeping their last `keepBelow` positions.
   */
  patchStep(
    i: number,
    patches: Columns | undefined,
    before: Columns | undefined,
    keepBelow: number,
  ): void | Promise<void>;
  /**
   * The byte level's step (`byteStep`) at `position` of its patch, fed the byte in window column
   * `previous` (undefined at position 0, where the pad stands for it): logits [B, V].
   */
  byteStep(position: number, previous: number | undefined): Logits | Promise<Logits>;
  /** Frees logits an encode computed on the way and did not return. */
  release(logits: Logits): void;
}

/**
 * MEGABYTE's incremental decoding, whatever runs the levels: which level steps when, on which
 * bytes. The outermost level runs once per completed patch with its own KV cache (the pad patch
 * first); inside its patch the other levels step at every position (each middle level when a
 * patch of its own starts, on its previous patch in the same patch above, the byte level at every
 * byte). Encoding a window of n bytes is one outermost pass over its whole patches plus one inner
 * step per byte of the unfinished patch, or, with cross-patch attention, of as many patches
 * before it as the byte level has layers.
 *
 * The decoders of @megabyte/core (tfjs) and @megabyte/onnx (ONNX Runtime) follow this one schedule
 * and only run the steps it asks for (`PatchSteps`).
 */
export class PatchSchedule {
  /** Bytes per outermost step: its patch. */
  private readonly step: number;
  /** Every patch level's patch, outermost first. */
  private readonly patchSizes: readonly number[];
  /** The byte level's patch, and how many of them before the unfinished one an encode replays. */
  private readonly innermost: number;
  private readonly replayedPatches: number;
  /** Bytes before a patch that the outermost level's convolutional encoder reads. */
  private readonly history: number;
  /** Positions of the previous patch the byte level keeps attending to (cross-patch attention). */
  private readonly crossPatch: number;

  constructor(config: MegabyteConfig) {
    const geometry = new ModelGeometry(config);
    const spec = megabyteSpec(config);
    this.step = geometry.stepBytes;
    this.innermost = geometry.innermostPatch;
    this.patchSizes = patchLevels(config).map((level) => level.patchSize);
    this.history = convHistory(spec.patchLevels[0]!);
    this.crossPatch = spec.byteLevel.crossPatch;
    // A patch's last byte-level layer sees that many patches back through cross-patch attention.
    this.replayedPatches = this.crossPatch > 0 ? spec.byteLevel.stack.layers : 0;
  }

  /** Fresh state from a window of `length` bytes: the logits of the byte after it. */
  async encode<Logits>(length: number, steps: PatchSteps<Logits>): Promise<Logits> {
    const from = this.replayFrom(length);
    steps.resetCaches();
    await this.outerStep(0, from, steps);
    // The bytes from there on, one step each; the last step predicts the next byte.
    let logits = await this.innerStep(from, steps);
    for (let t = from + 1; t <= length; t++) {
      steps.release(logits);
      if (t % this.step === 0) await this.outerStep(t - this.step, t, steps);
      logits = await this.innerStep(t, steps);
    }
    return logits;
  }

  /** The window just grew to `length` bytes: the logits of the byte after it. */
  async extend<Logits>(length: number, steps: PatchSteps<Logits>): Promise<Logits> {
    if (length % this.step === 0) await this.outerStep(length - this.step, length, steps);
    return this.innerStep(length, steps);
  }

  /** The outermost level reads the whole patches of columns [from, to) and conditions the patch after them. */
  private outerStep<Logits>(from: number, to: number, steps: PatchSteps<Logits>): void | Promise<void> {
    const patches = to > from ? { from, to } : undefined;
    const before =
      patches && from > 0 && this.history > 0
        ? { from: Math.max(0, from - this.history), to: from }
        : undefined;
    return steps.patchStep(0, patches, before, this.keepBelow(0));
  }

  /**
   * Column t is next: every middle level whose patch starts at t steps (the outer ones first, as
   * each conditions the next) on its previous patch if that lies in the same patch above (its
   * caches are fresh otherwise), then the byte level gives the logits of byte t.
   */
  private async innerStep<Logits>(t: number, steps: PatchSteps<Logits>): Promise<Logits> {
    for (let i = 1; i < this.patchSizes.length; i++) {
      const size = this.patchSizes[i]!;
      if (t % size !== 0) continue;
      const previous = t % this.patchSizes[i - 1]! === 0 ? undefined : { from: t - size, to: t };
      await steps.patchStep(i, previous, undefined, this.keepBelow(i));
    }
    const position = t % this.innermost;
    return steps.byteStep(position, position === 0 ? undefined : t - 1);
  }

  /** What the level below level i keeps of its caches at its new patch: the byte level, with cross-patch attention, the end of the last. */
  private keepBelow(i: number): number {
    return i === this.patchSizes.length - 1 ? this.crossPatch : 0;
  }

  /**
   * Where encoding a window of `length` bytes switches from the outermost level's one pass to
   * steps: the start of the unfinished outermost patch, or, with cross-patch attention, early
   * enough that the byte level has seen as many whole patches before the unfinished one as it
   * has layers, rounded down to an outermost patch.
   */
  private replayFrom(length: number): number {
    const reach = this.replayedPatches * this.innermost;
    const start = length - (length % this.innermost) - reach;
    return Math.max(0, Math.floor(start / this.step) * this.step);
  }
}
