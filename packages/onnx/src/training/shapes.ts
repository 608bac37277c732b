import type { AttributeDef, ElementType, GraphDef, NodeDef, TensorDef } from '../onnx-proto.js';

/**
 * Static shapes of every value of a graph whose inputs have fixed sizes (a training step runs on
 * batches of one shape), and the values of the small integer tensors that graphs compute shapes
 * and slice bounds with. Reverse-mode differentiation needs both: a gradient is reduced back to
 * the shape of a broadcast input, and a Slice's gradient pads with the bounds the Slice used.
 */
export interface ValueInfo {
  readonly type: ElementType;
  readonly shape: readonly number[];
  /** The elements, row-major, when known while building (shape arithmetic and small constants). */
  readonly value?: readonly number[];
}

export class GraphShapeError extends Error {
  constructor(node: NodeDef, problem: string) {
    super(`training graph: node ${node.name} (${node.opType}): ${problem}`);
    this.name = 'GraphShapeError';
  }
}

/** Small tensors whose elements are worth knowing: shapes, axes, bounds, scalars. */
const KNOWN_VALUE_LIMIT = 64;

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Infers every value's type and shape, node by node (the nodes are in topological order). */
export function inferShapes(
  graph: GraphDef,
  inputShapes: Readonly<Record<string, readonly number[]>>,
): Map<string, ValueInfo> {
  const infos = new Map<string, ValueInfo>();
  for (const input of graph.inputs) {
    const shape = inputShapes[input.name] ?? input.shape;
    if (!shape.every((d): d is number => typeof d === 'number'))
      throw new Error(`training graph: input ${input.name} needs a fixed shape, got [${shape}]`);
    infos.set(input.name, { type: input.type, shape });
  }
  for (const tensor of graph.initializers) infos.set(tensor.name, tensorInfo(tensor));
  for (const node of graph.nodes) {
    const outputs = inferNode(node, (name) => {
      const info = infos.get(name);
      if (!info) throw new GraphShapeError(node, `input ${name} is not produced before it`);
      return info;
    });
    outputs.forEach((info, i) => {
      const name = node.outputs[i];
      if (name) infos.set(name, info);
    });
  }
  return infos;
}

export function tensorInfo(tensor: TensorDef): ValueInfo {
  const shape = [...tensor.dims];
  const known = tensor.type !== 'float16' && size(shape) <= KNOWN_VALUE_LIMIT;
  return {
    type: tensor.type,
    shape,
    ...(known && { value: Array.from(tensor.data as ArrayLike<number | bigint>, Number) }),
  };
}

function attribute(node: NodeDef, name: string): AttributeDef | undefined {
  return node.attributes?.[name];
}

export function intAttribute(node: NodeDef, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a && 'int' in a ? a.int : fallback;
}

export function intsAttribute(node: NodeDef, name: string): readonly number[] | undefined {
  const a = attribute(node, name);
  return a && 'ints' in a ? a.ints : undefined;
}

/** Numpy-style broadcast of two shapes. */
export function broadcast(a: readonly number[], b: readonly number[], node: NodeDef): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1)
      throw new GraphShapeError(node, `shapes [${a}] and [${b}] do not broadcast`);
    return x === 1 ? y : x;
  });
}

