import { conditionOnParent, type PatchLevelSpec, patchLevel, patchLevelParameters } from '@megabyte/global';
import {
  type ByteLevelSpec,
  byteLevel as byteLevelForward,
  byteLevelParameters,
  projectConditioning,
} from '@megabyte/local';
import {
  embeddingParameter,
  headParameters,
  type LayerCache,
  leadingVector,
  type Ops,
  outputHead,
  type ParameterSpec,
  type StackSpec,
  stack,
  stackParameters,
} from '@megabyte/nn/definition';
import {
  byteLevel,
  levelScope,
  type MegabyteConfig,
  type ModelConfig,
  patchLevels,
  type TransformerConfig,
} from './config.js';

/**
 * Both models defined once over `Ops` (@megabyte/nn's ops.ts): MEGABYTE as a loop over its
 * levels (patch-level.ts in @megabyte/global, byte-level.ts in @megabyte/local), and the baseline
 * transformer. tfjs runs these functions (MegabyteModel, TransformerModel, the decoder) and
 * @megabyte/onnx records them into its graphs. B rows, T bytes, V the vocabulary.
 */

/** MEGABYTE's levels as the definition reads them, outermost first. */
export interface MegabyteSpec {
  readonly patchLevels: readonly PatchLevelSpec[];
  readonly byteLevel: ByteLevelSpec;
}

/** The shape of a config's levels: widths, prefixes and variants of each. */
export function megabyteSpec(config: MegabyteConfig): MegabyteSpec {
  const count = config.levels.length;
  const stackOf = (prefix: string, dim: number, level: { layers: number; heads: number }) =>
    stackSpec(config, prefix, dim, level);
  let above: { patchSize: number; byteDim: number } | undefined;
  const patch = patchLevels(config).map((level, i): PatchLevelSpec => {
    const prefix = levelScope(i, count);
    const spec = {
      prefix,
      patchSize: level.patchSize,
      byteDim: level.byteDim,
      convKernels: level.convKernels ?? [],
      parent: above,
      stack: stackOf(prefix, level.patchSize * level.byteDim, level),
    };
    above = { patchSize: level.patchSize, byteDim: level.byteDim };
    return spec;
  });
  const bytes = byteLevel(config);
  const crossPatch = bytes.crossPatch ?? 0;
  // Cross-patch attention turns queries and keys by position unless the level says rotary: false
  // (the paper's form, and the better one in python/megabyte_torch/bench_rotary.py). A byte-level
  // step sees its patch and, with cross-patch attention, the end of the one before.
  const rotary = (bytes.rotary ?? crossPatch > 0) ? { positions: crossPatch + above!.patchSize } : undefined;
  return {
    patchLevels: patch,
    byteLevel: {
      prefix: levelScope(count - 1, count),
      patchSize: above!.patchSize,
      aboveByteDim: above!.byteDim,
      vocabSize: config.vocabSize,
      tieHead: config.tieHead,
      crossPatch,
      stack: { ...stackOf(levelScope(count - 1, count), bytes.dim, bytes), rotary },
    },
  };
}

/** A parameter of a model, with its level (outermost 0; the baseline is one level). */
export interface ModelParameter extends ParameterSpec {
  readonly level: number;
}

/**
 * Every parameter a config implies, in the order checkpoints list them, as each level's
 * definition declares it: what a model is built from, without building anything.
 */
export function modelParameters(config: ModelConfig): ModelParameter[] {
  const { vocabSize, mlpRatio, initStd } = config;
  const atLevel = (level: number) => (p: ParameterSpec) => ({ ...p, level });
  if (config.kind === 'transformer') {
    const { dim, contextLength } = config;
    return [
      embeddingParameter('embed.bytes.weight', [vocabSize, dim], initStd),
      embeddingParameter('embed.positions', [contextLength, dim], initStd),
      embeddingParameter('start', [dim], initStd),
      ...stackParameters(baselineSpec(config), mlpRatio, initStd),
      ...headParameters('', { dim, vocabSize, tied: config.tieHead }, initStd),
    ].map(atLevel(0));
  }
  const spec = megabyteSpec(config);
  return [
    ...spec.patchLevels.flatMap((level, i) =>
      patchLevelParameters(level, {
        vocabSize,
        // Each patch level runs inside one patch of the level above (the outermost: the context).
        positions: level.parent?.patchSize ?? config.contextLength,
        mlpRatio,
        initStd,
      }).map(atLevel(i)),
    ),
    ...byteLevelParameters(spec.byteLevel, { mlpRatio, initStd }).map(atLevel(spec.patchLevels.length)),
  ];
}

