import {
  type CrossPatch,
  embeddingParameter,
  headParameters,
  type LayerCache,
  linear,
  linearParameters,
  type Ops,
  outputHead,
  type ParameterSpec,
  type StackSpec,
  stack,
  stackParameters,
} from '@megabyte/nn/definition';

/**
 * MEGABYTE's byte (local) level, defined once over `Ops` (tfjs runs it, the ONNX export records
 * it): steps 4-7 of the paper, predicting the bytes of every patch of the innermost patch level
 * from that level's output for the patch and the bytes before them in the patch. All patches run
 * in parallel as rows. Shapes: R rows of the level above, K patches per row, P the innermost
 * patch, D' the per-byte width above, D_L this level's width, V the vocabulary.
 */
export interface ByteLevelSpec {
  /** Parameter name prefix: `local`. */
  readonly prefix: string;
  readonly patchSize: number;
  /** D': the per-byte width of the level above, whose output slices condition each byte. */
  readonly aboveByteDim: number;
  readonly vocabSize: number;
  /** The output head is the transposed byte embedding. */
  readonly tieHead: boolean;
  /** Cross-patch attention: positions of the previous patch every layer also sees (0: off). */
  readonly crossPatch: number;
  /** The level's transformer, of width D_L. */
  readonly stack: StackSpec;
}

/** What the byte level's parameters need beyond its spec. */
export interface ByteLevelInit {
  /** Hidden width of each MLP as a multiple of D_L. */
  readonly mlpRatio: number;
  readonly initStd: number;
}

/**
 * The level's parameters, in the order checkpoints list them: the projection D' -> D_L, the byte
 * embedding [V, D_L], the pad, the positions [P, D_L], the transformer and the head.
 */
export function byteLevelParameters(level: ByteLevelSpec, init: ByteLevelInit): ParameterSpec[] {
  const { prefix, stack, vocabSize } = level;
  const std = init.initStd;
  return [
    ...linearParameters(
      `${prefix}.project`,
      { from: level.aboveByteDim, to: stack.dim, bias: stack.bias },
      std,
      'per-byte',
    ),
    embeddingParameter(`${prefix}.embed.bytes.weight`, [vocabSize, stack.dim], std),
    embeddingParameter(`${prefix}.pad`, [stack.dim], std),
    embeddingParameter(`${prefix}.embed.positions`, [level.patchSize, stack.dim], std),
    ...stackParameters(stack, init.mlpRatio, std),
    ...headParameters(prefix, { dim: stack.dim, vocabSize, tied: level.tieHead }, std),
  ];
}

/** Step 4: slice p of each patch's output above, projected to D_L. [R, K, P*D'] -> [R*K, P, D_L] */
export function projectConditioning<T, S>(ops: Ops<T, S>, level: ByteLevelSpec, above: T): T {
  const slices = ops.reshape(above, [-1, level.patchSize, level.aboveByteDim]); // [R*K, P, D']
  return linear(ops, `${level.prefix}.project`, slices, level.stack.bias);
}

/**
 * Step 5: the embedding of the previous byte of the same patch, the learned pad at p = 0.
 * ids [R, K*P] -> [R*K, P, D_L]
 */
export function shiftBytes<T, S>(ops: Ops<T, S>, level: ByteLevelSpec, ids: T): T {
  const patches = ops.reshape(ids, [-1, level.patchSize]); // [R*K, P]
  const table = ops.weight(`${level.prefix}.embed.bytes.weight`);
  const previous = ops.gather(table, ops.slice(patches, 1, 0, level.patchSize - 1)); // [R*K, P-1, D_L]
  const pad = ops.repeatRows(ops.weight(`${level.prefix}.pad`), ops.size(patches, 0)); // [R*K, 1, D_L]
  return ops.concat([pad, previous], 1);
}

/**
 * Steps 4-7: the innermost patch level's output [R, K, P*D'] and the bytes of its rows [R, K*P]
 * -> logits [R*K, P, V]. With cross-patch attention, `sequence` says how the R*K patches group
 * into sequences (see `CrossPatch`).
 */
export function byteLevel<T, S>(
  ops: Ops<T, S>,
  level: ByteLevelSpec,
  above: T,
  ids: T,
  sequence?: Omit<CrossPatch<S>, 'positions'>,
): T {
  const conditioning = projectConditioning(ops, level, above); // [R*K, P, D_L]
  const previousBytes = shiftBytes(ops, level, ids); // [R*K, P, D_L]
  const positions = ops.weight(`${level.prefix}.embed.positions`); // [P, D_L]
  const h = ops.dropout(ops.add(ops.add(conditioning, previousBytes), positions));
  const crossPatch =
    level.crossPatch > 0 && sequence ? { positions: level.crossPatch, ...sequence } : undefined;
  return outputHead(ops, level.prefix, level.tieHead, stack(ops, level.stack, h, { crossPatch })); // step 7
}

/**
 * One byte of incremental decoding at `position` of the current patch, with a KV cache that
 * starts at the patch (with cross-patch attention it also holds the end of the patch before).
 * `conditioning` [B, P, D_L] is the projected output above for the patch; `previous` [B] holds
 * the byte before `position` in the patch (any id at p = 0, where the pad replaces it).
 * -> logits [B, V]
 */
export function byteStep<T, S>(
  ops: Ops<T, S>,
  level: ByteLevelSpec,
  caches: readonly LayerCache<T, S>[],
  conditioning: T,
  position: S | number,
  previous: T,
): T {
  const next = ops.plus(position, 1);
  const slice = ops.slice(conditioning, 1, position, next); // [B, 1, D_L]
  const table = ops.weight(`${level.prefix}.embed.bytes.weight`);
  const embedded = ops.gather(table, ops.reshape(previous, [-1, 1])); // [B, 1, D_L]
  const pad = ops.reshape(ops.weight(`${level.prefix}.pad`), [1, 1, level.stack.dim]);
  const shifted = ops.whereZero(position, pad, embedded); // [B, 1, D_L]
  const positionEmbedding = ops.slice(ops.weight(`${level.prefix}.embed.positions`), 0, position, next);
  const h = ops.add(ops.add(slice, shifted), positionEmbedding);
  const logits = outputHead(ops, level.prefix, level.tieHead, stack(ops, level.stack, h, { caches }));
  return ops.reshape(logits, [-1, level.vocabSize]);
}
