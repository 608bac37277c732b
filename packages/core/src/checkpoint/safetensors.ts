/**
 * The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON describing each tensor, then the raw little-endian data.
 */
import { CheckpointError } from './errors.js';

/** The typed array that holds each dtype's elements; 16-bit floats and 8-bit floats stay raw bits. */
interface DtypeArrays {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U64: BigUint64Array;
  U32: Uint32Array;
  U16: Uint16Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
  F8_E4M3: Uint8Array;
  F8_E5M2: Uint8Array;
}

export type SafetensorsDtype = keyof DtypeArrays;

/** One tensor: `data` holds the elements in row-major order, `shape` `[]` for a scalar. */
export type SafetensorsTensor = {
  [D in SafetensorsDtype]: { dtype: D; shape: readonly number[]; data: DtypeArrays[D] };
}[SafetensorsDtype];

export interface DecodedSafetensors {
  /** In the order of their data in the file. */
  tensors: Map<string, SafetensorsTensor>;
  /** The header's `__metadata__`, `{}` when it has none. */
  metadata: Record<string, string>;
}

interface TypedArrayConstructor {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): DtypeArrays[SafetensorsDtype];
  readonly name: string;
}

const ARRAY_TYPES: { readonly [D in SafetensorsDtype]: TypedArrayConstructor } = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
};

const DTYPES = Object.keys(ARRAY_TYPES) as SafetensorsDtype[];
const METADATA_KEY = '__metadata__';
const ALIGNMENT = 8;

// Typed arrays use the host's byte order and the format is little-endian; every current JS engine
// host is little-endian, so a big-endian one is refused rather than carrying an untested swap path.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndianHost(context: string): void {
  if (!HOST_IS_LITTLE_ENDIAN)
    throw new CheckpointError(context, 'this host is big-endian, which is not supported');
}

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(ARRAY_TYPES, value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // BigInts and cyclic objects reach here from untyped callers.
  }
  json ??= String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Serialises tensors to safetensors bytes. The output depends only on the input: tensors are laid
 * out by element size (largest first, so every tensor is aligned to its element size) and then by
 * name, in the header and in the data alike, as the reference implementation does.
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, SafetensorsTensor>> | ReadonlyMap<string, SafetensorsTensor>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const context = 'cannot encode safetensors';
  requireLittleEndianHost(context);
  const entries: [string, SafetensorsTensor][] =
    tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const problems: string[] = [];
  for (const [name, tensor] of entries) problems.push(...tensorProblems(name, tensor));
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (typeof value !== 'string') {
      problems.push(`metadata "${key}" must be a string, got ${describe(value)}`);
    }
  }
  if (problems.length > 0) throw new CheckpointError(context, problems);

  entries.sort(
    ([nameA, a], [nameB, b]) =>
      ARRAY_TYPES[b.dtype].BYTES_PER_ELEMENT - ARRAY_TYPES[a.dtype].BYTES_PER_ELEMENT ||
      compareNames(nameA, nameB),
  );
  const headerParts: string[] = [];
  if (metadata !== undefined) {
    const sorted = Object.fromEntries(Object.entries(metadata).sort(([a], [b]) => compareNames(a, b)));
    headerParts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(sorted)}`);
  }
  let dataLength = 0;
  for (const [name, { dtype, shape, data }] of entries) {
    const info = { dtype, shape: [...shape], data_offsets: [dataLength, dataLength + data.byteLength] };
    // Built by hand because a JS object would reorder integer-like names ahead of the others.
    headerParts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    dataLength += data.byteLength;
  }
  const header = new TextEncoder().encode(`{${headerParts.join(',')}}`);
  const headerLength = Math.ceil(header.length / ALIGNMENT) * ALIGNMENT;

  const out = new Uint8Array(8 + headerLength + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, 8 + headerLength);
  let offset = 8 + headerLength;
  for (const [, { data }] of entries) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    offset += data.byteLength;
  }
  return out;
}

function tensorProblems(name: string, tensor: SafetensorsTensor): string[] {
  const label = `tensor ${JSON.stringify(name)}`;
  if (name === METADATA_KEY) return [`${label}: the name is reserved for the header's metadata`];
  const { dtype, shape, data } = tensor as { dtype: unknown; shape: unknown; data: unknown };
  if (!isDtype(dtype)) return [`${label}: unknown dtype ${describe(dtype)} (known: ${DTYPES.join(', ')})`];
  const arrayType = ARRAY_TYPES[dtype];
  const problems: string[] = [];
  if (!(data instanceof arrayType)) {
    const got = isObject(data) ? (data as object).constructor.name : describe(data);
    problems.push(`${label}: ${dtype} data must be a ${arrayType.name}, got ${got}`);
  }
  if (!isShape(shape)) {
    problems.push(`${label}: shape must be an array of non-negative integers, got ${describe(shape)}`);
  } else if (data instanceof arrayType && elementCount(shape) !== data.length) {
    problems.push(
      `${label}: shape ${describe(shape)} has ${elementCount(shape)} elements but data has ${data.length}`,
    );
  }
  return problems;
}

