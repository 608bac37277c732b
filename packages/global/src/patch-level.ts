import {
  causalConv,
  embeddingParameter,
  gelu,
  type LayerCache,
  leadingVector,
  linear,
  linearParameters,
  type Ops,
  type ParameterSpec,
  type StackSpec,
  stack,
  stackParameters,
} from '@megabyte/nn/definition';

/**
 * A patch level of MEGABYTE, defined once over `Ops` (tfjs runs it, the ONNX export records it):
 * the global model over the patches of the whole context, or a middle level of a deeper hierarchy
 * run inside each patch of the level above. Steps 1-3 of the paper; a middle level also adds the
 * level above's output for its patch, cut into per-byte slices and projected (as the byte level
 * is conditioned in the paper's two-level model).
 * Shapes: B rows, T bytes, P this level's patch, K = T / P patches, D its per-byte width,
 * W = P * D its transformer's width; primes for the level above.
 */
export interface PatchLevelSpec {
  /** Parameter name prefix: `global`, `middle.0`, ... */
  readonly prefix: string;
  readonly patchSize: number;
  readonly byteDim: number;
  /** Kernel sizes of the paper's convolutional patch encoder (none: no convolutions). */
  readonly convKernels: readonly number[];
  /** The level above, for a middle level (its patch holds this level's sequence). */
  readonly parent?: { readonly patchSize: number; readonly byteDim: number } | undefined;
  /** The level's transformer, of width W. */
  readonly stack: StackSpec;
}

/** What a patch level's parameters need beyond its spec. */
export interface PatchLevelInit {
  readonly vocabSize: number;
  /** Bytes seen at once (learned positions): the context, or for a middle level the patch above. */
  readonly positions: number;
  /** Hidden width of each MLP as a multiple of the level's width W. */
  readonly mlpRatio: number;
  readonly initStd: number;
}

/**
 * The level's parameters, in the order checkpoints list them: byte and position embeddings, the
 * patch encoder's convolutions [k*D, D], the pad patch [W], a middle level's projection D' -> D,
 * then its transformer.
 */
export function patchLevelParameters(level: PatchLevelSpec, init: PatchLevelInit): ParameterSpec[] {
  const { prefix, byteDim: D, patchSize: P, stack } = level;
  const std = init.initStd;
  const convs = level.convKernels.map(
    (k, i): ParameterSpec => ({
      name: `${prefix}.embed.conv.${i}.weight`,
      shape: [k * D, D],
      init: { kind: 'normal', std },
      decay: true,
      role: 'per-byte',
    }),
  );
  const project = level.parent
    ? linearParameters(
        `${prefix}.project`,
        { from: level.parent.byteDim, to: D, bias: stack.bias },
        std,
        'per-byte',
      )
    : [];
  return [
    embeddingParameter(`${prefix}.embed.bytes.weight`, [init.vocabSize, D], std),
    embeddingParameter(`${prefix}.embed.positions`, [init.positions, D], std),
    ...convs,
    embeddingParameter(`${prefix}.pad`, [P * D], std),
    ...project,
    ...stackParameters(stack, init.mlpRatio, std),
  ];
}

/** Bytes before a patch that its vector depends on through the convolutions. */
export function convHistory(level: PatchLevelSpec): number {
  return level.convKernels.reduce((sum, k) => sum + k - 1, 0);
}

/**
 * Step 1: each byte's embedding plus its position's (from byte position `start`), then the
 * residual causal convolutions of the patch encoder, if any. ids [B, T] -> [B, T, D]
 */
export function embedBytes<T, S>(ops: Ops<T, S>, level: PatchLevelSpec, ids: T, start: S | number): T {
  const end = ops.plus(start, ops.size(ids, 1));
  const positions = ops.slice(ops.weight(`${level.prefix}.embed.positions`), 0, start, end); // [T, D]
  let x = ops.add(ops.gather(ops.weight(`${level.prefix}.embed.bytes.weight`), ids), positions);
  level.convKernels.forEach((kernel, k) => {
    x = ops.add(x, gelu(ops, causalConv(ops, `${level.prefix}.embed.conv.${k}`, kernel, x)));
  });
  return x;
}

