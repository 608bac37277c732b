import { float32ToFloat16 } from '@megabyte/core/portable';
import type { AttributeDef, ElementType, GraphDef, NodeDef, TensorDef, ValueInfoDef } from './onnx-proto.js';

/** Where a graph's weights come from: float32 values and shape by parameter name. */
/** How weights are stored in the file. */
export type WeightType = 'float32' | 'float16';

export type WeightSource = (name: string) => {
  readonly values: Float32Array;
  readonly shape: readonly number[];
};

const INT64_MAX = 9223372036854775807n;

/**
 * Appends ONNX nodes in topological order and names every intermediate value. Constants become
 * initializers (deduplicated by value); weights become initializers named after their parameter.
 */
export class GraphBuilder {
  private readonly nodes: NodeDef[] = [];
  private readonly initializers: TensorDef[] = [];
  private readonly inputs: ValueInfoDef[] = [];
  private readonly outputs: ValueInfoDef[] = [];
  private readonly constants = new Map<string, string>();
  private count = 0;

  /**
   * @param weightType how weights are stored: float16 initializers are cast to float32 inside
   * the graph (ONNX Runtime folds the casts when it loads), so the arithmetic stays float32.
   */
  constructor(
    private readonly weights: WeightSource,
    private readonly weightType: WeightType = 'float32',
  ) {}

  input(info: ValueInfoDef): string {
    this.inputs.push(info);
    return info.name;
  }

  /** Exposes `value` as the graph output `info.name`. */
  output(value: string, info: ValueInfoDef): void {
    this.nodes.push({
      name: `output_${info.name}`,
      opType: 'Identity',
      inputs: [value],
      outputs: [info.name],
    });
    this.outputs.push(info);
  }

  /** One node with one output; returns the output's name. */
  op(opType: string, inputs: readonly string[], attributes?: Record<string, AttributeDef>): string {
    const name = `${opType.toLowerCase()}_${this.count++}`;
    this.nodes.push({ name, opType, inputs, outputs: [name], ...(attributes && { attributes }) });
    return name;
  }

  /** A parameter of the model (float32), by its name in `model.parameters()`. */
  weight(name: string): string {
    let value = this.constants.get(`weight:${name}`);
    if (value === undefined) {
      const { values, shape } = this.weights(name);
      if (this.weightType === 'float32') {
        this.initializers.push({ name, type: 'float32', dims: shape, data: values });
        value = name;
      } else {
        this.initializers.push({ name, type: 'float16', dims: shape, data: float32ToFloat16(values) });
        value = `${name}:float32`;
        this.nodes.push({
          name: `cast_${name}`,
          opType: 'Cast',
          inputs: [name],
          outputs: [value],
          attributes: { to: { int: 1 } },
        });
      }
      this.constants.set(`weight:${name}`, value);
    }
    return value;
  }

  /** A 1-D int64 constant, e.g. a shape or Slice bounds. */
  ints(values: readonly (number | bigint)[]): string {
    return this.constant(
      'int64',
      [values.length],
      BigInt64Array.from(values, (v) => BigInt(v)),
    );
  }

  /** A 0-D int64 constant. */
  int(value: number): string {
    return this.constant('int64', [], BigInt64Array.of(BigInt(value)));
  }

  /** A float32 constant of the given shape (deduplicated by value). */
  tensor(values: Float32Array, shape: readonly number[]): string {
    return this.constant('float32', [...shape], values);
  }

  /** A 0-D float32 constant. */
  float(value: number): string {
    return this.constant('float32', [], Float32Array.of(value));
  }

  build(name: string, doc: string): GraphDef {
    return {
      name,
      doc,
      nodes: this.nodes,
      initializers: this.initializers,
      inputs: this.inputs,
      outputs: this.outputs,
    };
  }

  // Shorthands for the ops the models use.

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }

  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  matMul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }

  reshape(x: string, shape: readonly (number | string)[] | string): string {
    return this.op('Reshape', [x, typeof shape === 'string' ? shape : this.ints(shape.map(Number))]);
  }

  transpose(x: string, perm: readonly number[]): string {
    return this.op('Transpose', [x], { perm: { ints: perm } });
  }

  concat(inputs: readonly string[], axis: number): string {
    return this.op('Concat', inputs, { axis: { int: axis } });
  }

  gather(table: string, ids: string): string {
    return this.op('Gather', [table, ids], { axis: { int: 0 } });
  }

  /** x[start:end] along `axis`; bounds are int64 1-D names or numbers (end may be omitted: to the end). */
  slice(x: string, axis: number, start: string | number, end?: string | number): string {
    const bound = (value: string | number) => (typeof value === 'string' ? value : this.ints([value]));
    const stop = end === undefined ? this.ints([INT64_MAX]) : bound(end);
    return this.op('Slice', [x, bound(start), stop, this.ints([axis])]);
  }

  /** The sizes of axes [from, to) of x: an int64 1-D tensor. */
  shape(x: string, from: number, to: number): string {
    return this.op('Shape', [x], { start: { int: from }, end: { int: to } });
  }

  private constant(type: ElementType, dims: number[], data: TensorDef['data']): string {
    const key = `${type}:${dims.join('x')}:${Array.from(data as ArrayLike<number | bigint>, String).join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = `const_${this.constants.size}`;
      this.initializers.push({ name, type, dims, data });
      this.constants.set(key, name);
    }
    return name;
  }
}
