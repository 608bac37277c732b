import { byteLevel, type MegabyteConfig } from '../config.js';
import { ModelGeometry } from '../geometry.js';

/** What an executor does at each point of MEGABYTE's decoding schedule (see `PatchSchedule`). */
export interface PatchSteps<Logits> {
  /** Drops every cache and conditioning: a new window starts. */
  resetCaches(): void;
  /**
   * The outermost level reads the whole patches of window columns [from, to), after its pad patch
   * when its cache was just reset ([0, 0) is then the pad patch alone), and conditions the patch
   * after them.
   */
  outerStep(from: number, to: number): void | Promise<void>;
  /** Window position t is next: the levels inside the outermost patch step and give byte t's logits [B, V]. */
  innerStep(t: number): Logits | Promise<Logits>;
  /** Frees logits an encode computed on the way and did not return. */
  release(logits: Logits): void;
}

/**
 * MEGABYTE's incremental decoding, whatever runs the levels: when each level steps. The outermost
 * level runs once per completed patch with its own KV cache (the pad patch first); inside its
 * patch the other levels step at every position (each middle level when a patch of its own
 * starts, the byte level at every byte). Encoding a window of n bytes is one outermost pass over
 * its whole patches plus one inner step per byte of the unfinished patch, or, with cross-patch
 * attention, of as many patches before it as the byte level has layers.
 *
 * The decoders of @megabyte/core (tfjs) and @megabyte/onnx (ONNX Runtime) follow this one schedule
 * and supply the steps (`PatchSteps`).
 */
export class PatchSchedule {
  /** Bytes per outermost step: its patch. */
  private readonly step: number;
  /** The byte level's patch, and how many of them before the unfinished one an encode replays. */
  private readonly innermost: number;
  private readonly replayedPatches: number;

  constructor(config: MegabyteConfig) {
    const geometry = new ModelGeometry(config);
    this.step = geometry.stepBytes;
    this.innermost = geometry.innermostPatch;
    const { crossPatch = 0, layers } = byteLevel(config);
    // A patch's last byte-level layer sees that many patches back through cross-patch attention.
    this.replayedPatches = crossPatch > 0 ? layers : 0;
  }

  /** Fresh state from a window of `length` bytes: the logits of the byte after it. */
  async encode<Logits>(length: number, steps: PatchSteps<Logits>): Promise<Logits> {
    const from = this.replayFrom(length);
    steps.resetCaches();
    await steps.outerStep(0, from);
    // The bytes from there on, one step each; the last step predicts the next byte.
    let logits = await steps.innerStep(from);
    for (let t = from + 1; t <= length; t++) {
      steps.release(logits);
      if (t % this.step === 0) await steps.outerStep(t - this.step, t);
      logits = await steps.innerStep(t);
    }
    return logits;
  }

  /** The window just grew to `length` bytes: the logits of the byte after it. */
  async extend<Logits>(length: number, steps: PatchSteps<Logits>): Promise<Logits> {
    if (length % this.step === 0) await steps.outerStep(length - this.step, length);
    return steps.innerStep(length);
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