/** An axis counted from the end when negative. */
export function axisOf(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function elementwise(
  node: NodeDef,
  inputs: readonly ValueInfo[],
  type: ElementType,
  compute?: (...xs: number[]) => number,
): ValueInfo {
  const shape = inputs.map((x) => x.shape).reduce((a, b) => broadcast(a, b, node));
  if (!compute || !inputs.every((x) => x.value) || size(shape) > KNOWN_VALUE_LIMIT) return { type, shape };
  // Known values: every operand is a scalar or has the output's shape in the graphs built here.
  const value = Array.from({ length: size(shape) }, (_, i) =>
    compute(...inputs.map((x) => x.value![x.value!.length === 1 ? 0 : i]!)),
  );
  return { type, shape, value };
}

/** A Slice's bounds along each axis of x: [start, end) after clamping (steps are 1). */
export function sliceBounds(
  node: NodeDef,
  x: ValueInfo,
  starts: ValueInfo,
  ends: ValueInfo,
  axes: ValueInfo | undefined,
): Array<[number, number]> {
  if (!starts.value || !ends.value || (axes && !axes.value))
    throw new GraphShapeError(node, 'slice bounds must be known when the graph is built');
  const bounds = x.shape.map((d): [number, number] => [0, d]);
  const axisList = axes?.value ?? starts.value.map((_, i) => i);
  axisList.forEach((rawAxis, i) => {
    const axis = axisOf(rawAxis, x.shape.length);
    const dim = x.shape[axis]!;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const start = clamp(starts.value![i]!);
    bounds[axis] = [start, Math.max(start, clamp(ends.value![i]!))];
  });
  return bounds;
}

function reshapeTarget(node: NodeDef, x: ValueInfo, target: ValueInfo): number[] {
  if (!target.value)
    throw new GraphShapeError(node, 'the target shape must be known when the graph is built');
  const shape = target.value.map((d, i) => (d === 0 ? x.shape[i]! : d));
  const known = shape.filter((d) => d !== -1);
  if (known.length < shape.length) {
    const rest = size(x.shape) / size(known);
    return shape.map((d) => (d === -1 ? rest : d));
  }
  return shape;
}

/** The output infos of one node. */
export function inferNode(node: NodeDef, info: (name: string) => ValueInfo): ValueInfo[] {
  const inputs = node.inputs.map((name) => (name === '' ? undefined : info(name)));
  const x = inputs[0]!;
  const keepType = (shape: readonly number[]): ValueInfo => ({ type: x.type, shape });
  switch (node.opType) {
    case 'Add':
      return [elementwise(node, inputs as ValueInfo[], x.type, (a, b) => a + b)];
    case 'Sub':
      return [elementwise(node, inputs as ValueInfo[], x.type, (a, b) => a - b)];
    case 'Mul':
      return [elementwise(node, inputs as ValueInfo[], x.type, (a, b) => a * b)];
    case 'Div':
      return [
        elementwise(node, inputs as ValueInfo[], x.type, (a, b) =>
          x.type === 'float32' ? a / b : Math.trunc(a / b),
        ),
      ];
    case 'Equal':
      return [elementwise(node, inputs as ValueInfo[], 'bool', (a, b) => Number(a === b))];
    case 'Less':
      return [elementwise(node, inputs as ValueInfo[], 'bool', (a, b) => Number(a < b))];
    case 'Greater':
      return [elementwise(node, inputs as ValueInfo[], 'bool', (a, b) => Number(a > b))];
    case 'And':
      return [elementwise(node, inputs as ValueInfo[], 'bool', (a, b) => Number(a && b))];
    case 'Not':
      return [elementwise(node, [x], 'bool', (a) => Number(!a))];
    case 'Where':
      return [elementwise(node, inputs as ValueInfo[], inputs[1]!.type, (c, a, b) => (c ? a : b))];
    case 'Neg':
      return [elementwise(node, [x], x.type, (a) => -a)];
    case 'Max':
      return [elementwise(node, inputs as ValueInfo[], x.type, (a, b) => Math.max(a, b))];
    case 'Sum':
      return [elementwise(node, inputs as ValueInfo[], x.type)];
    case 'Cast': {
      const to = intAttribute(node, 'to', 1);
      const type = CAST_TYPES[to];
      if (!type) throw new GraphShapeError(node, `cast to type ${to} is not supported`);
      return [{ type, shape: x.shape, ...(x.value && { value: x.value }) }];
    }
    case 'Identity':
    case 'Softmax':
    case 'LogSoftmax':
    case 'Tanh':
    case 'Relu':
    case 'Sqrt':
    case 'Reciprocal':
    case 'Exp':
    case 'Trilu':
      return [keepType(x.shape)];
    case 'LayerNormalization': {
      const axis = axisOf(intAttribute(node, 'axis', -1), x.shape.length);
      const statShape = x.shape.map((d, i) => (i < axis ? d : 1));
      return [keepType(x.shape), keepType(statShape), keepType(statShape)];
    }
    case 'MatMul': {
      const a = x.shape;
      const b = inputs[1]!.shape;
      if (a.length < 2 || b.length < 2) throw new GraphShapeError(node, 'MatMul of vectors is not supported');
      if (a.at(-1) !== b.at(-2)) throw new GraphShapeError(node, `inner sizes differ: [${a}] x [${b}]`);
      const batch = broadcast(a.slice(0, -2), b.slice(0, -2), node);
      return [keepType([...batch, a.at(-2)!, b.at(-1)!])];
    }
    case 'Reshape':
      return [{ ...keepType(reshapeTarget(node, x, inputs[1]!)), ...(x.value && { value: x.value }) }];
    case 'Transpose': {
      const perm = intsAttribute(node, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
      return [keepType(perm.map((p) => x.shape[p]!))];
    }
    case 'Concat': {
      const axis = axisOf(intAttribute(node, 'axis', 0), x.shape.length);
      const parts = inputs as ValueInfo[];
      const shape = [...x.shape];
      shape[axis] = parts.reduce((sum, p) => sum + p.shape[axis]!, 0);
      const value =
        parts.every((p) => p.value) && x.shape.length === 1 ? parts.flatMap((p) => p.value!) : undefined;
      return [{ type: x.type, shape, ...(value && { value }) }];
    }
    case 'Gather': {
      if (intAttribute(node, 'axis', 0) !== 0)
        throw new GraphShapeError(node, 'only Gather on axis 0 is supported');
      const ids = inputs[1]!;
      const shape = [...ids.shape, ...x.shape.slice(1)];
      const value =
        x.value && ids.value && x.shape.length === 1
          ? ids.value.map((i) => x.value![axisOf(i, x.shape[0]!)]!)
          : undefined;
      return [{ type: x.type, shape, ...(value && { value }) }];
    }
    case 'Slice': {
      const bounds = sliceBounds(node, x, inputs[1]!, inputs[2]!, inputs[3]);
      const shape = bounds.map(([from, to]) => to - from);
      const value = x.value && x.shape.length === 1 ? x.value.slice(bounds[0]![0], bounds[0]![1]) : undefined;
      return [{ type: x.type, shape, ...(value && { value }) }];
    }
    case 'Shape': {
      const rank = x.shape.length;
      const start = axisOf(intAttribute(node, 'start', 0), rank);
      const end = node.attributes?.end ? axisOf(intAttribute(node, 'end', rank), rank) : rank;
      const value = x.shape.slice(start, end);
      return [{ type: 'int64', shape: [value.length], value }];
    }
    case 'Expand': {
      const target = inputs[1]!;
      if (!target.value)
        throw new GraphShapeError(node, 'the target shape must be known when the graph is built');
      return [keepType(broadcast(x.shape, target.value, node))];
    }
    case 'ConstantOfShape': {
      if (!x.value) throw new GraphShapeError(node, 'the shape must be known when the graph is built');
      const a = attribute(node, 'value');
      const tensor = a && 'tensor' in a ? a.tensor : undefined;
      const fill = tensor ? Number((tensor.data as ArrayLike<number | bigint>)[0]) : 0;
      const shape = [...x.value];
      const value = size(shape) <= KNOWN_VALUE_LIMIT ? new Array<number>(size(shape)).fill(fill) : undefined;
      return [{ type: tensor?.type ?? 'float32', shape, ...(value && { value }) }];
    }
    case 'Range': {
      const [start, limit, delta] = inputs.map((i) => i?.value?.[0]);
      if (start === undefined || limit === undefined || delta === undefined)
        throw new GraphShapeError(node, 'Range bounds must be known when the graph is built');
      const count = Math.max(0, Math.ceil((limit - start) / delta));
      const value = Array.from({ length: count }, (_, i) => start + i * delta);
      return [{ type: x.type, shape: [count], ...(count <= KNOWN_VALUE_LIMIT && { value }) }];
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceSumSquare': {
      const axes = reduceAxes(node, x, inputs[1]);
      const keep = intAttribute(node, 'keepdims', 1) === 1;
      const shape = keep
        ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : x.shape.filter((_, i) => !axes.includes(i));
      return [keepType(shape)];
    }
    case 'Unsqueeze': {
      const axes = inputs[1]?.value;
      if (!axes) throw new GraphShapeError(node, 'Unsqueeze axes must be known');
      const rank = x.shape.length + axes.length;
      const positions = axes.map((a) => axisOf(a, rank));
      const rest = [...x.shape];
      const shape = Array.from({ length: rank }, (_, i) => (positions.includes(i) ? 1 : rest.shift()!));
      return [{ ...keepType(shape), ...(x.value && { value: x.value }) }];
    }
    case 'Squeeze': {
      const axes = (inputs[1]?.value ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) =>
        axisOf(a, x.shape.length),
      );
      return [
        { ...keepType(x.shape.filter((_, i) => !axes.includes(i))), ...(x.value && { value: x.value }) },
      ];
    }
    case 'Pad': {
      const pads = inputs[1]?.value;
      if (!pads) throw new GraphShapeError(node, 'Pad amounts must be known when the graph is built');
      const rank = x.shape.length;
      return [keepType(x.shape.map((d, i) => d + pads[i]! + pads[i + rank]!))];
    }
    default:
      throw new GraphShapeError(
        node,
        'no shape rule for this operator: add one to packages/onnx/src/training/shapes.ts (and a gradient rule in gradients.ts)',
      );
  }
}

/** Axes of a reduction, from the attribute (ReduceMean, opset 17) or the input (ReduceSum). */
export function reduceAxes(node: NodeDef, x: ValueInfo, axesInput: ValueInfo | undefined): number[] {
  const raw = intsAttribute(node, 'axes') ?? axesInput?.value;
  if (raw === undefined) return x.shape.map((_, i) => i);
  return raw.map((a) => axisOf(a, x.shape.length));
}

/** TensorProto.DataType values used in Cast's `to`. */
const CAST_TYPES: Record<number, ElementType> = {
  1: 'float32',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
};