/** The baseline's transformer. */
export function baselineSpec(config: TransformerConfig): StackSpec {
  return stackSpec(config, '', config.dim, config);
}

function stackSpec(
  config: ModelConfig,
  prefix: string,
  dim: number,
  level: { readonly layers: number; readonly heads: number },
): StackSpec {
  const { activation, norm, bias } = config;
  return { prefix, dim, layers: level.layers, heads: level.heads, activation, norm, bias };
}

/**
 * Every patch level, outermost first: the global model over whole sequences, then each middle
 * level inside the patches of the level above. bytes [B, T] -> the bytes of the innermost
 * level's rows [R, span] and its output [R, K, P*D] (K patches of P bytes per row).
 */
export function patchLevelsForward<T, S>(
  ops: Ops<T, S>,
  spec: MegabyteSpec,
  bytes: T,
): { readonly rows: T; readonly out: T } {
  let rows = bytes; // [R, span]: one row per sequence of the current level
  let out: T | undefined;
  spec.patchLevels.forEach((level, i) => {
    if (i > 0) rows = ops.reshape(rows, [-1, spec.patchLevels[i - 1]!.patchSize]); // a row per patch above
    out = patchLevel(ops, level, rows, out);
  });
  return { rows, out: out! };
}

/** MEGABYTE's forward pass: bytes [B, T] (T a multiple of every patch) -> logits [B*T/P, P, V] */
export function megabyteLogits<T, S>(ops: Ops<T, S>, spec: MegabyteSpec, bytes: T): T {
  const { rows, out } = patchLevelsForward(ops, spec, bytes);
  const patchesPerSequence = ops.over(ops.size(bytes, 1), spec.byteLevel.patchSize);
  return byteLevelForward(ops, spec.byteLevel, out, rows, { patchesPerSequence });
}

/**
 * What level i's step output [B, 1, P*D] hands the level below for the patch about to start:
 * a middle level's conditioning [B, P/P', P'*D'], or the byte level's [B, P, D_L].
 */
export function handDown<T, S>(ops: Ops<T, S>, spec: MegabyteSpec, i: number, out: T): T {
  const below = spec.patchLevels[i + 1];
  return below ? conditionOnParent(ops, below, out) : projectConditioning(ops, spec.byteLevel, out);
}

/**
 * The baseline: a byte-level decoder-only transformer whose input is shifted inside (a learned
 * start vector, then bytes 0..T-2), so position t predicts byte t. bytes [B, T] -> logits [B, T, V]
 */
export function baselineLogits<T, S>(ops: Ops<T, S>, config: TransformerConfig, bytes: T): T {
  const start = ops.repeatRows(ops.weight('start'), ops.size(bytes, 0)); // [B, 1, D]
  const previous = ops.gather(ops.weight('embed.bytes.weight'), ops.slice(bytes, 1, 0, -1)); // [B, T-1, D]
  const positions = ops.slice(ops.weight('embed.positions'), 0, 0, ops.size(bytes, 1)); // [T, D]
  const h = ops.dropout(ops.add(ops.concat([start, previous], 1), positions));
  return outputHead(ops, '', config.tieHead, stack(ops, baselineSpec(config), h));
}

/**
 * The baseline's incremental step with a KV cache holding `cached` positions: feeds the bytes
 * `ids` [B, n] (none: undefined) of each of `batch` rows, after the start vector when the cache
 * is empty, and returns the logits of the byte after them [B, V].
 */
export function baselineStep<T, S>(
  ops: Ops<T, S>,
  config: TransformerConfig,
  caches: readonly LayerCache<T, S>[],
  cached: S | number,
  batch: S | number,
  ids: T | undefined,
): T {
  const start = leadingVector(ops, 'start', batch, ops.isZero(cached)); // [B, 0 or 1, D]
  const fed = ids ? [ops.gather(ops.weight('embed.bytes.weight'), ids)] : []; // [B, n, D]
  const input = ops.concat([start, ...fed], 1);
  const end = ops.plus(cached, ops.size(input, 1));
  const h = ops.add(input, ops.slice(ops.weight('embed.positions'), 0, cached, end));
  const last = ops.slice(stack(ops, baselineSpec(config), h, { caches }), 1, -1); // [B, 1, D]
  return ops.reshape(outputHead(ops, '', config.tieHead, last), [-1, config.vocabSize]);
}
