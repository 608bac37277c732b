import type { AttentionFrame, LayerCache, Ops } from './ops.js';

/**
 * The building blocks of both models, defined once over `Ops` (see ops.ts): tfjs runs them, the
 * ONNX export records them. Parameters are read by their checkpoint names under a prefix such as
 * `global.layers.0.attn`. Shapes: B rows, T positions, S cached positions, D width, H heads,
 * Dh = D / H.
 */

export type Activation = 'gelu' | 'relu';
export type NormKind = 'layernorm' | 'rmsnorm';

/** What the blocks of one transformer stack need to know of it. */
export interface StackSpec {
  /** Parameter name prefix, e.g. `global` or `middle.0` (empty for the baseline). */
  readonly prefix: string;
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly activation: Activation;
  readonly norm: NormKind;
  readonly bias: boolean;
  /** Rotary position embeddings in the attention (see `rotate`), over at most `positions` keys. */
  readonly rotary?: { readonly positions: number } | undefined;
}

/**
 * The paper's cross-patch attention for a stack run on every patch as a row: each row also sees
 * the keys and values of the last `positions` positions of the row before it, unless it starts a
 * sequence. Rows are patches in order, `patchesPerSequence` per sequence; `firstRow` is the index
 * of the first given row in that numbering (when rows come in chunks).
 */
export interface CrossPatch<S> {
  readonly positions: number;
  readonly patchesPerSequence: S | number;
  readonly firstRow?: number;
}

export interface StackContext<T, S> {
  /** One cache per layer, for incremental decoding. */
  readonly caches?: readonly LayerCache<T, S>[] | undefined;
  /** Training and scoring only, not with caches. */
  readonly crossPatch?: CrossPatch<S> | undefined;
}

/** How a parameter starts: a normal truncated at two standard deviations, zeros or ones. */
export type Initializer =
  | { readonly kind: 'normal'; readonly std: number }
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' };

/**
 * One parameter of the definition, declared next to the code that reads it: what a model is built
 * from, what checkpoints are checked against and what parameter counts are summed from.
 */
export interface ParameterSpec {
  /** The checkpoint name, e.g. `global.layers.0.attn.wq.weight`. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Initializer;
  /** Whether weight decay applies: not to norms, biases, embeddings and pads. */
  readonly decay: boolean;
  /**
   * `embedding`: looked up, not multiplied (byte and position tables, pads, the start vector);
   * `transformer`: a level's blocks and final norm; `per-byte`: run once per byte (patch-encoder
   * convolutions, projections from the level above, the head).
   */
  readonly role: 'embedding' | 'transformer' | 'per-byte';
}

/** A learned table or vector that is looked up (or added), normal(std), without weight decay. */
export function embeddingParameter(name: string, shape: readonly number[], std: number): ParameterSpec {
  return { name, shape, init: { kind: 'normal', std }, decay: false, role: 'embedding' };
}

/** `linear`'s weight [in, out] (normal(std), decayed) and bias [out] (zeros). */
export function linearParameters(
  prefix: string,
  shape: { readonly from: number; readonly to: number; readonly bias: boolean },
  std: number,
  role: ParameterSpec['role'],
): ParameterSpec[] {
  const weight: ParameterSpec = {
    name: `${prefix}.weight`,
    shape: [shape.from, shape.to],
    init: { kind: 'normal', std },
    decay: true,
    role,
  };
  if (!shape.bias) return [weight];
  return [weight, { name: `${prefix}.bias`, shape: [shape.to], init: { kind: 'zeros' }, decay: false, role }];
}

/** `norm`'s gain (ones) and, for LayerNorm, bias (zeros). */
export function normParameters(kind: NormKind, prefix: string, dim: number): ParameterSpec[] {
  const gain: ParameterSpec = {
    name: `${prefix}.weight`,
    shape: [dim],
    init: { kind: 'ones' },
    decay: false,
    role: 'transformer',
  };
  if (kind === 'rmsnorm') return [gain];
  return [
    gain,
    { name: `${prefix}.bias`, shape: [dim], init: { kind: 'zeros' }, decay: false, role: 'transformer' },
  ];
}

/**
 * `stack`'s parameters: per block the attention's projections and the MLP (hidden width
 * mlpRatio * D), the residual output projections initialised with std / sqrt(2 * layers) so the
 * residual stream's variance does not grow with depth; then the final norm.
 */
