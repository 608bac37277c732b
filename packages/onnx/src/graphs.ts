import {
  baselineLogits,
  baselineSpec,
  baselineStep,
  byteStep,
  handDown,
  convHistory as levelHistory,
  type MegabyteConfig,
  type MegabyteSpec,
  type ModelConfigInput,
  megabyteLogits,
  megabyteSpec,
  patchStep,
  type StackSpec,
  type TransformerConfig,
  validateConfig,
} from '@megabyte/core/portable';
import { GraphBuilder, type WeightSource, type WeightType } from './graph-builder.js';
import { GraphCache, GraphOps } from './graph-ops.js';
import type { GraphDef, ValueInfoDef } from './onnx-proto.js';

/**
 * The ONNX graphs of both model kinds, recorded from the model's one definition
 * (@megabyte/core's model-definition.ts and the levels and blocks it calls) by `GraphOps`: this
 * file only declares each graph's inputs and outputs. Shapes in comments: B batch, T bytes,
 * S cached positions, n new positions.
 */

/** The cache inputs or outputs of a stack: `${kind}_key_${i}` and `${kind}_value_${i}` for each layer. */
export function cacheInfos(stack: StackSpec, kind: 'past' | 'present'): ValueInfoDef[] {
  const headDim = stack.dim / stack.heads;
  const length = kind === 'past' ? 'past' : 'past + new';
  return Array.from({ length: stack.layers }, (_, i) =>
    (['key', 'value'] as const).map(
      (part): ValueInfoDef => ({
        name: `${kind}_${part}_${i}`,
        type: 'float32',
        shape: ['batch', stack.heads, length, headDim],
        doc: `layer ${i}'s attention ${part}s, ${kind === 'past' ? 'before' : 'after'} this step`,
      }),
    ),
  ).flat();
}

/**
 * bytes [B, T] -> logits [B, T, V]; T a multiple of the patch size (MEGABYTE), at most the context.
 * `input` may be in either MEGABYTE config form (see @megabyte/core's `validateConfig`).
 */
export function scoringGraph(
  input: ModelConfigInput,
  weights: WeightSource,
  weightType: WeightType = 'float32',
): GraphDef {
  const config = validateConfig(input);
  const g = new GraphBuilder(weights, weightType);
  const ops = new GraphOps(g);
  const bytes = g.input({
    name: 'bytes',
    type: 'int32',
    shape: ['batch', 'length'],
    doc: 'byte ids (0..255, or special ids below vocabSize); for MEGABYTE a multiple of patchSize',
  });
  const logits =
    config.kind === 'megabyte'
      ? megabyteLogits(ops, megabyteSpec(config), bytes)
      : baselineLogits(ops, config, bytes);
  const shape = g.concat([g.shape(bytes, 0, 2), g.ints([config.vocabSize])], 0);
  g.output(g.reshape(logits, shape), {
    name: 'logits',
    type: 'float32',
    shape: ['batch', 'length', config.vocabSize],
    doc: 'logits[b, t] predicts bytes[b, t] from the bytes before it',
  });
  return g.build('megabyte_scoring', `${config.kind} scoring graph: bytes -> logits`);
}

/**
 * The output of patch level i's step, as the level below reads it: for the next patch level, its
 * conditioning for each of its patches inside the next patch of level i; for the byte level, the
 * projected slice of each byte position. -> [B, P_i / P_{i+1}, P_{i+1} * D_{i+1}] or [B, P_i, D_L]
 */
export function conditioningShape(config: MegabyteConfig, i: number): [string, number, number] {
  const { patchLevels, byteLevel } = megabyteSpec(config);
  const { patchSize } = patchLevels[i]!;
  const below = patchLevels[i + 1];
  return below
    ? ['batch', patchSize / below.patchSize, below.patchSize * below.byteDim]
    : ['batch', patchSize, byteLevel.stack.dim];
}

/** MEGABYTE's outermost (global) step: see `patchStepGraph`. */
export function globalStepGraph(
  config: MegabyteConfig,
  weights: WeightSource,
  weightType: WeightType = 'float32',
): GraphDef {
  return patchStepGraph(config, 0, weights, weightType);
}

/**
 * Patch level i's step with a KV cache (`patchStep` in @megabyte/global): new whole patches (the
 * pad patch goes first when the cache is empty) -> the level's output for the patch after them,
 * handed down as the next level's conditioning (`conditioningShape`). The outermost level takes
 * every patch completed since its last step; a level below it runs inside one patch of the level
 * above, with a cache emptied there, one patch per step, and adds the slice of that level's
 * conditioning for each of its patches.
 */
