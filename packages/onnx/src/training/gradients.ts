import type { AttributeDef, ElementType, NodeDef, TensorDef } from '../onnx-proto.js';
import {
  axisOf,
  GraphShapeError,
  inferNode,
  intAttribute,
  intsAttribute,
  reduceAxes,
  size,
  sliceBounds,
  tensorInfo,
  type ValueInfo,
} from './shapes.js';

/**
 * Reverse-mode differentiation over ONNX nodes: each operator the model graphs use has one rule
 * that maps the gradient of its output to the gradients of its inputs, written with standard
 * operators only, so any ONNX Runtime build runs the result. Shapes are static (see shapes.ts).
 */

/** Appends nodes and constants, inferring every new value's shape as it goes. */
export class NodeWriter {
  readonly nodes: NodeDef[] = [];
  readonly initializers: TensorDef[] = [];
  private count = 0;
  private readonly constants = new Map<string, string>();

  constructor(
    readonly infos: Map<string, ValueInfo>,
    private readonly prefix: string,
  ) {}

  info(name: string): ValueInfo {
    const info = this.infos.get(name);
    if (!info) throw new Error(`training graph: no shape known for ${name}`);
    return info;
  }

  shape(name: string): readonly number[] {
    return this.info(name).shape;
  }

  /** One node; returns its first output (others are named `${first}_${i}`). */
  op(
    opType: string,
    inputs: readonly string[],
    attributes?: Record<string, AttributeDef>,
    outputs = 1,
  ): string {
    const name = `${this.prefix}${opType.toLowerCase()}_${this.count++}`;
    const names = Array.from({ length: outputs }, (_, i) => (i === 0 ? name : `${name}_${i}`));
    const node: NodeDef = { name, opType, inputs, outputs: names, ...(attributes && { attributes }) };
    inferNode(node, (input) => this.info(input)).forEach((info, i) => {
      if (names[i]) this.infos.set(names[i]!, info);
    });
    this.nodes.push(node);
    return name;
  }

  ints(values: readonly number[]): string {
    return this.constant(
      'int64',
      [values.length],
      BigInt64Array.from(values, (v) => BigInt(v)),
    );
  }

  float(value: number): string {
    return this.constant('float32', [], Float32Array.of(value));
  }

