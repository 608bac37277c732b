import {
  type Columns,
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
 * MEGABYTE on one step graph per level: runs the steps @megabyte/core's decoding schedule
 * (`PatchSchedule`) asks for, each level's graph with its cache.
 */
class MegabyteDecoder extends WindowedDecoder {
  /** Every level's graph, cache and the conditioning it was handed for its current patch. */
  private readonly levels = megabyteDecodingRoles(this.config as MegabyteConfig).map((role) => ({
    role,
    cache: new CacheState(this.context.ort, this.config, role),
    conditioning: undefined as Tensor | undefined,
  }));

  private readonly schedule = new PatchSchedule(this.config as MegabyteConfig);

  private readonly steps: PatchSteps<Tensor> = {
    resetCaches: () => {
      // A new window: the outermost cache, and the local one that cross-patch attention carries over.
      this.levels[0]!.cache.reset(this.batchSize);
      this.levels.at(-1)!.cache.reset(this.batchSize);
    },
    patchStep: (i, patches, before, keepBelow) => this.patchStep(i, patches, before, keepBelow),
    byteStep: (position, previous) => this.byteStep(position, previous),
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

  /** Patch level i's graph (see `PatchSteps.patchStep`): its output conditions level i + 1, whose cache starts over. */
  private async patchStep(i: number, patches?: Columns, before?: Columns, keepBelow = 0): Promise<void> {
    const level = this.levels[i]!;
    const session = this.context.session(level.role);
    const feeds: Record<string, Tensor> = { bytes: this.columns(patches), ...level.cache.feeds() };
    // The convolutional patch encoder reads the bytes before the new ones.
    if (session.inputNames.includes('history')) feeds.history = this.columns(before);
    if (i > 0) feeds.parent_conditioning = level.conditioning!;
    const outputs = await session.run(feeds);
    level.cache.update(outputs);
    const below = this.levels[i + 1]!;
    below.conditioning?.dispose();
    below.conditioning = outputs.conditioning as Tensor;
    if (keepBelow > 0) await below.cache.keepLast(keepBelow, this.batchSize);
    else below.cache.reset(this.batchSize);
  }

  /** The local graph (see `PatchSteps.byteStep`): logits [B, V]. */
  private async byteStep(position: number, previous: number | undefined): Promise<Tensor> {
    const local = this.levels.at(-1)!;
    const bytes = Int32Array.from(this.window, (row) => (previous === undefined ? 0 : row[previous]!));
    const feeds: Record<string, Tensor> = {
      byte: new this.context.ort.Tensor('int32', bytes, [this.batchSize]),
      conditioning: local.conditioning!,
      ...local.cache.feeds(),
    };
    const session = this.context.session('local');
    // With cross-patch attention the cache holds the end of the previous patch too: the position comes as an input.
    if (session.inputNames.includes('position'))
      feeds.position = new this.context.ort.Tensor('int32', Int32Array.of(position), [1]);
    const outputs = await session.run(feeds);
    local.cache.update(outputs);
    return outputs.logits as Tensor;
  }

  /** Window columns as an int32 [B, n] tensor; none: [B, 0]. */
  private columns(columns: Columns | undefined): Tensor {
    return columns ? this.windowIds(columns.from, columns.to) : this.windowIds(0, 0);
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