export function patchStepGraph(
  config: MegabyteConfig,
  i: number,
  weights: WeightSource,
  weightType: WeightType = 'float32',
): GraphDef {
  const g = new GraphBuilder(weights, weightType);
  const ops = new GraphOps(g);
  const spec = megabyteSpec(config);
  const level = spec.patchLevels[i]!;
  const bytes = g.input({
    name: 'bytes',
    type: 'int32',
    shape: ['batch', 'new_bytes'],
    doc: 'the bytes of the patches completed since the last step (a multiple of patchSize, 0 allowed on the first step)',
  });
  // The convolutional patch encoder reads the bytes just before the new ones.
  const history = levelHistory(level);
  const before =
    history > 0
      ? g.input({
          name: 'history',
          type: 'int32',
          shape: ['batch', 'history_bytes'],
          doc: `the ${history} bytes before the new ones (fewer at the start of the window; none on the first step)`,
        })
      : undefined;
  const conditioning =
    i > 0
      ? g.input({
          name: 'parent_conditioning',
          type: 'float32',
          shape: conditioningShape(config, i - 1),
          doc: 'the step output of the level above for its current patch: one row per patch of this level in it',
        })
      : undefined;
  const caches = GraphCache.inputs(g, cacheInfos(level.stack, 'past'));
  const cached = g.shape(caches[0]!.pastKeys, 2, 3); // [1]: S, the pad patch and the patches already seen
  const batch = g.shape(bytes, 0, 1);
  const out = patchStep(ops, level, caches, cached, batch, bytes, { before, conditioning });
  const below = spec.patchLevels[i + 1];
  g.output(handDown(ops, spec, i, out), {
    name: 'conditioning',
    type: 'float32',
    shape: conditioningShape(config, i),
    doc: below
      ? "this level's output for the next patch, as the conditioning of the level below: one row per patch of that level in it"
      : "this level's output for the next patch, projected to the local width: one row per byte position (feed it to the local step)",
  });
  cacheOutputs(g, level.stack, caches);
  return i === 0
    ? g.build('megabyte_global_step', 'MEGABYTE global step with a KV cache')
    : g.build(
        `megabyte_middle_${i - 1}_step`,
        `MEGABYTE middle level ${i - 1} step with a KV cache (empty at each patch of the level above)`,
      );
}

/** MEGABYTE's local step (`byteStep` in @megabyte/local): one byte of the current patch -> the logits of the next byte. */
export function localStepGraph(
  config: MegabyteConfig,
  weights: WeightSource,
  weightType: WeightType = 'float32',
): GraphDef {
  const g = new GraphBuilder(weights, weightType);
  const ops = new GraphOps(g);
  const level = megabyteSpec(config).byteLevel;
  const byte = g.input({
    name: 'byte',
    type: 'int32',
    shape: ['batch'],
    doc: 'the previous byte of the current patch (any valid id at the patch start, where it is ignored)',
  });
  const conditioning = g.input({
    name: 'conditioning',
    type: 'float32',
    shape: ['batch', level.patchSize, level.stack.dim],
    doc: 'the step output of the level above (global, or the innermost middle level) for the current patch',
  });
  // With cross-patch attention the cache also holds the last positions of the previous patch, so
  // the position in the patch comes as an input; otherwise it is the cache's length.
  const positionInput =
    level.crossPatch > 0
      ? g.input({
          name: 'position',
          type: 'int32',
          shape: [1],
          doc: `this byte's position in its patch (the cache also holds the last ${level.crossPatch} positions of the previous patch)`,
        })
      : undefined;
  const caches = GraphCache.inputs(g, cacheInfos(level.stack, 'past'));
  const position = positionInput
    ? g.op('Cast', [positionInput], { to: { int: 7 } })
    : g.shape(caches[0]!.pastKeys, 2, 3); // [1]: p
  g.output(byteStep(ops, level, caches, conditioning, position, byte), {
    name: 'logits',
    type: 'float32',
    shape: ['batch', config.vocabSize],
    doc: 'logits of the byte at this position',
  });
  cacheOutputs(g, level.stack, caches);
  return g.build('megabyte_local_step', 'MEGABYTE local step with a KV cache (empty at each patch start)');
}

/** The baseline's step (`baselineStep` in @megabyte/core): new bytes (the start vector goes first when the cache is empty) -> logits of the next byte. */
export function transformerStepGraph(
  config: TransformerConfig,
  weights: WeightSource,
  weightType: WeightType = 'float32',
): GraphDef {
  const g = new GraphBuilder(weights, weightType);
  const ops = new GraphOps(g);
  const stack = baselineSpec(config);
  const bytes = g.input({
    name: 'bytes',
    type: 'int32',
    shape: ['batch', 'new_bytes'],
    doc: 'the bytes fed since the last step (0 allowed on the first step)',
  });
  const caches = GraphCache.inputs(g, cacheInfos(stack, 'past'));
  const cached = g.shape(caches[0]!.pastKeys, 2, 3); // [1]: S
  g.output(baselineStep(ops, config, caches, cached, g.shape(bytes, 0, 1), bytes), {
    name: 'logits',
    type: 'float32',
    shape: ['batch', config.vocabSize],
    doc: 'logits of the byte after the ones fed so far',
  });
  cacheOutputs(g, stack, caches);
  return g.build('transformer_step', 'baseline transformer step with a KV cache');
}

/** Bytes before a patch that the outermost level's convolutional patch encoder reads. */
export function convHistory(config: MegabyteConfig): number {
  return levelHistory(megabyteSpec(config).patchLevels[0]!);
}

/** The stacks whose caches a decoding graph carries, by MEGABYTE level (the last: the byte level). */
export function decodingStacks(spec: MegabyteSpec): StackSpec[] {
  return [...spec.patchLevels.map((level) => level.stack), spec.byteLevel.stack];
}

function cacheOutputs(g: GraphBuilder, stack: StackSpec, caches: readonly GraphCache[]): void {
  const infos = cacheInfos(stack, 'present');
  caches.forEach((cache, i) => {
    g.output(cache.present!.keys, infos[2 * i]!);
    g.output(cache.present!.values, infos[2 * i + 1]!);
  });
}