/**
 * Step 1, grouped: the P vectors of each patch concatenated (not projected) into one of size W.
 * ids [B, K*P] from byte position `start` -> [B, K, W]. With convolutions, `before` [B, h] holds
 * the h <= `convHistory` bytes just before `start` (fewer only where the sequence starts).
 */
export function embedPatches<T, S>(
  ops: Ops<T, S>,
  level: PatchLevelSpec,
  ids: T,
  start: S | number,
  before?: T,
): T {
  const width = level.patchSize * level.byteDim;
  if (!before) return ops.reshape(embedBytes(ops, level, ids, start), [0, -1, width]);
  const earlier = ops.size(before, 1);
  const all = embedBytes(ops, level, ops.concat([before, ids], 1), ops.minus(start, earlier)); // [B, h+T, D]
  return ops.reshape(ops.slice(all, 1, earlier), [0, -1, width]);
}

/** Step 2: the learned pad patch first, the last patch dropped. [B, K, W] -> [B, K, W] */
export function shiftPatches<T, S>(ops: Ops<T, S>, level: PatchLevelSpec, patches: T): T {
  const pad = ops.repeatRows(ops.weight(`${level.prefix}.pad`), ops.size(patches, 0)); // [B, 1, W]
  return ops.concat([pad, ops.slice(patches, 1, 0, -1)], 1);
}

/**
 * A middle level's conditioning: each patch's output of the level above cut into per-byte slices,
 * projected to this level's byte width and regrouped into this level's patches.
 * [B', K', P'*D'] -> [B'*K', P'/P, W]
 */
export function conditionOnParent<T, S>(ops: Ops<T, S>, level: PatchLevelSpec, parentOut: T): T {
  const parent = level.parent;
  if (!parent) throw new Error(`${level.prefix}: only a middle level is conditioned on a level above`);
  const slices = ops.reshape(parentOut, [-1, parent.patchSize, parent.byteDim]); // [B'*K', P', D']
  const projected = linear(ops, `${level.prefix}.project`, slices, level.stack.bias); // [B'*K', P', D]
  return ops.reshape(projected, [-1, parent.patchSize / level.patchSize, level.patchSize * level.byteDim]);
}

/**
 * Steps 1-3 over whole sequences: ids [B, K*P] -> [B, K, W], the output at patch k having seen
 * only the bytes of patches < k. A middle level also takes the level above's output
 * [B', K', P'*D'] with B = B'*K' (one row per patch above).
 */
export function patchLevel<T, S>(ops: Ops<T, S>, level: PatchLevelSpec, ids: T, parentOut?: T): T {
  let h = shiftPatches(ops, level, embedPatches(ops, level, ids, 0)); // [B, K, W]
  if (parentOut !== undefined) h = ops.add(h, conditionOnParent(ops, level, parentOut));
  return stack(ops, level.stack, ops.dropout(h));
}

/**
 * One step of incremental decoding with a KV cache holding `cached` positions (slot 0: the pad
 * patch; slot k + 1: patch k). `ids` [B, n*P] are the patches completed since the last step
 * (none: undefined) of each of the `batch` rows, which start at byte (cached - 1) * P; on the first step (empty cache) the
 * pad patch goes first. `before` as in `embedPatches`. A middle level adds row `slot` of its
 * conditioning from the level above [B, P'/P, W] to the input in cache slot `slot`.
 * -> the output for the patch after them [B, 1, W]
 */
export function patchStep<T, S>(
  ops: Ops<T, S>,
  level: PatchLevelSpec,
  caches: readonly LayerCache<T, S>[],
  cached: S | number,
  batch: S | number,
  ids: T | undefined,
  context: { readonly before?: T | undefined; readonly conditioning?: T | undefined } = {},
): T {
  const first = ops.isZero(cached); // 1 on the first step
  const start = ops.times(ops.plus(ops.minus(cached, 1), first), level.patchSize);
  const pad = leadingVector(ops, `${level.prefix}.pad`, batch, first); // [B, 0 or 1, W]
  const patches = ids ? [embedPatches(ops, level, ids, start, context.before)] : []; // [B, n, W]
  let input = ops.concat([pad, ...patches], 1); // [B, n', W]
  if (context.conditioning) {
    const end = ops.plus(cached, ops.size(input, 1));
    input = ops.add(input, ops.slice(context.conditioning, 1, cached, end));
  }
  return ops.slice(stack(ops, level.stack, input, { caches }), 1, -1);
}