export function stackParameters(spec: StackSpec, mlpRatio: number, std: number): ParameterSpec[] {
  const { dim, layers, bias } = spec;
  const hidden = Math.round(dim * mlpRatio);
  const residualStd = std / Math.sqrt(2 * layers);
  const out: ParameterSpec[] = [];
  for (let i = 0; i < layers; i++) {
    const layer = scoped(spec.prefix, `layers.${i}`);
    out.push(...normParameters(spec.norm, `${layer}.attn_norm`, dim));
    for (const name of ['wq', 'wk', 'wv', 'wo']) {
      const projectionStd = name === 'wo' ? residualStd : std;
      out.push(
        ...linearParameters(
          `${layer}.attn.${name}`,
          { from: dim, to: dim, bias },
          projectionStd,
          'transformer',
        ),
      );
    }
    out.push(...normParameters(spec.norm, `${layer}.mlp_norm`, dim));
    out.push(...linearParameters(`${layer}.mlp.up`, { from: dim, to: hidden, bias }, std, 'transformer'));
    out.push(
      ...linearParameters(`${layer}.mlp.down`, { from: hidden, to: dim, bias }, residualStd, 'transformer'),
    );
  }
  out.push(...normParameters(spec.norm, scoped(spec.prefix, 'norm'), dim));
  return out;
}

/** `outputHead`'s matrix D -> V (no bias), none when tied to the byte embedding. */
export function headParameters(
  prefix: string,
  shape: { readonly dim: number; readonly vocabSize: number; readonly tied: boolean },
  std: number,
): ParameterSpec[] {
  if (shape.tied) return [];
  return linearParameters(
    scoped(prefix, 'head'),
    { from: shape.dim, to: shape.vocabSize, bias: false },
    std,
    'per-byte',
  );
}

/** `${prefix}.${name}`, or `name` at the root. */
export function scoped(prefix: string, name: string | number): string {
  return prefix === '' ? String(name) : `${prefix}.${name}`;
}

/** y = x W (+ b) over the last axis. W [in, out] */
export function linear<T, S>(ops: Ops<T, S>, prefix: string, x: T, bias: boolean): T {
  const y = ops.matMul(x, ops.weight(`${prefix}.weight`));
  return bias ? ops.add(y, ops.weight(`${prefix}.bias`)) : y;
}

/** LayerNorm (gain and bias) or RMSNorm (gain only) over the last axis. */
export function norm<T, S>(ops: Ops<T, S>, kind: NormKind, prefix: string, x: T): T {
  const gain = ops.weight(`${prefix}.weight`);
  return kind === 'layernorm' ? ops.layerNorm(x, gain, ops.weight(`${prefix}.bias`)) : ops.rmsNorm(x, gain);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). The tanh form because every
 * tfjs backend has Tanh and its gradient while Erf is missing on some; x^3 as x x x because
 * tf.pow's gradient also differentiates the exponent. (The ONNX training graphs recognise this
 * exact sequence and give it one fused gradient: keep the order.)
 */
export function gelu<T, S>(ops: Ops<T, S>, x: T): T {
  const cube = ops.mul(ops.mul(x, x), x);
  const inner = ops.mul(ops.add(x, ops.mul(cube, 0.044715)), SQRT_2_OVER_PI);
  return ops.mul(ops.mul(x, 0.5), ops.add(ops.tanh(inner), 1));
}

/** Linear -> activation -> Linear. */
export function mlp<T, S>(
  ops: Ops<T, S>,
  spec: Pick<StackSpec, 'activation' | 'bias'>,
  prefix: string,
  x: T,
): T {
  const hidden = linear(ops, `${prefix}.up`, x, spec.bias);
  const activated = spec.activation === 'gelu' ? gelu(ops, hidden) : ops.relu(hidden);
  return linear(ops, `${prefix}.down`, activated, spec.bias);
}

/**
 * How every layer of a stack masks its attention: after the positions cached, or with cross-patch
 * attention after the last r positions of the row before, hidden from rows that start a sequence.
 * x [B, T, D], the stack's input
 */