interface HeaderEntry {
  name: string;
  begin: number;
  end: number;
  /** Undefined when the entry's dtype or shape is unusable; the problem is already recorded. */
  dtype: SafetensorsDtype | undefined;
  shape: number[];
}

/**
 * Reads safetensors bytes, checking the header against the data first: any inconsistency throws a
 * {@link CheckpointError} listing every problem found. Tensor data is a view into `bytes` where it is
 * aligned for its type and a copy otherwise, so copy it before reusing `bytes`.
 *
 * @param source names the bytes in error messages, e.g. the file path.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): DecodedSafetensors {
  const context = `cannot read ${source} as safetensors`;
  requireLittleEndianHost(context);
  if (bytes.length < 8) {
    throw new CheckpointError(
      context,
      `file is ${bytes.length} bytes, shorter than the 8-byte header length that starts every safetensors file`,
    );
  }
  const declaredLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declaredLength > BigInt(bytes.length - 8)) {
    throw new CheckpointError(
      context,
      `truncated: header says ${declaredLength} bytes but file has ${bytes.length - 8} after the 8-byte length`,
      { hint: 'The file was cut short (an interrupted copy or download?) or is not a safetensors file.' },
    );
  }
  const headerLength = Number(declaredLength);
  const header = parseHeader(bytes.subarray(8, 8 + headerLength), context);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;

  const problems: string[] = [];
  const metadata = readMetadata(header[METADATA_KEY], problems);
  const entries: HeaderEntry[] = [];
  let allOffsetsValid = true;
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    const entry = readEntry(name, value, problems);
    if (entry === undefined) allOffsetsValid = false;
    else entries.push(entry);
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  problems.push(...layoutProblems(entries, dataLength, allOffsetsValid));
  if (problems.length > 0) throw new CheckpointError(context, problems);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    const data = readArray(ARRAY_TYPES[dtype!], bytes, dataStart + begin, end - begin);
    tensors.set(name, { dtype, shape, data } as SafetensorsTensor);
  }
  return { tensors, metadata };
}

function parseHeader(headerBytes: Uint8Array, context: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (cause) {
    throw new CheckpointError(context, 'header is not valid UTF-8', { cause });
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new CheckpointError(context, `header is not valid JSON: ${reason}`, { cause });
  }
  if (!isObject(header)) {
    throw new CheckpointError(context, `header must be a JSON object, got ${describe(header)}`);
  }
  return header;
}

function readMetadata(value: unknown, problems: string[]): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) {
    problems.push(`${METADATA_KEY} must be an object of strings, got ${describe(value)}`);
    return {};
  }
  const metadata: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string') metadata[key] = item;
    else problems.push(`${METADATA_KEY}.${key} must be a string, got ${describe(item)}`);
  }
  return metadata;
}

/** Checks one header entry, recording its problems; `undefined` when its offsets are unusable. */
function readEntry(name: string, value: unknown, problems: string[]): HeaderEntry | undefined {
  const label = `tensor ${JSON.stringify(name)}`;
  if (!isObject(value)) {
    problems.push(
      `${label}: entry must be an object with dtype, shape and data_offsets, got ${describe(value)}`,
    );
    return undefined;
  }
  const missing = ['dtype', 'shape', 'data_offsets'].filter((field) => !(field in value));
  if (missing.length > 0) {
    problems.push(`${label}: entry is missing ${missing.map((field) => `"${field}"`).join(', ')}`);
    if (missing.includes('data_offsets')) return undefined;
  }
  const { dtype, shape, data_offsets: offsets } = value;
  let typeOk = !missing.includes('dtype') && !missing.includes('shape');
  if (typeOk && !isDtype(dtype)) {
    problems.push(`${label}: unknown dtype ${describe(dtype)} (known: ${DTYPES.join(', ')})`);
    typeOk = false;
  }
  if (typeOk && !isShape(shape)) {
    problems.push(`${label}: shape must be an array of non-negative integers, got ${describe(shape)}`);
    typeOk = false;
  }
  const [begin, end] = Array.isArray(offsets) ? offsets : [];
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !Number.isSafeInteger(begin) ||
    !Number.isSafeInteger(end) ||
    begin < 0 ||
    end < begin
  ) {
    problems.push(
      `${label}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${describe(offsets)}`,
    );
    return undefined;
  }
  if (!typeOk) return { name, begin, end, dtype: undefined, shape: [] };
  const entry = { name, begin, end, dtype: dtype as SafetensorsDtype, shape: shape as number[] };
  const needed = elementCount(entry.shape) * ARRAY_TYPES[entry.dtype].BYTES_PER_ELEMENT;
  if (needed !== end - begin) {
    problems.push(
      `${label}: shape ${describe(shape)} ${dtype} needs ${needed} bytes, offsets give ${end - begin}`,
    );
  }
  return entry;
}

