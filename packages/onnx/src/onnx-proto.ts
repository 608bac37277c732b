import { ProtoError, ProtoWriter, readFields, readVarints } from './protobuf.js';

/**
 * ONNX's ModelProto written from plain objects. Field numbers and enums follow onnx/onnx.proto
 * (IR version 8, the IR of opset 17).
 */

export const IR_VERSION = 8;
export const OPSET = 17;

export type ElementType = 'float32' | 'float16' | 'int32' | 'int64' | 'bool';

/** TensorProto.DataType */
const DATA_TYPES: Record<ElementType, number> = { float32: 1, float16: 10, int32: 6, int64: 7, bool: 9 };

/** A constant: an initializer, or the value of a tensor attribute. */
export interface TensorDef {
  readonly name: string;
  readonly type: ElementType;
  readonly dims: readonly number[];
  /** float16 as its IEEE bit patterns. */
  readonly data: Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;
}

export type AttributeDef =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly tensor: TensorDef };

export interface NodeDef {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: Readonly<Record<string, AttributeDef>>;
}

/** A graph input or output: a tensor type whose dimensions are sizes or symbolic names. */
export interface ValueInfoDef {
  readonly name: string;
  readonly type: ElementType;
  readonly shape: readonly (number | string)[];
  readonly doc?: string;
}

export interface GraphDef {
  readonly name: string;
  readonly nodes: readonly NodeDef[];
  readonly initializers: readonly TensorDef[];
  readonly inputs: readonly ValueInfoDef[];
  readonly outputs: readonly ValueInfoDef[];
  readonly doc?: string;
}

export interface ModelDef {
  readonly graph: GraphDef;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly doc?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export function encodeModel(model: ModelDef): Uint8Array {
  const out = new ProtoWriter()
    .varint(1, IR_VERSION)
    .string(2, model.producerName)
    .string(3, model.producerVersion)
    .message(7, encodeGraph(model.graph))
    .message(8, new ProtoWriter().string(1, '').varint(2, OPSET));
  if (model.doc) out.string(6, model.doc);
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    out.message(14, new ProtoWriter().string(1, key).string(2, value));
  }
  return out.finish();
}

function encodeGraph(graph: GraphDef): ProtoWriter {
  const out = new ProtoWriter();
  for (const node of graph.nodes) out.message(1, encodeNode(node));
  out.string(2, graph.name);
  for (const tensor of graph.initializers) out.message(5, encodeTensor(tensor));
  if (graph.doc) out.string(10, graph.doc);
  for (const input of graph.inputs) out.message(11, encodeValueInfo(input));
  for (const output of graph.outputs) out.message(12, encodeValueInfo(output));
  return out;
}

function encodeNode(node: NodeDef): ProtoWriter {
  const out = new ProtoWriter();
  for (const input of node.inputs) out.string(1, input);
  for (const output of node.outputs) out.string(2, output);
  out.string(3, node.name).string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes ?? {}))
    out.message(5, encodeAttribute(name, value));
  return out;
}

/** AttributeProto.AttributeType: FLOAT 1, INT 2, TENSOR 4, INTS 7. */
function encodeAttribute(name: string, value: AttributeDef): ProtoWriter {
  const out = new ProtoWriter().string(1, name);
  if ('int' in value) return out.varint(3, value.int).varint(20, 2);
  if ('float' in value) return out.float(2, value.float).varint(20, 1);
  if ('ints' in value) return out.packedVarints(8, value.ints).varint(20, 7);
  return out.message(5, encodeTensor(value.tensor)).varint(20, 4);
}

function encodeTensor(tensor: TensorDef): ProtoWriter {
  const { data } = tensor;
  // raw_data is little-endian; so is every platform JavaScript runs on (typed arrays use the host order).
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new ProtoWriter()
    .packedVarints(1, tensor.dims)
    .varint(2, DATA_TYPES[tensor.type])
    .string(8, tensor.name)
    .bytes(9, raw);
}

function encodeValueInfo(info: ValueInfoDef): ProtoWriter {
  const shape = new ProtoWriter();
  for (const dim of info.shape) {
    const dimension = new ProtoWriter();
    if (typeof dim === 'number') dimension.varint(1, dim);
    else dimension.string(2, dim);
    shape.message(1, dimension);
  }
  const tensorType = new ProtoWriter().varint(1, DATA_TYPES[info.type]).message(2, shape);
  const out = new ProtoWriter().string(1, info.name).message(2, new ProtoWriter().message(1, tensorType));
  if (info.doc) out.string(3, info.doc);
  return out;
}

/** What a reader needs to check a graph's wiring: names and shapes, no weights. */
export interface ModelSummary {
  readonly irVersion: number;
  readonly opsets: readonly { domain: string; version: number }[];
  readonly nodes: readonly { opType: string; inputs: string[]; outputs: string[] }[];
  readonly initializers: readonly { name: string; dims: number[]; type: number; byteLength: number }[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

/** Reads back the structure of an ONNX file; throws a ProtoError if the file is not one. */
export function summarizeModel(bytes: Uint8Array): ModelSummary {
  const text = (b?: Uint8Array) => new TextDecoder().decode(b ?? new Uint8Array());
  const top = readFields(bytes);
  const irVersion = top.find((f) => f.field === 1)?.varint;
  const graphBytes = top.find((f) => f.field === 7)?.bytes;
  if (irVersion === undefined || graphBytes === undefined) {
    throw new ProtoError('not an ONNX model: the ir_version or graph field is missing');
  }
  const opsets = top
    .filter((f) => f.field === 8)
    .map((f) => {
      const fields = readFields(f.bytes!);
      return {
        domain: text(fields.find((x) => x.field === 1)?.bytes),
        version: Number(fields.find((x) => x.field === 2)?.varint ?? 0n),
      };
    });
  const metadata: Record<string, string> = {};
  for (const f of top.filter((x) => x.field === 14)) {
    const entry = readFields(f.bytes!);
    metadata[text(entry.find((x) => x.field === 1)?.bytes)] = text(entry.find((x) => x.field === 2)?.bytes);
  }
  const graph = readFields(graphBytes);
  const valueName = (b: Uint8Array) => text(readFields(b).find((x) => x.field === 1)?.bytes);
  return {
    irVersion: Number(irVersion),
    opsets,
    nodes: graph
      .filter((f) => f.field === 1)
      .map((f) => {
        const fields = readFields(f.bytes!);
        return {
          opType: text(fields.find((x) => x.field === 4)?.bytes),
          inputs: fields.filter((x) => x.field === 1).map((x) => text(x.bytes)),
          outputs: fields.filter((x) => x.field === 2).map((x) => text(x.bytes)),
        };
      }),
    initializers: graph
      .filter((f) => f.field === 5)
      .map((f) => {
        const fields = readFields(f.bytes!);
        return {
          name: text(fields.find((x) => x.field === 8)?.bytes),
          dims: fields.filter((x) => x.field === 1).flatMap((x) => readVarints(x).map(Number)),
          type: Number(fields.find((x) => x.field === 2)?.varint ?? 0n),
          byteLength: fields.find((x) => x.field === 9)?.bytes?.length ?? 0,
        };
      }),
    inputs: graph.filter((f) => f.field === 11).map((f) => valueName(f.bytes!)),
    outputs: graph.filter((f) => f.field === 12).map((f) => valueName(f.bytes!)),
    metadata,
  };
}
