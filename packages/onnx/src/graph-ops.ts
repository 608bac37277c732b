import type { AttentionFrame, LayerCache, Ops } from '@megabyte/core/portable';
import type { GraphBuilder } from './graph-builder.js';
import type { ValueInfoDef } from './onnx-proto.js';

/** Large enough that exp() of it is exactly zero in float32, as in @megabyte/nn's causal mask. */
const MASKED = 1e9;
const NORM_EPSILON = 1e-5;
const INT64 = 7;

/**
 * The ONNX executor of the model definition: every op of @megabyte/core's model-definition.ts
 * (and the levels and blocks it calls) becomes nodes of a graph, so the exported graphs are the
 * model's own code. Tensors are value names; a size is a one-element int64 tensor, or a number
 * where the config fixes it (turned into a constant on use).
 */
export class GraphOps implements Ops<string, string> {
  private readonly masks = new Map<string, string>();

  constructor(private readonly g: GraphBuilder) {}

  weight(name: string): string {
    return this.g.weight(name);
  }

  size(x: string, axis: number): string {
    return this.g.shape(x, axis, axis + 1);
  }

  plus(a: string | number, b: string | number): string {
    return this.arithmetic('Add', a, b, (x, y) => x + y);
  }

  minus(a: string | number, b: string | number): string {
    return this.arithmetic('Sub', a, b, (x, y) => x - y);
  }

  times(a: string | number, b: string | number): string {
    return this.arithmetic('Mul', a, b, (x, y) => x * y);
  }

  over(a: string | number, b: string | number): string {
    return this.arithmetic('Div', a, b, (x, y) => x / y);
  }

  isZero(a: string | number): string {
    if (typeof a === 'number') return this.g.ints([a === 0 ? 1 : 0]);
    return this.g.op('Cast', [this.g.op('Equal', [a, this.g.ints([0])])], { to: { int: INT64 } });
  }

  add(a: string, b: string | number): string {
    return this.g.add(a, typeof b === 'number' ? this.g.float(b) : b);
  }

  mul(a: string, b: string | number): string {
    return this.g.mul(a, typeof b === 'number' ? this.g.float(b) : b);
  }

  tanh(x: string): string {
    return this.g.op('Tanh', [x]);
  }

  relu(x: string): string {
    return this.g.op('Relu', [x]);
  }

  /** The graphs are for inference and for training without dropout (the trainer refuses it). */
  dropout(x: string): string {
    return x;
  }

  matMul(a: string, b: string): string {
    return this.g.matMul(a, b);
  }

  matMulTransposed(a: string, b: string): string {
    return this.g.matMul(a, this.g.transpose(b, [1, 0]));
  }

  layerNorm(x: string, gain: string, bias: string): string {
    return this.g.op('LayerNormalization', [x, gain, bias], {
      axis: { int: -1 },
      epsilon: { float: NORM_EPSILON },
    });
  }

  rmsNorm(x: string, gain: string): string {
    const meanSquare = this.g.op('ReduceMean', [this.g.mul(x, x)], {
      axes: { ints: [-1] },
      keepdims: { int: 1 },
    });
    const scale = this.g.op('Reciprocal', [
      this.g.op('Sqrt', [this.g.add(meanSquare, this.g.float(NORM_EPSILON))]),
    ]);
    return this.g.mul(this.g.mul(x, scale), gain);
  }

  causalAttention(
    q: string,
    k: string,
    v: string,
    headDim: number,
    frame: AttentionFrame<string, string>,
  ): string {
    const g = this.g;
    const scores = g.mul(g.matMul(q, g.transpose(k, [0, 1, 3, 2])), g.float(1 / Math.sqrt(headDim))); // [B, H, n, S+n]
    let masked = g.add(scores, this.causalMask(this.dim(frame.queries), this.dim(frame.past)));
    if (frame.keyMask) masked = g.add(masked, frame.keyMask);
    return g.matMul(g.op('Softmax', [masked], { axis: { int: -1 } }), v);
  }

  sequenceStartMask(
    rowsLike: string,
    perSequence: string | number,
    firstRow: number,
    hidden: number,
    keys: string | number,
  ): string {
    if (firstRow !== 0) throw new Error('graph ops: cross-patch rows start at a sequence in a graph');
    const g = this.g;
    const rows = g.shape(rowsLike, 0, 1);
    const perRow = typeof perSequence === 'number' ? g.ints([perSequence]) : perSequence;
    const sequences = g.op('Div', [rows, perRow]);
    // 1 at the first patch of each sequence, 0 elsewhere: [R/K, K] -> [R, 1, 1, 1]
    const first = g.concat(
      [
        this.filled(g.concat([sequences, g.ints([1])], 0), 1),
        this.filled(g.concat([sequences, g.op('Sub', [perRow, g.ints([1])])], 0), 0),
      ],
      1,
    );
    const hiddenRows = g.mul(g.reshape(first, [-1, 1, 1, 1]), g.float(-MASKED));
    const expanded = g.op('Expand', [hiddenRows, g.ints([1, 1, 1, hidden])]); // [R, 1, 1, hidden]
    const rest = this.minus(keys, hidden);
    return g.op('Pad', [expanded, g.concat([g.ints([0, 0, 0, 0, 0, 0, 0]), rest], 0)]); // [R, 1, 1, r+n]
  }