/** Offsets must tile the data exactly, as the reference reader demands: no overlaps, gaps or tail. */
function layoutProblems(entries: readonly HeaderEntry[], dataLength: number, complete: boolean): string[] {
  const problems: string[] = [];
  const pastEnd = entries.filter((entry) => entry.end > dataLength);
  if (pastEnd.length > 0) {
    const needed = Math.max(...pastEnd.map((entry) => entry.end));
    const names = pastEnd.map((entry) => JSON.stringify(entry.name));
    problems.push(
      `data truncated: tensors need ${needed} bytes after the header but the file has ${dataLength} ` +
        `(${names.length} tensor(s) reach past the end: ${names.slice(0, 5).join(', ')}` +
        `${names.length > 5 ? ', ...' : ''})`,
    );
  }
  let covered = 0;
  let coveredBy: HeaderEntry | undefined;
  for (const entry of entries) {
    const range = `${JSON.stringify(entry.name)} [${entry.begin}, ${entry.end})`;
    if (entry.begin < covered && coveredBy !== undefined) {
      problems.push(
        `tensors ${JSON.stringify(coveredBy.name)} [${coveredBy.begin}, ${coveredBy.end}) and ${range} overlap`,
      );
    } else if (entry.begin > covered && complete) {
      problems.push(
        `bytes [${covered}, ${entry.begin}) of the data belong to no tensor (a gap before ${range})`,
      );
    }
    if (entry.end > covered) {
      covered = entry.end;
      coveredBy = entry;
    }
  }
  if (complete && pastEnd.length === 0 && covered < dataLength) {
    problems.push(
      `file has ${dataLength - covered} bytes after the last tensor's data ` +
        `(tensors end at byte ${covered} of ${dataLength} after the header)`,
    );
  }
  return problems;
}

function readArray(
  arrayType: TypedArrayConstructor,
  bytes: Uint8Array,
  start: number,
  byteLength: number,
): SafetensorsTensor['data'] {
  const length = byteLength / arrayType.BYTES_PER_ELEMENT;
  const absolute = bytes.byteOffset + start;
  if (absolute % arrayType.BYTES_PER_ELEMENT === 0) return new arrayType(bytes.buffer, absolute, length);
  // Typed arrays cannot start at a misaligned offset, so misaligned data is copied out.
  return new arrayType(bytes.slice(start, start + byteLength).buffer, 0, length);
}
