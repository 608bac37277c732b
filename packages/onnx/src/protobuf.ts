/**
 * The protocol buffers wire format, as much of it as ONNX files need: varints, 32-bit floats and
 * length-delimited fields (strings, bytes, packed arrays, nested messages).
 */

enum Wire {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

/** Builds one message; nested messages are built by their own writer and added as bytes. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  varint(field: number, value: number | bigint): this {
    this.tag(field, Wire.Varint);
    this.raw(encodeVarint(BigInt(value)));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, Wire.Fixed32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.raw(bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, Wire.LengthDelimited);
    this.raw(encodeVarint(BigInt(value.length)));
    this.raw(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, message: ProtoWriter): this {
    return this.bytes(field, message.finish());
  }

  /** A packed repeated varint field (int64 / int32 lists). */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const parts = values.map((value) => encodeVarint(BigInt(value)));
    return this.bytes(field, concat(parts));
  }

  finish(): Uint8Array {
    return concat(this.chunks, this.size);
  }

  private tag(field: number, wire: Wire): void {
    this.raw(encodeVarint(BigInt((field << 3) | wire)));
  }

  private raw(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }
}

/** Two's complement for negative values, as protobuf's int64: always 10 bytes. */
function encodeVarint(value: bigint): Uint8Array {
  let rest = BigInt.asUintN(64, value);
  const out: number[] = [];
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    out.push(rest === 0n ? low : low | 0x80);
  } while (rest !== 0n);
  return Uint8Array.from(out);
}

function concat(parts: readonly Uint8Array[], size = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One field of a decoded message: a varint, a 32/64-bit word, or length-delimited bytes. */
export interface ProtoField {
  readonly field: number;
  readonly varint?: bigint;
  readonly fixed?: Uint8Array;
  readonly bytes?: Uint8Array;
}

export class ProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoError';
  }
}

/** Splits a message into its fields; throws a ProtoError if it is truncated or malformed. */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (offset >= bytes.length) throw new ProtoError(`truncated varint at byte ${offset}`);
      const byte = bytes[offset++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, value);
    }
    throw new ProtoError(`varint longer than 10 bytes at byte ${offset}`);
  };
  const take = (length: number): Uint8Array => {
    if (offset + length > bytes.length) {
      throw new ProtoError(
        `field needs ${length} bytes at byte ${offset}, but only ${bytes.length - offset} are left (truncated)`,
      );
    }
    const slice = bytes.subarray(offset, offset + length);
    offset += length;
    return slice;
  };
  while (offset < bytes.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new ProtoError(`field number 0 at byte ${offset}`);
    if (wire === Wire.Varint) fields.push({ field, varint: varint() });
    else if (wire === Wire.Fixed64) fields.push({ field, fixed: take(8) });
    else if (wire === Wire.Fixed32) fields.push({ field, fixed: take(4) });
    else if (wire === Wire.LengthDelimited) fields.push({ field, bytes: take(Number(varint())) });
    else throw new ProtoError(`unsupported wire type ${wire} for field ${field}`);
  }
  return fields;
}

/** Decodes a packed repeated varint field (or a single unpacked varint). */
export function readVarints(field: ProtoField): bigint[] {
  if (field.varint !== undefined) return [field.varint];
  if (!field.bytes) return [];
  const out: bigint[] = [];
  let value = 0n;
  let shift = 0n;
  for (const byte of field.bytes) {
    value |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if ((byte & 0x80) === 0) {
      out.push(BigInt.asIntN(64, value));
      value = 0n;
      shift = 0n;
    }
  }
  return out;
}
