import {
  byteLevel,
  levelScope,
  type MegabyteConfig,
  type ModelConfig,
  type ModelConfigInput,
  patchLevels,
  type TransformerConfig,
  validateConfig,
} from '@megabyte/core/portable';
import { GraphBuilder, type WeightSource, type WeightType } from './graph-builder.js';
import type { GraphDef, ValueInfoDef } from './onnx-proto.js';

/**
 * The ONNX graphs of both model kinds, mirroring the tfjs forward code op for op (packages/nn,
 * global, local, core) so that logits agree to float32 rounding; every-config.test.ts checks each
 * variant against tfjs. Shapes in comments: B batch, T bytes, K = T / P patches, S cached
 * positions, n new positions.
 */

/** Large enough that exp() of it is exactly zero in float32, as in @megabyte/nn's causal mask. */
const MASKED = 1e9;
const NORM_EPSILON = 1e-5;

/** One transformer stack: the global, local or baseline model. */
interface Stage {
  /** Parameter name prefix: `global.`, `local.` or `` (the baseline). */
  readonly prefix: string;
  readonly dim: number;
  readonly heads: number;
  readonly layers: number;
  readonly config: ModelConfig;
}

/** An additive attention mask: causal, and for cross-patch attention a mask of keys per row added after it. */
type Mask = string | { readonly causal: string; readonly keys: string };

/** One layer's keys and values [B, H, S, Dh]. */
interface Cache {
  readonly key: string;
  readonly value: string;
}

/** Patch level i's transformer (0: the global model), of width patchSize * byteDim. */
export function patchStage(config: MegabyteConfig, i: number): Stage {
  const { patchSize, byteDim, heads, layers } = patchLevels(config)[i]!;
  return {
    prefix: `${levelScope(i, config.levels.length)}.`,
    dim: patchSize * byteDim,
    heads,
    layers,
    config,
  };
}

export function globalStage(config: MegabyteConfig): Stage {
  return patchStage(config, 0);
}

export function localStage(config: MegabyteConfig): Stage {
  const local = byteLevel(config);
  return { prefix: 'local.', dim: local.dim, heads: local.heads, layers: local.layers, config };
}

export function baselineStage(config: TransformerConfig): Stage {
  return { prefix: '', dim: config.dim, heads: config.heads, layers: config.layers, config };
}