  gather(table: string, ids: string): string {
    return this.g.gather(table, ids);
  }

  reshape(x: string, shape: readonly number[]): string {
    return this.g.reshape(x, shape);
  }

  transpose(x: string, perm: readonly number[]): string {
    return this.g.transpose(x, perm);
  }

  concat(xs: readonly string[], axis: number): string {
    return xs.length === 1 ? xs[0]! : this.g.concat(xs, axis);
  }

  slice(x: string, axis: number, start: string | number, end?: string | number): string {
    return this.g.slice(x, axis, start, end);
  }

  padFront(x: string, before: number): string {
    return this.g.op('Pad', [x, this.g.ints([0, before, 0, 0, 0, 0])]);
  }

  zeros(shape: readonly number[]): string {
    return this.filled(this.g.ints(shape), 0);
  }

  constant(values: Float32Array, shape: readonly number[]): string {
    return this.g.tensor(values, shape);
  }

  repeatRows(vector: string, rows: string | number): string {
    const count = typeof rows === 'number' ? this.g.ints([rows]) : rows;
    return this.g.op('Expand', [
      this.g.reshape(vector, [1, 1, -1]),
      this.g.concat([count, this.g.ints([1, 1])], 0),
    ]);
  }

  whereZero(position: string | number, atStart: string, elsewhere: string): string {
    const p = typeof position === 'number' ? this.g.ints([position]) : position;
    return this.g.op('Where', [this.g.op('Equal', [p, this.g.ints([0])]), atStart, elsewhere]);
  }

  /**
   * [n, S + n] additive mask: query i sees keys j <= S + i. `fresh` (n) and `cached` (S) are int64
   * [1]. Made once per pair: every layer of a stack shares its frame, so its mask.
   */
  private causalMask(fresh: string, cached: string): string {
    const key = `${fresh}|${cached}`;
    let mask = this.masks.get(key);
    if (mask === undefined) {
      mask = this.buildCausalMask(fresh, cached);
      this.masks.set(key, mask);
    }
    return mask;
  }

  private buildCausalMask(fresh: string, cached: string): string {
    const ones = this.filled(this.g.concat([fresh, this.g.add(cached, fresh)], 0), 1);
    const lower = this.g.op('Trilu', [ones, this.g.reshape(cached, [])], { upper: { int: 0 } });
    return this.g.mul(this.g.op('Sub', [lower, this.g.float(1)]), this.g.float(MASKED));
  }

  /** A size as an int64 [1] value. */
  private dim(size: string | number): string {
    return typeof size === 'number' ? this.g.ints([size]) : size;
  }

  /** A float32 tensor of the given (int64 1-D) shape, every element `value`. */
  private filled(shape: string, value: number): string {
    return this.g.op('ConstantOfShape', [shape], {
      value: { tensor: { name: 'v', type: 'float32', dims: [1], data: Float32Array.of(value) } },
    });
  }

  private arithmetic(
    op: string,
    a: string | number,
    b: string | number,
    compute: (x: number, y: number) => number,
  ): string {
    if (typeof a === 'number' && typeof b === 'number') return this.g.ints([compute(a, b)]);
    const operand = (x: string | number) => (typeof x === 'number' ? this.g.ints([x]) : x);
    return this.g.op(op, [operand(a), operand(b)]);
  }
}

/**
 * One layer's KV cache in a decoding graph: `past_key_i` / `past_value_i` inputs [B, H, S, Dh];
 * the concatenation with the new keys and values becomes the `present_*` outputs.
 */
export class GraphCache implements LayerCache<string, string> {
  present: { keys: string; values: string } | undefined;
  private cached: string | undefined;

  constructor(
    private readonly g: GraphBuilder,
    readonly pastKeys: string,
    readonly pastValues: string,
  ) {}

  /** S, from the past keys' shape. */
  get length(): string {
    this.cached ??= this.g.shape(this.pastKeys, 2, 3);
    return this.cached;
  }

  append(keys: string, values: string): { keys: string; values: string } {
    this.present = {
      keys: this.g.concat([this.pastKeys, keys], 2), // [B, H, S+n, Dh]
      values: this.g.concat([this.pastValues, values], 2),
    };
    return this.present;
  }

  /** The cache inputs of a stack, as `cacheInfos` names them. */
  static inputs(g: GraphBuilder, infos: readonly ValueInfoDef[]): GraphCache[] {
    return Array.from(
      { length: infos.length / 2 },
      (_, i) => new GraphCache(g, g.input(infos[2 * i]!), g.input(infos[2 * i + 1]!)),
    );
  }
}