export function attentionFrame<T, S>(
  ops: Ops<T, S>,
  x: T,
  context: StackContext<T, S>,
): AttentionFrame<T, S> {
  const queries = ops.size(x, 1);
  const cross = context.crossPatch;
  if (!cross) return { queries, past: context.caches?.[0]?.length ?? 0 };
  const { positions: r, patchesPerSequence, firstRow = 0 } = cross;
  const keyMask = ops.sequenceStartMask(x, patchesPerSequence, firstRow, r, ops.plus(queries, r)); // [R, 1, 1, r+T]
  return { queries, past: r, previousRow: r, keyMask };
}

/**
 * Causal multi-head self-attention: position t attends to positions <= t, after the positions in
 * `cache` (to which the new keys and values are appended), masked as `frame` says.
 * x [B, T, D] -> [B, T, D]
 */
export function attention<T, S>(
  ops: Ops<T, S>,
  spec: Pick<StackSpec, 'dim' | 'heads' | 'bias' | 'rotary'>,
  prefix: string,
  x: T,
  frame: AttentionFrame<T, S>,
  cache?: LayerCache<T, S>,
): T {
  const headDim = spec.dim / spec.heads;
  // [B, T, D] -> [B, H, T, Dh]
  const heads = (name: string) =>
    ops.transpose(
      ops.reshape(linear(ops, `${prefix}.${name}`, x, spec.bias), [0, 0, spec.heads, headDim]),
      [0, 2, 1, 3],
    );
  let q = heads('wq');
  let k = heads('wk');
  let v = heads('wv');
  if (cache) ({ keys: k, values: v } = cache.append(k, v)); // [B, H, S+T, Dh]
  if (frame.previousRow) {
    k = withPreviousRow(ops, k, spec.heads, headDim, frame.previousRow); // [R, H, r+T, Dh]
    v = withPreviousRow(ops, v, spec.heads, headDim, frame.previousRow);
  }
  if (spec.rotary) {
    // Keys (cached ones too: caches hold them unturned) sit at 0..S+T-1 and queries at S..: a key of
    // the previous patch is then r - j positions before the patch, not at one of its positions.
    q = rotate(ops, q, frame.past, headDim, spec.rotary.positions);
    k = rotate(ops, k, 0, headDim, spec.rotary.positions);
  }
  const attended = ops.causalAttention(q, k, v, headDim, frame); // [B, H, T, Dh]
  const merged = ops.reshape(ops.transpose(attended, [0, 2, 1, 3]), [0, 0, spec.dim]); // [B, T, D]
  return linear(ops, `${prefix}.wo`, merged, spec.bias);
}

const ROTARY_BASE = 10000;

/**
 * RoPE (Su et al. 2021): x [B, H, n, Dh] at positions first..first+n-1, each pair (x[2i], x[2i+1])
 * turned by the angle position * 10000^(-2i/Dh), so that a turned query and key score by the
 * difference of their positions. The angles of positions 0..count-1 are a constant table,
 * computed in float64 as in the PyTorch twin.
 */
export function rotate<T, S>(ops: Ops<T, S>, x: T, first: S | number, headDim: number, count: number): T {
  const pairs = headDim / 2;
  const { cos, sin } = rotaryTable(headDim, count);
  const end = ops.plus(first, ops.size(x, 2));
  const table = (values: Float32Array) => ops.slice(ops.constant(values, [count, pairs, 1]), 0, first, end); // [n, Dh/2, 1]
  const [c, s] = [table(cos), table(sin)];
  const split = ops.reshape(x, [0, 0, 0, pairs, 2]); // [B, H, n, Dh/2, 2]
  const even = ops.slice(split, 4, 0, 1);
  const odd = ops.slice(split, 4, 1, 2);
  const turned = ops.concat(
    [ops.add(ops.mul(even, c), ops.mul(ops.mul(odd, s), -1)), ops.add(ops.mul(even, s), ops.mul(odd, c))],
    4,
  );
  return ops.reshape(turned, [0, 0, 0, headDim]);
}

const rotaryTables = new Map<string, { readonly cos: Float32Array; readonly sin: Float32Array }>();

