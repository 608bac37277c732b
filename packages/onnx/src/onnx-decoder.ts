import {
  type DecoderOptions,
  type IncrementalDecoder,
  type MegabyteConfig,
  type ModelConfig,
  type ModelGeometry,
  PatchSchedule,
  type PatchSteps,
  SlidingWindowDecoder,
} from '@megabyte/core/portable';
import { PAD_ID } from '@megabyte/patching';
import { cacheLayout, type DecodingRole, type GraphRole, megabyteDecodingRoles } from './export.js';
import { convHistory } from './graphs.js';
import type { InferenceSession, OrtModule, Tensor } from './ort-types.js';

/** What the decoders need from an OnnxModel. */
export interface DecoderContext {
  readonly ort: OrtModule;
  readonly config: ModelConfig;
  readonly geometry: ModelGeometry;
  /** The session of a graph; throws if it was not loaded. */
  session(role: GraphRole): InferenceSession;
}

/** The decoder for the model's kind, with the same window rule and options as @megabyte/core's. */
export function createOnnxDecoder(context: DecoderContext, options: DecoderOptions = {}): IncrementalDecoder {
  if (options.cache === false) return new UncachedDecoder(context, options.slide);
  return context.config.kind === 'megabyte'
    ? new MegabyteDecoder(context, options.slide)
    : new TransformerDecoder(context, options.slide);
}

/**
 * @megabyte/core's sliding window (`SlidingWindowDecoder`) over ONNX Runtime sessions. Reading
 * their tensors is async, so rows dropped by `keepRows` leave the caches at the next push.
 */
abstract class WindowedDecoder extends SlidingWindowDecoder<Tensor> {
  /** Rows kept by `keepRows` since the last run, for the caches to keep before the next push. */
  private pendingRows: number[] | undefined;

  constructor(
    protected readonly context: DecoderContext,
    slide: number | undefined,
  ) {
    super(context.config, slide);
  }

  protected get config(): ModelConfig {
    return this.context.config;
  }

  /** Keeps the listed batch rows of every cached tensor. */
  protected abstract selectCacheRows(rows: readonly number[]): Promise<void>;

  protected async read(logits: Tensor): Promise<Float32Array> {
    const values = (await logits.getData()) as Float32Array;
    logits.dispose();
    return values;
  }

  protected selectRows(rows: number[]): void {
    this.pendingRows = this.pendingRows ? rows.map((row) => this.pendingRows![row]!) : rows;
  }

  protected override async beforePush(): Promise<void> {
    if (this.pendingRows) await this.selectCacheRows(this.pendingRows);
    this.pendingRows = undefined;
  }

  protected override restart(): void {
    this.pendingRows = undefined;
  }

  /** `window` columns [from, to) as an int32 [B, to - from] tensor. */
  protected windowIds(from: number, to: number): Tensor {
    const ids = Int32Array.from(this.windowColumns(from, to));
    return new this.context.ort.Tensor('int32', ids, [this.batchSize, to - from]);
  }
}

/** One decoding graph's KV cache: `past_*` inputs in, `present_*` outputs back in. */
class CacheState {
  private tensors: Tensor[] = [];
  private readonly layout: ReturnType<typeof cacheLayout>;

  constructor(
    private readonly ort: OrtModule,
    config: ModelConfig,
    role: DecodingRole,
  ) {
    this.layout = cacheLayout(config, role);
  }

  /** Empty caches [B, H, 0, Dh]. */
  reset(batch: number): void {
    this.release();
    const { heads, headDim, names } = this.layout;
    this.tensors = names.map(
      () => new this.ort.Tensor('float32', new Float32Array(0), [batch, heads, 0, headDim]),
    );
  }

  feeds(): Record<string, Tensor> {
    return Object.fromEntries(this.layout.names.map((info, i) => [info.name, this.tensors[i]!]));
  }

  /** Takes the `present_*` outputs of a run as the new cache. */
  update(outputs: InferenceSession.OnnxValueMapType): void {
    this.release();
    this.tensors = this.layout.names.map((info) => outputs[info.name.replace('past_', 'present_')] as Tensor);
  }

  /** Keeps the last `positions` cached positions (empty caches when there are none yet). */
  async keepLast(positions: number, batch: number): Promise<void> {
    if (this.tensors.length === 0) return this.reset(batch);
    const kept = await Promise.all(this.tensors.map((tensor) => lastPositions(this.ort, tensor, positions)));
    this.tensors.forEach((tensor, i) => {
      if (kept[i] !== tensor) tensor.dispose();
    });
    this.tensors = kept;
  }