/** The cache inputs or outputs of a stage: `${kind}_key_${i}` and `${kind}_value_${i}` for each layer. */
export function cacheInfos(stage: Stage, kind: 'past' | 'present'): ValueInfoDef[] {
  const headDim = stage.dim / stage.heads;
  const length = kind === 'past' ? 'past' : 'past + new';
  return Array.from({ length: stage.layers }, (_, i) =>
    (['key', 'value'] as const).map(
      (part): ValueInfoDef => ({
        name: `${kind}_${part}_${i}`,
        type: 'float32',
        shape: ['batch', stage.heads, length, headDim],
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
  const bytes = g.input({
    name: 'bytes',
    type: 'int32',
    shape: ['batch', 'length'],
    doc: 'byte ids (0..255, or special ids below vocabSize); for MEGABYTE a multiple of patchSize',
  });
  const logits =
    config.kind === 'megabyte' ? megabyteLogits(g, config, bytes) : baselineLogits(g, config, bytes);
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
 * The MEGABYTE forward pass, one level after another as in @megabyte/core's MegabyteModel: each
 * patch level runs over the patches of one sequence (the whole input for the outermost, one patch
 * of the level above below it), then the byte level inside the innermost patches.
 * bytes [B, T] -> logits [B*T/P_L, P_L, V]
 */
function megabyteLogits(g: GraphBuilder, config: MegabyteConfig, bytes: string): string {
  const levels = patchLevels(config);
  let rows = bytes; // [R, span]: one row per sequence of the current level
  let out: string | undefined; // the output of the level above [R', K', P'*D']
  for (let i = 0; i < levels.length; i++) {
    if (i > 0) rows = g.reshape(rows, [-1, levels[i - 1]!.patchSize]); // one row per patch above
    out = patchLevelOutput(g, config, i, rows, out); // [R, span/P, P*D]
  }
  return byteLevelLogits(g, config, bytes, rows, out!);
}

/**
 * Patch level i over rows [R, span] (span a multiple of its patch P): steps 1-3 of the paper, and
 * below the outermost level the conditioning on the level above's output [R', K', P'*D'] (R = R'*K').
 * -> [R, span/P, P*D]
 */
function patchLevelOutput(
  g: GraphBuilder,
  config: MegabyteConfig,
  i: number,
  rows: string,
  parentOut: string | undefined,
): string {
  const stage = patchStage(config, i);
  const { patchSize: P, byteDim } = patchLevels(config)[i]!;
  const width = P * byteDim;
  const patches = g.reshape(embedLevel(g, config, i, rows, g.ints([0])), [0, -1, width]); // [R, K, W]
  // Step 2: the pad patch first, the last patch dropped.
  const pad = broadcastRows(g, g.weight(`${stage.prefix}pad`), width, g.shape(rows, 0, 1)); // [R, 1, W]
  let h = g.concat([pad, g.slice(patches, 1, 0, -1)], 1); // [R, K, W]
  if (parentOut !== undefined) {
    // Each parent patch's output cut into per-byte slices, projected to this level's byte width
    // and regrouped into this level's patches: [R', K', P'*D'] -> [R'*K', P'/P, P*D]
    const above = patchLevels(config)[i - 1]!;
    const slices = g.reshape(parentOut, [-1, above.patchSize, above.byteDim]); // [R'*K', P', D']
    const projected = linear(g, config, `${stage.prefix}project`, slices); // [R'*K', P', D]
    h = g.add(h, g.reshape(projected, [-1, above.patchSize / P, width]));
  }
  return transformer(g, stage, h, causalMask(g, g.shape(h, 1, 2))).output;
}

/**
 * Steps 4-7 inside the innermost patches: the level above's output [R, K, P*D] and the bytes of
 * its sequences `rows` [R, K*P] -> logits [R*K, P, V]. With cross-patch attention each patch also
 * sees the last positions of the patch before it in the same sequence of `bytes` [B, T].
 */
function byteLevelLogits(
  g: GraphBuilder,
  config: MegabyteConfig,
  bytes: string,
  rows: string,
  out: string,
): string {
  const { patchSize: P, byteDim } = patchLevels(config).at(-1)!;
  const local = byteLevel(config);
  const slices = g.reshape(out, [-1, P, byteDim]); // [B*K, P, D]
  const conditioning = linear(g, config, 'local.project', slices); // [B*K, P, D_L]
  // Step 5: the previous byte of the same patch, the learned pad at p = 0.
  const patches = g.reshape(rows, [-1, P]); // [B*K, P]
  const previous = g.gather(g.weight('local.embed.bytes.weight'), g.slice(patches, 1, 0, P - 1)); // [B*K, P-1, D_L]
  const localPad = broadcastRows(g, g.weight('local.pad'), local.dim, g.shape(patches, 0, 1)); // [B*K, 1, D_L]
  const shiftedBytes = g.concat([localPad, previous], 1); // [B*K, P, D_L]
  const h = g.add(g.add(conditioning, shiftedBytes), g.weight('local.embed.positions'));
  const cross = local.crossPatch ?? 0;
  const output =
    cross > 0
      ? transformer(g, localStage(config), h, crossPatchMask(g, bytes, P, cross), undefined, cross).output
      : transformer(g, localStage(config), h, causalMask(g, g.ints([P]))).output;
  return head(g, config, output);
}

/**
 * The additive mask of cross-patch attention over keys [the r last positions of the previous
 * patch, then the P own ones] -> [B*K, 1, P, r+P]: causal over its own, and the previous patch's
 * hidden from the first patch of each sequence of `bytes` [B, T] (as @megabyte/nn's CrossPatch).
 */
function crossPatchMask(g: GraphBuilder, bytes: string, patchSize: number, r: number): Mask {
  const causal = offsetCausalMask(g, g.ints([patchSize]), g.ints([r])); // [P, r+P]
  const perSequence = g.op('Div', [g.shape(bytes, 1, 2), g.ints([patchSize])]); // [1]: K
  const constant = (shape: string, value: number) =>
    g.op('ConstantOfShape', [shape], {
      value: { tensor: { name: 'v', type: 'float32', dims: [1], data: Float32Array.of(value) } },
    });
  const batch = g.shape(bytes, 0, 1);
  // 1 at the first patch of each sequence, 0 elsewhere: [B, K] -> [B*K, 1, 1, 1]
  const rest = g.op('Sub', [perSequence, g.ints([1])]);
  const first = g.concat(
    [constant(g.concat([batch, g.ints([1])], 0), 1), constant(g.concat([batch, rest], 0), 0)],
    1,
  );
  const hidden = g.mul(g.reshape(first, [-1, 1, 1, 1]), g.float(-MASKED)); // [B*K, 1, 1, 1]
  const previous = g.op('Expand', [hidden, g.ints([1, 1, 1, r])]); // [B*K, 1, 1, r]
  const keyMask = g.op('Pad', [previous, g.ints([0, 0, 0, 0, 0, 0, 0, patchSize])]); // [B*K, 1, 1, r+P]
  return { causal, keys: keyMask };
}

/** The baseline's forward pass: bytes [B, T] -> logits [B, T, V]. */
function baselineLogits(g: GraphBuilder, config: TransformerConfig, bytes: string): string {
  const length = g.shape(bytes, 1, 2); // [1]: T
  const start = broadcastRows(g, g.weight('start'), config.dim, g.shape(bytes, 0, 1)); // [B, 1, D]
  const previous = g.gather(g.weight('embed.bytes.weight'), g.slice(bytes, 1, 0, -1)); // [B, T-1, D]
  const shifted = g.concat([start, previous], 1); // [B, T, D]
  const h = g.add(shifted, g.slice(g.weight('embed.positions'), 0, 0, length));
  return head(g, config, transformer(g, baselineStage(config), h, causalMask(g, length)).output);
}

/**
 * The output of patch level i's step, as the level below reads it: for the next patch level, its
 * conditioning for each of its patches inside the next patch of level i; for the byte level, the
 * projected slice of each byte position. -> [B, P_i / P_{i+1}, P_{i+1} * D_{i+1}] or [B, P_i, D_L]
 */
export function conditioningShape(config: MegabyteConfig, i: number): [string, number, number] {
  const levels = patchLevels(config);
  const { patchSize } = levels[i]!;
  const below = levels[i + 1];
  return below
    ? ['batch', patchSize / below.patchSize, below.patchSize * below.byteDim]
    : ['batch', patchSize, byteLevel(config).dim];
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
 * Patch level i's step with a KV cache, as @megabyte/global's GlobalModel.step: new whole patches
 * (the pad patch goes first when the cache is empty) -> the level's output for the patch after
 * them, handed down as the next level's conditioning (`conditioningShape`). The outermost level
 * takes every patch completed since its last step; a level below it runs inside one patch of the
 * level above, with a cache emptied there, one patch per step, and adds the slice of that
 * level's conditioning for each of its patches.
 */
export function patchStepGraph(
  config: MegabyteConfig,
  i: number,
  weights: WeightSource,
  weightType: WeightType = 'float32',
): GraphDef {
  const g = new GraphBuilder(weights, weightType);
  const levels = patchLevels(config);
  const { patchSize: P, byteDim } = levels[i]!;
  const width = P * byteDim;
  const stage = patchStage(config, i);
  const bytes = g.input({
    name: 'bytes',
    type: 'int32',
    shape: ['batch', 'new_bytes'],
    doc: 'the bytes of the patches completed since the last step (a multiple of patchSize, 0 allowed on the first step)',
  });
  // The convolutional patch encoder reads the bytes just before the new ones.
  const history =
    i === 0 && convHistory(config) > 0
      ? g.input({
          name: 'history',
          type: 'int32',
          shape: ['batch', 'history_bytes'],
          doc: `the ${convHistory(config)} bytes before the new ones (fewer at the start of the window; none on the first step)`,
        })
      : undefined;
  const parent =
    i > 0
      ? g.input({
          name: 'parent_conditioning',
          type: 'float32',
          shape: conditioningShape(config, i - 1),
          doc: 'the step output of the level above for its current patch: one row per patch of this level in it',
        })
      : undefined;
  const past = cacheInputs(g, stage);
  const cached = g.shape(past[0]!.key, 2, 3); // [1]: S, the pad patch and the patches already seen
  const first = g.op('Cast', [g.op('Equal', [cached, g.ints([0])])], { to: { int: 7 } }); // [1]: 1 on the first step
  // Byte position of the new patches: patch k sits at cache slot k + 1 (the pad patch holds slot 0).
  const start = g.mul(g.add(g.op('Sub', [cached, g.ints([1])]), first), g.ints([P]));
  const embedded = history
    ? g.slice(
        embedLevel(g, config, 0, g.concat([history, bytes], 1), g.op('Sub', [start, g.shape(history, 1, 2)])),
        1,
        g.shape(history, 1, 2),
      )
    : embedLevel(g, config, i, bytes, start);
  const patches = g.reshape(embedded, [0, -1, width]); // [B, n, W]
  const pad = g.slice(
    broadcastRows(g, g.weight(`${stage.prefix}pad`), width, g.shape(bytes, 0, 1)),
    1,
    0,
    first,
  );
  let input = g.concat([pad, patches], 1); // [B, n', W]
  // Cache slot k holds the level's input for its patch k inside the parent patch.
  if (parent) input = g.add(input, g.slice(parent, 1, cached, g.add(cached, g.shape(input, 1, 2))));
  const { output, present } = transformer(g, stage, input, decodingMask(g, input, cached), past);
  const last = g.reshape(g.slice(output, 1, -1), [-1, P, byteDim]); // [B, P, D]: per-byte slices
  const below = levels[i + 1];
  const handed = below
    ? g.reshape(linear(g, config, `${patchStage(config, i + 1).prefix}project`, last), [
        -1,
        P / below.patchSize,
        below.patchSize * below.byteDim,
      ])
    : linear(g, config, 'local.project', last);
  g.output(handed, {
    name: 'conditioning',
    type: 'float32',
    shape: conditioningShape(config, i),
    doc: below
      ? "this level's output for the next patch, as the conditioning of the level below: one row per patch of that level in it"
      : "this level's output for the next patch, projected to the local width: one row per byte position (feed it to the local step)",
  });
  cacheOutputs(g, stage, present);
  return i === 0
    ? g.build('megabyte_global_step', 'MEGABYTE global step with a KV cache')
    : g.build(
        `megabyte_middle_${i - 1}_step`,
        `MEGABYTE middle level ${i - 1} step with a KV cache (empty at each patch of the level above)`,
      );
}

/** MEGABYTE's local step: one byte of the current patch -> the logits of the next byte. */
export function localStepGraph(
  config: MegabyteConfig,
  weights: WeightSource,
  weightType: WeightType = 'float32',
): GraphDef {
  const g = new GraphBuilder(weights, weightType);
  const P = patchLevels(config).at(-1)!.patchSize; // the innermost patch
  const local = byteLevel(config);
  const stage = localStage(config);
  const byte = g.input({
    name: 'byte',
    type: 'int32',
    shape: ['batch'],
    doc: 'the previous byte of the current patch (any valid id at the patch start, where it is ignored)',
  });
  const conditioning = g.input({
    name: 'conditioning',
    type: 'float32',
    shape: ['batch', P, local.dim],
    doc: 'the step output of the level above (global, or the innermost middle level) for the current patch',
  });
  // With cross-patch attention the cache also holds the last positions of the previous patch, so
  // the position in the patch comes as an input; otherwise it is the cache's length.
  const cross = local.crossPatch ?? 0;
  const positionInput =
    cross > 0
      ? g.input({
          name: 'position',
          type: 'int32',
          shape: [1],
          doc: `this byte's position in its patch (the cache also holds the last ${cross} positions of the previous patch)`,
        })
      : undefined;
  const past = cacheInputs(g, stage);
  const cached = g.shape(past[0]!.key, 2, 3); // [1]: S
  const position = positionInput ? g.op('Cast', [positionInput], { to: { int: 7 } }) : cached; // [1]: p
  const next = g.add(position, g.ints([1]));
  const slice = g.slice(conditioning, 1, position, next); // [B, 1, D_L]
  const embedded = g.gather(g.weight('local.embed.bytes.weight'), g.reshape(byte, [-1, 1])); // [B, 1, D_L]
  const pad = g.reshape(g.weight('local.pad'), [1, 1, local.dim]);
  const previous = g.op('Where', [g.op('Equal', [position, g.ints([0])]), pad, embedded]); // [B, 1, D_L]
  const h = g.add(g.add(slice, previous), g.slice(g.weight('local.embed.positions'), 0, position, next));
  const { output, present } = transformer(g, stage, h, decodingMask(g, h, cached), past);
  g.output(g.reshape(head(g, config, output), [-1, config.vocabSize]), {
    name: 'logits',
    type: 'float32',
    shape: ['batch', config.vocabSize],
    doc: 'logits of the byte at this position',
  });
  cacheOutputs(g, stage, present);
  return g.build('megabyte_local_step', 'MEGABYTE local step with a KV cache (empty at each patch start)');
}

/** The baseline's step: new bytes (the start vector goes first when the cache is empty) -> logits of the next byte. */
export function transformerStepGraph(
  config: TransformerConfig,
  weights: WeightSource,
  weightType: WeightType = 'float32',
): GraphDef {
  const g = new GraphBuilder(weights, weightType);
  const stage = baselineStage(config);
  const bytes = g.input({
    name: 'bytes',
    type: 'int32',
    shape: ['batch', 'new_bytes'],
    doc: 'the bytes fed since the last step (0 allowed on the first step)',
  });
  const past = cacheInputs(g, stage);
  const cached = g.shape(past[0]!.key, 2, 3); // [1]: S
  const first = g.op('Cast', [g.op('Equal', [cached, g.ints([0])])], { to: { int: 7 } });
  const start = g.slice(broadcastRows(g, g.weight('start'), config.dim, g.shape(bytes, 0, 1)), 1, 0, first);
  const input = g.concat([start, g.gather(g.weight('embed.bytes.weight'), bytes)], 1); // [B, n, D]
  const end = g.add(cached, g.shape(input, 1, 2));
  const h = g.add(input, g.slice(g.weight('embed.positions'), 0, cached, end));
  const { output, present } = transformer(g, stage, h, decodingMask(g, h, cached), past);
  g.output(g.reshape(head(g, config, g.slice(output, 1, -1)), [-1, config.vocabSize]), {
    name: 'logits',
    type: 'float32',
    shape: ['batch', config.vocabSize],
    doc: 'logits of the byte after the ones fed so far',
  });
  cacheOutputs(g, stage, present);
  return g.build('transformer_step', 'baseline transformer step with a KV cache');
}

/**
 * Step 1 at patch level i: E[x_t] + Pos[start + t], then (outermost level only) the convolutional
 * patch encoder's residual causal convolutions, if any. ids [B, T] -> [B, T, D]
 */
function embedLevel(g: GraphBuilder, config: MegabyteConfig, i: number, ids: string, start: string): string {
  const prefix = levelScope(i, config.levels.length);
  const length = g.shape(ids, 1, 2);
  const positions = g.slice(g.weight(`${prefix}.embed.positions`), 0, start, g.add(start, length)); // [T, D]
  let x = g.add(g.gather(g.weight(`${prefix}.embed.bytes.weight`), ids), positions);
  (patchLevels(config)[i]!.convKernels ?? []).forEach((kernel, k) => {
    x = g.add(x, gelu(g, causalConv(g, `${prefix}.embed.conv.${k}.weight`, kernel, x, length)));
  });
  return x;
}

/** Bytes before a patch that the convolutional patch encoder reads. */
export function convHistory(config: MegabyteConfig): number {
  return (patchLevels(config)[0]!.convKernels ?? []).reduce((sum, k) => sum + k - 1, 0);
}

/**
 * Causal 1-D convolution as @megabyte/nn's CausalConv: the k copies of x shifted back by
 * 0..k-1 positions (zeros before the start), side by side, times the [k*C, C] weight.
 * x [B, T, C] -> [B, T, C]; `length` is T as an int64 [1].
 */
function causalConv(g: GraphBuilder, weight: string, kernel: number, x: string, length: string): string {
  const padded = g.op('Pad', [x, g.ints([0, kernel - 1, 0, 0, 0, 0])]); // [B, T+k-1, C]
  const shifted = Array.from({ length: kernel }, (_, j) =>
    g.slice(padded, 1, kernel - 1 - j, g.add(length, g.ints([kernel - 1 - j]))),
  );
  return g.matMul(g.concat(shifted, 2), g.weight(weight));
}

/** A learned vector [D] as [rows, 1, D]; `rows` is an int64 [1]. */
function broadcastRows(g: GraphBuilder, vector: string, dim: number, rows: string): string {
  return g.op('Expand', [g.reshape(vector, [1, 1, dim]), g.concat([rows, g.ints([1, 1])], 0)]);
}

/** [T, T] additive mask: 0 where key j <= query i, -1e9 above the diagonal. `length` is an int64 [1]. */
function causalMask(g: GraphBuilder, length: string): string {
  const ones = g.op('ConstantOfShape', [g.concat([length, length], 0)], {
    value: { tensor: { name: 'one', type: 'float32', dims: [1], data: Float32Array.of(1) } },
  });
  return g.mul(g.op('Sub', [g.op('Trilu', [ones], { upper: { int: 0 } }), g.float(1)]), g.float(MASKED));
}

/** [n, S + n] additive mask for the n positions of `input` after S cached ones: query i sees keys j <= S + i. */
function decodingMask(g: GraphBuilder, input: string, cached: string): string {
  return offsetCausalMask(g, g.shape(input, 1, 2), cached);
}

/** [n, S + n] additive mask: query i sees keys j <= S + i. `fresh` (n) and `cached` (S) are int64 [1]. */
function offsetCausalMask(g: GraphBuilder, fresh: string, cached: string): string {
  const ones = g.op('ConstantOfShape', [g.concat([fresh, g.add(cached, fresh)], 0)], {
    value: { tensor: { name: 'one', type: 'float32', dims: [1], data: Float32Array.of(1) } },
  });
  const lower = g.op('Trilu', [ones, g.reshape(cached, [])], { upper: { int: 0 } });
  return g.mul(g.op('Sub', [lower, g.float(1)]), g.float(MASKED));
}

function cacheInputs(g: GraphBuilder, stage: Stage): Cache[] {
  const infos = cacheInfos(stage, 'past');
  return Array.from({ length: stage.layers }, (_, i) => ({
    key: g.input(infos[2 * i]!),
    value: g.input(infos[2 * i + 1]!),
  }));
}

function cacheOutputs(g: GraphBuilder, stage: Stage, present: readonly Cache[]): void {
  const infos = cacheInfos(stage, 'present');
  present.forEach((cache, i) => {
    g.output(cache.key, infos[2 * i]!);
    g.output(cache.value, infos[2 * i + 1]!);
  });
}

/** Pre-norm blocks and the final norm: [B, n, D] -> [B, n, D], with each layer's keys/values. */
function transformer(
  g: GraphBuilder,
  stage: Stage,
  x: string,
  mask: Mask,
  past?: readonly Cache[],
  crossPatch = 0,
): { output: string; present: Cache[] } {
  const present: Cache[] = [];
  let h = x;
  for (let i = 0; i < stage.layers; i++) {
    const layer = `${stage.prefix}layers.${i}`;
    const attended = attention(
      g,
      stage,
      layer,
      norm(g, stage.config, `${layer}.attn_norm`, h),
      mask,
      past?.[i],
      crossPatch,
    );
    present.push(attended.cache);
    h = g.add(h, attended.output);
    h = g.add(h, mlp(g, stage.config, `${layer}.mlp`, norm(g, stage.config, `${layer}.mlp_norm`, h)));
  }
  return { output: norm(g, stage.config, `${stage.prefix}norm`, h), present };
}

/**
 * Causal multi-head self-attention; new keys/values are appended to `past`. With `crossPatch` r,
 * rows are consecutive patches and each also attends to the last r positions of the row before
 * (`mask.keys` hides them where a sequence starts).
 */
function attention(
  g: GraphBuilder,
  stage: Stage,
  layer: string,
  x: string,
  mask: Mask,
  past: Cache | undefined,
  crossPatch: number,
): { output: string; cache: Cache } {
  const headDim = stage.dim / stage.heads;
  // [B, n, D] -> [B, H, n, Dh]
  const split = (name: string) =>
    g.transpose(
      g.reshape(linear(g, stage.config, `${layer}.attn.${name}`, x), [0, 0, stage.heads, headDim]),
      [0, 2, 1, 3],
    );
  const q = split('wq');
  let key = split('wk');
  let value = split('wv');
  if (past) {
    key = g.concat([past.key, key], 2); // [B, H, S+n, Dh]
    value = g.concat([past.value, value], 2);
  }
  if (crossPatch > 0) {
    key = withPreviousRow(g, key, stage.heads, headDim, crossPatch); // [R, H, r+n, Dh]
    value = withPreviousRow(g, value, stage.heads, headDim, crossPatch);
  }
  const scores = g.mul(g.matMul(q, g.transpose(key, [0, 1, 3, 2])), g.float(1 / Math.sqrt(headDim))); // [B, H, n, S+n]
  let masked = g.add(scores, typeof mask === 'string' ? mask : mask.causal);
  if (typeof mask !== 'string') masked = g.add(masked, mask.keys);
  const probs = g.op('Softmax', [masked], { axis: { int: -1 } });
  const merged = g.reshape(g.transpose(g.matMul(probs, value), [0, 2, 1, 3]), [0, 0, stage.dim]); // [B, n, D]
  return { output: linear(g, stage.config, `${layer}.attn.wo`, merged), cache: { key, value } };
}

/** x [R, H, n, Dh] with the last r positions of the row before prepended (zeros for row 0) -> [R, H, r+n, Dh] */
function withPreviousRow(g: GraphBuilder, x: string, heads: number, headDim: number, r: number): string {
  const tail = g.slice(g.slice(x, 2, -r), 0, 0, -1); // rows 0..R-2, last r positions
  const zeros = g.op('ConstantOfShape', [g.ints([1, heads, r, headDim])], {
    value: { tensor: { name: 'zero', type: 'float32', dims: [1], data: Float32Array.of(0) } },
  });
  return g.concat([g.concat([zeros, tail], 0), x], 2);
}

function mlp(g: GraphBuilder, config: ModelConfig, prefix: string, x: string): string {
  const hidden = linear(g, config, `${prefix}.up`, x);
  const activated = config.activation === 'gelu' ? gelu(g, hidden) : g.op('Relu', [hidden]);
  return linear(g, config, `${prefix}.down`, activated);
}

/** GELU, tanh form, in the same order of operations as @megabyte/nn's. */
function gelu(g: GraphBuilder, x: string): string {
  const cube = g.mul(g.mul(x, x), x);
  const inner = g.mul(g.add(x, g.mul(cube, g.float(0.044715))), g.float(Math.sqrt(2 / Math.PI)));
  return g.mul(g.mul(x, g.float(0.5)), g.add(g.op('Tanh', [inner]), g.float(1)));
}

function norm(g: GraphBuilder, config: ModelConfig, prefix: string, x: string): string {
  const gain = g.weight(`${prefix}.weight`);
  if (config.norm === 'layernorm') {
    return g.op('LayerNormalization', [x, gain, g.weight(`${prefix}.bias`)], {
      axis: { int: -1 },
      epsilon: { float: NORM_EPSILON },
    });
  }
  const meanSquare = g.op('ReduceMean', [g.mul(x, x)], { axes: { ints: [-1] }, keepdims: { int: 1 } });
  const scale = g.op('Reciprocal', [g.op('Sqrt', [g.add(meanSquare, g.float(NORM_EPSILON))])]);
  return g.mul(g.mul(x, scale), gain);
}

/** x W (+ b) over the last axis. */
function linear(g: GraphBuilder, config: ModelConfig, prefix: string, x: string): string {
  const y = g.matMul(x, g.weight(`${prefix}.weight`));
  return config.bias ? g.add(y, g.weight(`${prefix}.bias`)) : y;
}

/** The output head, or the transposed byte embedding when tied. [..., D] -> [..., V] */
function head(g: GraphBuilder, config: ModelConfig, h: string): string {
  const prefix = config.kind === 'megabyte' ? 'local.' : '';
  if (!config.tieHead) return g.matMul(h, g.weight(`${prefix}head.weight`));
  return g.matMul(h, g.transpose(g.weight(`${prefix}embed.bytes.weight`), [1, 0]));
}