  constant(type: ElementType, dims: readonly number[], data: TensorDef['data']): string {
    const key = `${type}:${dims.join('x')}:${Array.from(data as ArrayLike<number | bigint>, String).join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = `${this.prefix}const_${this.constants.size}`;
      const tensor: TensorDef = { name, type, dims: [...dims], data };
      this.initializers.push(tensor);
      this.infos.set(name, tensorInfo(tensor));
      this.constants.set(key, name);
    }
    return name;
  }

  reshape(x: string, shape: readonly number[]): string {
    return sameShape(this.shape(x), shape) ? x : this.op('Reshape', [x, this.ints(shape)]);
  }

  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    return this.op('ReduceSum', [x, this.ints(axes)], { keepdims: { int: keepdims ? 1 : 0 } });
  }

  /** Swaps the last two axes. */
  transposeLast(x: string): string {
    const rank = this.shape(x).length;
    const perm = Array.from({ length: rank }, (_, i) => (i < rank - 2 ? i : 2 * rank - 3 - i));
    return this.op('Transpose', [x], { perm: { ints: perm } });
  }

  /** A gradient of a broadcast result, summed back to the shape of the operand that was broadcast. */
  unbroadcast(grad: string, shape: readonly number[]): string {
    const from = this.shape(grad);
    if (sameShape(from, shape)) return grad;
    const leading = from.length - shape.length;
    const axes = from.flatMap((d, i) => (i < leading || (shape[i - leading] === 1 && d !== 1) ? [i] : []));
    const summed = axes.length > 0 ? this.reduceSum(grad, axes, true) : grad;
    return this.reshape(summed, shape);
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Operators whose outputs carry no gradient (indices, shapes, masks). */
const NOT_DIFFERENTIABLE = new Set([
  'Shape',
  'Equal',
  'Less',
  'Greater',
  'And',
  'Not',
  'ConstantOfShape',
  'Trilu',
  'Range',
]);

/**
 * The gradient of `loss` (a scalar) with respect to each of `wrt`, as new nodes appended to
 * `forward`. Values that no path links to the loss get no nodes at all; a `wrt` value the loss does
 * not depend on is an error (every parameter of a model should be trained).
 */
export function differentiate(
  forward: readonly NodeDef[],
  writer: NodeWriter,
  loss: string,
  wrt: readonly string[],
): Map<string, string> {
  const needed = valuesOnPath(forward, wrt, loss);
  const gelus = findTanhGelus(forward, writer);
  const contributions = new Map<string, string[]>([[loss, [writer.float(1)]]]);
  const total = (value: string): string | undefined => {
    const parts = contributions.get(value);
    if (!parts || parts.length === 0) return undefined;
    const sum = parts.length === 1 ? parts[0]! : writer.op('Sum', parts);
    contributions.set(value, [sum]);
    return sum;
  };
  const contribute = (input: string, g: string | undefined) => {
    if (g === undefined || !needed.has(input)) return;
    contributions.set(input, [...(contributions.get(input) ?? []), g]);
  };
  for (let n = forward.length - 1; n >= 0; n--) {
    const node = forward[n]!;
    if (NOT_DIFFERENTIABLE.has(node.opType)) continue;
    const grads = node.outputs.map((out) => (needed.has(out) ? total(out) : undefined));
    if (grads.every((g) => g === undefined)) continue;
    const gelu = gelus.get(node.outputs[0]!);
    if (gelu) {
      // The whole composite at once; its inner nodes then receive no gradient and are skipped.
      contribute(gelu.x, tanhGeluGradient(writer, grads[0]!, gelu));
      continue;
    }
    const inputGrads = gradientRule(node, grads, writer);
    node.inputs.forEach((input, i) => contribute(input, inputGrads[i]));
  }
  const result = new Map<string, string>();
  for (const name of wrt) {
    const g = total(name);
    if (g === undefined) throw new Error(`training graph: the loss does not depend on parameter ${name}`);
    result.set(name, g);
  }
  return result;
}

/** The values of one tanh-form GELU, y = x/2 (1 + tanh(c (x + a x^3))), that its gradient reads. */
interface TanhGelu {
  readonly x: string;
  /** x * x */
  readonly square: string;
  /** tanh(c (x + a x^3)) */
  readonly tanh: string;
  readonly a: number;
  readonly c: number;
}

/**
 * The tanh-form GELUs of a graph, by their output, as @megabyte/onnx's graphs (and @megabyte/nn)
 * write them: xx = x x; y = (x 0.5) (tanh((x + (xx x) a) c) + 1). Their gradient as one rule takes
 * about half the passes over the activations of the operator-by-operator one. A GELU whose inner
 * values are read elsewhere, or written another way, is differentiated operator by operator.
 */
export function findTanhGelus(nodes: readonly NodeDef[], w: NodeWriter): Map<string, TanhGelu> {
  const producer = new Map<string, NodeDef>();
  const readers = new Map<string, number>();
  for (const node of nodes) {
    for (const out of node.outputs) producer.set(out, node);
    for (const input of node.inputs) readers.set(input, (readers.get(input) ?? 0) + 1);
  }
  const scalar = (name: string | undefined) => {
    const value = name === undefined ? undefined : w.infos.get(name)?.value;
    return value?.length === 1 ? value[0] : undefined;
  };
  /** The node making `value` if it is `opType` and read only once, inside the composite. */
  const inner = (value: string | undefined, opType: string) => {
    const node = value === undefined ? undefined : producer.get(value);
    return node?.opType === opType && readers.get(value!) === 1 ? node : undefined;
  };
  const found = new Map<string, TanhGelu>();
  for (const node of nodes) {
    if (node.opType !== 'Mul') continue;
    const half = inner(node.inputs[0], 'Mul');
    const plusOne = inner(node.inputs[1], 'Add');
    const tanh = inner(plusOne?.inputs[0], 'Tanh');
    const scaled = inner(tanh?.inputs[0], 'Mul');
    const sum = inner(scaled?.inputs[0], 'Add');
    const cubic = inner(sum?.inputs[1], 'Mul');
    const cube = inner(cubic?.inputs[0], 'Mul');
    const square = inner(cube?.inputs[0], 'Mul');
    const x = half?.inputs[0];
    if (!x || !square || scalar(half!.inputs[1]) !== 0.5 || scalar(plusOne!.inputs[1]) !== 1) continue;
    if (sum!.inputs[0] !== x || cube!.inputs[1] !== x || square.inputs[0] !== x || square.inputs[1] !== x)
      continue;
    const a = scalar(cubic!.inputs[1]);
    const c = scalar(scaled!.inputs[1]);
    if (a === undefined || c === undefined) continue;
    found.set(node.outputs[0]!, { x, square: cube!.inputs[0]!, tanh: tanh!.outputs[0]!, a, c });
  }
  return found;
}

/** dy/dx of the tanh-form GELU times g: (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 a x^2). */
function tanhGeluGradient(w: NodeWriter, g: string, gelu: TanhGelu): string {
  const { x, square, tanh, a, c } = gelu;
  const sech2 = w.op('Sub', [w.float(1), w.op('Mul', [tanh, tanh])]);
  const inner = w.op('Add', [w.op('Mul', [square, w.float(3 * a * c)]), w.float(c)]); // c (1 + 3 a x^2)
  const slope = w.op('Add', [
    w.op('Mul', [w.op('Add', [tanh, w.float(1)]), w.float(0.5)]),
    w.op('Mul', [w.op('Mul', [w.op('Mul', [x, w.float(0.5)]), sech2]), inner]),
  ]);
  return w.op('Mul', [g, slope]);
}

/** Values that depend on some of `from` and that `to` depends on: the ones that need gradients. */
function valuesOnPath(nodes: readonly NodeDef[], from: readonly string[], to: string): Set<string> {
  const reached = new Set(from);
  for (const node of nodes) {
    if (NOT_DIFFERENTIABLE.has(node.opType)) continue;
    if (node.inputs.some((i) => reached.has(i))) for (const o of node.outputs) reached.add(o);
  }
  const needed = new Set<string>([to]);
  for (let n = nodes.length - 1; n >= 0; n--) {
    const node = nodes[n]!;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    for (const i of node.inputs) if (reached.has(i)) needed.add(i);
  }
  return needed;
}

/**
 * One operator's rule: the gradients of its outputs (undefined where none flows) -> the gradients
 * of its inputs (undefined for inputs that take none, such as indices and shapes).
 */
function gradientRule(
  node: NodeDef,
  outputGrads: readonly (string | undefined)[],
  w: NodeWriter,
): (string | undefined)[] {
  const g = outputGrads[0];
  const [a = '', b = ''] = node.inputs;
  const y = node.outputs[0]!;
  const shapeOf = (name: string) => w.shape(name);
  if (g === undefined)
    throw new GraphShapeError(node, 'only the first output of an operator may carry a gradient');
  switch (node.opType) {
    case 'Identity':
      return [g];
    case 'Cast':
      return [w.info(a).type === 'float32' ? g : undefined];
    case 'Add':
      return [w.unbroadcast(g, shapeOf(a)), w.unbroadcast(g, shapeOf(b))];
    case 'Sub':
      return [w.unbroadcast(g, shapeOf(a)), w.unbroadcast(w.op('Neg', [g]), shapeOf(b))];
    case 'Mul':
      return [w.unbroadcast(w.op('Mul', [g, b]), shapeOf(a)), w.unbroadcast(w.op('Mul', [g, a]), shapeOf(b))];
    case 'Div': // d(a/b)/db = -y/b
      return [
        w.unbroadcast(w.op('Div', [g, b]), shapeOf(a)),
        w.unbroadcast(w.op('Neg', [w.op('Mul', [g, w.op('Div', [y, b])])]), shapeOf(b)),
      ];
    case 'Neg':
      return [w.op('Neg', [g])];
    case 'Max': {
      // The larger operand takes the gradient (the first one on a tie).
      const first = w.op('Not', [w.op('Less', [a, b])]);
      const zero = w.float(0);
      return [
        w.unbroadcast(w.op('Where', [first, g, zero]), shapeOf(a)),
        w.unbroadcast(w.op('Where', [first, zero, g]), shapeOf(b)),
      ];
    }
    case 'Sum':
      return node.inputs.map((input) => w.unbroadcast(g, shapeOf(input)));
    case 'Reshape':
    case 'Unsqueeze':
    case 'Squeeze':
      return [w.reshape(g, shapeOf(a))];
    case 'Transpose': {
      const perm = intsAttribute(node, 'perm') ?? shapeOf(a).map((_, i, s) => s.length - 1 - i);
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return [w.op('Transpose', [g], { perm: { ints: inverse } })];
    }
    case 'Expand':
      return [w.unbroadcast(g, shapeOf(a))];
    case 'Concat': {
      const axis = axisOf(intAttribute(node, 'axis', 0), shapeOf(y).length);
      let offset = 0;
      return node.inputs.map((input) => {
        const length = shapeOf(input)[axis]!;
        const part = w.op('Slice', [g, w.ints([offset]), w.ints([offset + length]), w.ints([axis])]);
        offset += length;
        return part;
      });
    }
    case 'Slice': {
      const info = (name: string | undefined) => (name ? w.info(name) : undefined);
      const bounds = sliceBounds(
        node,
        w.info(a),
        w.info(node.inputs[1]!),
        w.info(node.inputs[2]!),
        info(node.inputs[3]),
      );
      const dims = shapeOf(a);
      const pads = [...bounds.map(([from]) => from), ...bounds.map(([, to], i) => dims[i]! - to)];
      return [pads.every((p) => p === 0) ? g : w.op('Pad', [g, w.ints(pads)])];
    }
    case 'Pad': {
      const pads = w.info(b).value!;
      const dims = shapeOf(a);
      const starts = dims.map((_, i) => pads[i]!);
      return [
        w.op('Slice', [
          g,
          w.ints(starts),
          w.ints(dims.map((d, i) => starts[i]! + d)),
          w.ints(dims.map((_, i) => i)),
        ]),
      ];
    }
    case 'Gather':
      return [gatherGradient(w, g, a, b), undefined];
    case 'Where': {
      const zero = w.float(0);
      return [
        undefined,
        w.unbroadcast(w.op('Where', [a, g, zero]), shapeOf(b)),
        w.unbroadcast(w.op('Where', [a, zero, g]), shapeOf(node.inputs[2]!)),
      ];
    }
    case 'MatMul':
      return matMulGradients(w, g, a, b);
    case 'Softmax': {
      const axis = axisOf(intAttribute(node, 'axis', -1), shapeOf(y).length);
      const dot = w.reduceSum(w.op('Mul', [g, y]), [axis], true);
      return [w.op('Mul', [y, w.op('Sub', [g, dot])])];
    }
    case 'LogSoftmax': {
      const axis = axisOf(intAttribute(node, 'axis', -1), shapeOf(y).length);
      return [w.op('Sub', [g, w.op('Mul', [w.op('Exp', [y]), w.reduceSum(g, [axis], true)])])];
    }
    case 'LayerNormalization':
      return layerNormGradients(node, w, g);
    case 'Tanh':
      return [w.op('Mul', [g, w.op('Sub', [w.float(1), w.op('Mul', [y, y])])])];
    case 'Relu':
      return [w.op('Where', [w.op('Greater', [a, w.float(0)]), g, w.float(0)])];
    case 'Exp':
      return [w.op('Mul', [g, y])];
    case 'Sqrt':
      return [w.op('Div', [g, w.op('Mul', [y, w.float(2)])])];
    case 'Reciprocal':
      return [w.op('Neg', [w.op('Mul', [g, w.op('Mul', [y, y])])])];
    case 'ReduceSum':
    case 'ReduceMean': {
      const x = w.info(a);
      const axes = reduceAxes(node, x, node.inputs[1] ? w.info(node.inputs[1]) : undefined);
      const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      let spread = w.reshape(g, kept);
      if (node.opType === 'ReduceMean') {
        const count = axes.reduce((n, i) => n * x.shape[i]!, 1);
        spread = w.op('Div', [spread, w.float(count)]);
      }
      return [w.op('Expand', [spread, w.ints(x.shape)])];
    }
    default:
      throw new GraphShapeError(
        node,
        'no gradient rule for this operator: add one to packages/onnx/src/training/gradients.ts',
      );
  }
}

/** y = a b with a [..., n, k], b [..., k, m]: da = g b^T, db = a^T g (a 2-D b sums over a's batch). */
function matMulGradients(w: NodeWriter, g: string, a: string, b: string): [string, string] {
  const aShape = w.shape(a);
  const bShape = w.shape(b);
  const da = w.unbroadcast(w.op('MatMul', [g, w.transposeLast(b)]), aShape);
  if (bShape.length === 2 && aShape.length > 2) {
    // A weight shared by every row: one [k, rows] x [rows, m] product instead of a batch of them.
    const rows = size(aShape) / aShape.at(-1)!;
    const a2 = w.reshape(a, [rows, aShape.at(-1)!]);
    const g2 = w.reshape(g, [rows, bShape[1]!]);
    return [da, w.op('MatMul', [w.transposeLast(a2), g2])];
  }
  return [da, w.unbroadcast(w.op('MatMul', [w.transposeLast(a), g]), bShape)];
}

/**
 * An embedding lookup's gradient: row v of the table gets the sum of the gradients of the
 * positions that looked up v. As a product with the one-hot matrix of the ids, [V, N] x [N, D],
 * which every runtime has a fast kernel for.
 */
function gatherGradient(w: NodeWriter, g: string, table: string, ids: string): string {
  const [rows, ...rest] = w.shape(table);
  const idsInfo = w.info(ids);
  const count = size(idsInfo.shape);
  const flatIds = w.reshape(ids, [1, count]);
  const all =
    idsInfo.type === 'int64'
      ? w.constant(
          'int64',
          [rows!, 1],
          BigInt64Array.from({ length: rows! }, (_, i) => BigInt(i)),
        )
      : w.constant(
          'int32',
          [rows!, 1],
          Int32Array.from({ length: rows! }, (_, i) => i),
        );
  const oneHot = w.op('Cast', [w.op('Equal', [all, flatIds])], { to: { int: 1 } }); // [V, N]
  const width = size(rest);
  const grads = w.reshape(g, [count, width]); // [N, D]
  return w.reshape(w.op('MatMul', [oneHot, grads]), [rows!, ...rest]);
}

/**
 * LayerNormalization over the last axes, y = x̂ γ + β with x̂ = (x - mean) invStd. Its forward node
 * in a training graph also outputs mean and invStd (see `withNormStatistics`):
 * dx = invStd (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)), dx̂ = g γ.
 */
function layerNormGradients(node: NodeDef, w: NodeWriter, g: string): (string | undefined)[] {
  const [x, gamma, beta] = node.inputs as [string, string, string | undefined];
  const [, mean, invStd] = node.outputs;
  if (!mean || !invStd)
    throw new GraphShapeError(node, 'the training graph must keep its mean and invStd outputs');
  const rank = w.shape(x).length;
  const first = axisOf(intAttribute(node, 'axis', -1), rank);
  const axes = Array.from({ length: rank - first }, (_, i) => first + i);
  const normalized = w.op('Mul', [w.op('Sub', [x, mean]), invStd]);
  const dNormalized = w.op('Mul', [g, gamma]);
  const meanOf = (v: string) => w.op('ReduceMean', [v], { axes: { ints: axes }, keepdims: { int: 1 } });
  const centred = w.op('Sub', [dNormalized, meanOf(dNormalized)]);
  const dx = w.op('Mul', [
    invStd,
    w.op('Sub', [centred, w.op('Mul', [normalized, meanOf(w.op('Mul', [dNormalized, normalized]))])]),
  ]);
  return [
    dx,
    w.unbroadcast(w.op('Mul', [g, normalized]), w.shape(gamma)),
    beta === undefined ? undefined : w.unbroadcast(g, w.shape(beta)),
  ];
}

/** A training graph's LayerNormalization nodes also output mean and invStd for the backward pass. */
export function withNormStatistics(node: NodeDef): NodeDef {
  if (node.opType !== 'LayerNormalization' || node.outputs.length >= 3) return node;
  const y = node.outputs[0]!;
  return { ...node, outputs: [y, `${y}_mean`, `${y}_inv_std`] };
}