  async selectRows(rows: readonly number[]): Promise<void> {
    const selected = await Promise.all(this.tensors.map((tensor) => gatherRows(this.ort, tensor, rows)));
    this.release();
    this.tensors = selected;
  }

  release(): void {
    for (const tensor of this.tensors) tensor.dispose();
    this.tensors = [];
  }
}

/** The last `count` positions (axis 2) of a float32 cache tensor [B, H, S, Dh], as a new CPU tensor. */
async function lastPositions(ort: OrtModule, tensor: Tensor, count: number): Promise<Tensor> {
  const [batch, heads, length, headDim] = tensor.dims as [number, number, number, number];
  if (length <= count) return tensor;
  const data = (await tensor.getData()) as Float32Array;
  const out = new Float32Array(batch * heads * count * headDim);
  for (let row = 0; row < batch * heads; row++) {
    const from = (row * length + length - count) * headDim;
    out.set(data.subarray(from, from + count * headDim), row * count * headDim);
  }
  return new ort.Tensor('float32', out, [batch, heads, count, headDim]);
}

/** The listed rows (axis 0) of a float32 tensor, as a new CPU tensor. */
async function gatherRows(ort: OrtModule, tensor: Tensor, rows: readonly number[]): Promise<Tensor> {
  const data = (await tensor.getData()) as Float32Array;
  const rowSize = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(rows.length * rowSize);
  rows.forEach((row, i) => out.set(data.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize));
  return new ort.Tensor('float32', out, [rows.length, ...tensor.dims.slice(1)]);
}

/**
 * MEGABYTE on one step graph per level, following @megabyte/core's decoding schedule
 * (`PatchSchedule`): the global graph once per completed patch with its cache, each middle
 * level's once per patch of its own with a cache emptied at each patch of the level above, the
 * local graph once per byte with a cache emptied at each of its patches.
 */
class MegabyteDecoder extends WindowedDecoder {
  /** Every level's graph, cache and the conditioning it was handed for its current patch. */
  private readonly levels = megabyteDecodingRoles(this.config as MegabyteConfig).map((role, i) => ({
    role,
    cache: new CacheState(this.context.ort, this.config, role),
    /** Bytes per patch of this level (1 for the local level). */
    patchSize: this.context.geometry.levels[i]!.bytesPerPosition,
    conditioning: undefined as Tensor | undefined,
  }));

  /** Bytes before a patch that the convolutional patch encoder reads. */
  private readonly history = convHistory(this.config as MegabyteConfig);

  private readonly schedule = new PatchSchedule(this.config as MegabyteConfig);
  /** Cross-patch attention: positions of the previous patch the local level keeps attending to. */
  private readonly crossPatch = (this.config as MegabyteConfig).levels.at(-1) as { crossPatch?: number };

  private readonly steps: PatchSteps<Tensor> = {
    resetCaches: () => {
      // A new window: the outermost cache, and the local one that cross-patch attention carries over.
      this.levels[0]!.cache.reset(this.batchSize);
      this.levels.at(-1)!.cache.reset(this.batchSize);
    },
    // The global graph puts the pad patch first by itself when its cache is empty.
    outerStep: (from, to) => this.globalStep(from, to),
    innerStep: (t) => this.innerStep(t),
    release: (logits) => logits.dispose(),
  };

  protected encode(): Promise<Tensor> {
    return this.schedule.encode(this.window[0]!.length, this.steps);
  }

  protected extend(): Promise<Tensor> {
    return this.schedule.extend(this.window[0]!.length, this.steps);
  }

  protected async selectCacheRows(rows: readonly number[]): Promise<void> {
    for (const level of this.levels) {
      await level.cache.selectRows(rows);
      if (level.conditioning) {
        const selected = await gatherRows(this.context.ort, level.conditioning, rows);
        level.conditioning.dispose();
        level.conditioning = selected;
      }
    }
  }

  dispose(): void {
    for (const level of this.levels) {
      level.cache.release();
      level.conditioning?.dispose();
      level.conditioning = undefined;
    }
  }

  /** Feeds the whole patches of window columns [from, to) to the global graph and starts the patch after them. */
  private async globalStep(from: number, to: number): Promise<void> {
    const feeds: Record<string, Tensor> = { bytes: this.windowIds(from, to) };
    if (this.history > 0) feeds.history = this.windowIds(Math.max(0, from - this.history), from);
    await this.levelStep(0, feeds);
  }