/** cos and sin [count, Dh/2] of `rotate`'s angles, made once per shape (a decoding step asks every layer). */
function rotaryTable(
  headDim: number,
  count: number,
): { readonly cos: Float32Array; readonly sin: Float32Array } {
  const key = `${headDim}x${count}`;
  let table = rotaryTables.get(key);
  if (!table) {
    const pairs = headDim / 2;
    const cos = new Float32Array(count * pairs);
    const sin = new Float32Array(count * pairs);
    for (let position = 0; position < count; position++) {
      for (let i = 0; i < pairs; i++) {
        const angle = position * ROTARY_BASE ** (-(2 * i) / headDim);
        cos[position * pairs + i] = Math.cos(angle);
        sin[position * pairs + i] = Math.sin(angle);
      }
    }
    table = { cos, sin };
    rotaryTables.set(key, table);
  }
  return table;
}

/**
 * A learned vector that goes first in a sequence (a pad patch, the start vector), as a decoding
 * step's leading input rows [B, 0 or 1, D]: one row on the first step (`first` is 1), none after.
 */
export function leadingVector<T, S>(ops: Ops<T, S>, name: string, batch: S | number, first: S | number): T {
  return ops.slice(ops.repeatRows(ops.weight(name), batch), 1, 0, first);
}

/**
 * Keys or values x [R, H, T, Dh] with the last r positions of the row before prepended to each
 * row (zeros before row 0) -> [R, H, r+T, Dh]
 */
function withPreviousRow<T, S>(ops: Ops<T, S>, x: T, heads: number, headDim: number, r: number): T {
  const tail = ops.slice(ops.slice(x, 2, -r), 0, 0, -1); // rows 0..R-2, their last r positions
  const shifted = ops.concat([ops.zeros([1, heads, r, headDim]), tail], 0); // row i gets row i-1's
  return ops.concat([shifted, x], 2);
}

/** Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)). x [B, T, D] -> [B, T, D] */
export function block<T, S>(
  ops: Ops<T, S>,
  spec: StackSpec,
  prefix: string,
  x: T,
  frame: AttentionFrame<T, S>,
  cache?: LayerCache<T, S>,
): T {
  const normed = norm(ops, spec.norm, `${prefix}.attn_norm`, x);
  const attended = ops.add(x, ops.dropout(attention(ops, spec, `${prefix}.attn`, normed, frame, cache)));
  const mlpIn = norm(ops, spec.norm, `${prefix}.mlp_norm`, attended);
  return ops.add(attended, ops.dropout(mlp(ops, spec, `${prefix}.mlp`, mlpIn)));
}

/** A stack of pre-norm blocks followed by a final norm: [B, T, D] -> [B, T, D]. */
export function stack<T, S>(ops: Ops<T, S>, spec: StackSpec, x: T, context: StackContext<T, S> = {}): T {
  const frame = attentionFrame(ops, x, context);
  let h = x;
  for (let i = 0; i < spec.layers; i++) {
    h = block(ops, spec, scoped(spec.prefix, `layers.${i}`), h, frame, context.caches?.[i]);
  }
  return norm(ops, spec.norm, scoped(spec.prefix, 'norm'), h);
}

/** The output head [..., D] -> [..., V]: `head`, or the transposed byte embedding when tied. */
export function outputHead<T, S>(ops: Ops<T, S>, prefix: string, tied: boolean, h: T): T {
  return tied
    ? ops.matMulTransposed(h, ops.weight(scoped(prefix, 'embed.bytes.weight')))
    : ops.matMul(h, ops.weight(scoped(prefix, 'head.weight')));
}

/**
 * A causal 1-D convolution over the sequence axis, channels in = channels out, no bias: position
 * t sees positions t - k + 1 .. t, with zeros before the start. Written as one matrix product over
 * the k shifted copies of the input side by side, so that it runs, with gradients, wherever a
 * matrix product does (conv kernels and their gradients are missing on some backends).
 * x [B, T, C] -> [B, T, C]; weight [k*C, C], rows j*C..(j+1)*C-1 weigh the input j positions back.
 */
export function causalConv<T, S>(ops: Ops<T, S>, prefix: string, kernel: number, x: T): T {
  const length = ops.size(x, 1);
  const padded = ops.padFront(x, kernel - 1); // [B, T+k-1, C]
  const shifted = Array.from({ length: kernel }, (_, j) =>
    ops.slice(padded, 1, kernel - 1 - j, ops.plus(length, kernel - 1 - j)),
  );
  return ops.matMul(ops.concat(shifted, 2), ops.weight(`${prefix}.weight`));
}