  /**
   * Window position t is next: every middle level whose patch starts at t steps (outer ones
   * first, each conditioning the next) on its previous patch in the same patch above (its pad at
   * the first), then the local graph gives the logits of byte t [B, V].
   */
  private async innerStep(t: number): Promise<Tensor> {
    for (let i = 1; i < this.levels.length - 1; i++) {
      const size = this.levels[i]!.patchSize;
      if (t % size !== 0) continue;
      const first = t % this.levels[i - 1]!.patchSize === 0;
      await this.levelStep(i, { bytes: this.windowIds(first ? t : t - size, t) });
    }
    return this.localStep(t);
  }

  /** Level i's graph on `feeds` and its cache; its output conditions the level below, whose cache starts over. */
  private async levelStep(i: number, feeds: Record<string, Tensor>): Promise<void> {
    const level = this.levels[i]!;
    if (i > 0) feeds.parent_conditioning = level.conditioning!;
    const outputs = await this.context.session(level.role).run({ ...feeds, ...level.cache.feeds() });
    level.cache.update(outputs);
    const below = this.levels[i + 1]!;
    below.conditioning?.dispose();
    below.conditioning = outputs.conditioning as Tensor;
    // A new patch of the level below: with cross-patch attention the local level keeps the end of the previous one.
    const keep = i + 1 === this.levels.length - 1 ? (this.crossPatch.crossPatch ?? 0) : 0;
    if (keep > 0) await below.cache.keepLast(keep, this.batchSize);
    else below.cache.reset(this.batchSize);
  }

  /** One local step at window position t: logits of byte t [B, V]. */
  private async localStep(t: number): Promise<Tensor> {
    const local = this.levels.at(-1)!;
    const p = t % this.levels.at(-2)!.patchSize;
    const previous = Int32Array.from(this.window, (bytes) => (p === 0 ? 0 : bytes[t - 1]!));
    const feeds: Record<string, Tensor> = {
      byte: new this.context.ort.Tensor('int32', previous, [this.batchSize]),
      conditioning: local.conditioning!,
      ...local.cache.feeds(),
    };
    if ((this.crossPatch.crossPatch ?? 0) > 0)
      feeds.position = new this.context.ort.Tensor('int32', Int32Array.of(p), [1]);
    const outputs = await this.context.session('local').run(feeds);
    local.cache.update(outputs);
    return outputs.logits as Tensor;
  }
}

/** The baseline transformer: one cache; encoding a window is one run over all its bytes. */
class TransformerDecoder extends WindowedDecoder {
  private readonly cache = new CacheState(this.context.ort, this.config, 'step');

  protected encode(): Promise<Tensor> {
    this.cache.reset(this.batchSize);
    return this.step(this.windowIds(0, this.window[0]!.length));
  }

  protected extend(): Promise<Tensor> {
    const length = this.window[0]!.length;
    return this.step(this.windowIds(length - 1, length));
  }

  protected selectCacheRows(rows: readonly number[]): Promise<void> {
    return this.cache.selectRows(rows);
  }

  dispose(): void {
    this.cache.release();
  }

  private async step(bytes: Tensor): Promise<Tensor> {
    const outputs = await this.context.session('step').run({ bytes, ...this.cache.feeds() });
    this.cache.update(outputs);
    return outputs.logits as Tensor;
  }
}

/**
 * No cache: the scoring graph over the whole window for every byte (the slow reference). A pad
 * id stands in for the next byte, which the model's causal shift never lets its own logits see.
 */
class UncachedDecoder extends WindowedDecoder {
  protected encode(): Promise<Tensor> {
    return this.extend();
  }

  protected async extend(): Promise<Tensor> {
    const length = this.window[0]!.length;
    const padded = this.context.geometry.paddedLength(length + 1);
    const ids = Int32Array.from(
      this.window.flatMap((bytes) => [...bytes, ...new Array<number>(padded - length).fill(PAD_ID)]),
    );
    const bytes = new this.context.ort.Tensor('int32', ids, [this.batchSize, padded]);
    const { logits } = await this.context.session('scoring').run({ bytes });
    const all = (await logits!.getData()) as Float32Array;
    const vocab = this.config.vocabSize;
    const out = new Float32Array(this.batchSize * vocab);
    for (let row = 0; row < this.batchSize; row++) {
      const from = (row * padded + length) * vocab;
      out.set(all.subarray(from, from + vocab), row * vocab);
    }
    return new this.context.ort.Tensor('float32', out, [this.batchSize, vocab]);
  }

  protected async selectCacheRows(): Promise<void> {}

  dispose(): void {}
}
