/**
 * A checkpoint is a JSON config plus the model's named parameters in safetensors. Loaded tensors are
 * plain typed arrays rather than tf.Tensors because core never picks a tfjs instance: the caller's
 * Runtime turns them into tensors.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { CheckpointError } from './errors.js';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from './safetensors.js';

/** The file names inside a checkpoint directory (or next to each other on a web server). */
export const CHECKPOINT_CONFIG_FILE = 'config.json';
export const CHECKPOINT_WEIGHTS_FILE = 'model.safetensors';

/** How parameters are stored; they are always float32 once loaded. */
export type CheckpointDtype = 'float32' | 'float16';

export interface NamedParameter {
  name: string;
  tensor: Tensor;
}

export interface EncodeCheckpointOptions {
  /** The model config, a JSON object; it must be enough to rebuild the model the weights fit. */
  config: unknown;
  parameters: readonly NamedParameter[];
  /** Default `float32`; `float16` halves the file at the cost of rounding each weight. */
  dtype?: CheckpointDtype;
  /** Free-form strings stored in the safetensors header. */
  metadata?: Readonly<Record<string, string>>;
}

export interface EncodedCheckpoint {
  /** The contents of `config.json`. */
  configJson: string;
  /** The contents of `model.safetensors`. */
  weights: Uint8Array;
}

/** The floating-point dtypes a checkpoint may store parameters in. */
export type StoredFloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';

export interface CheckpointTensor {
  /** How the file stored it; `data` is float32 whatever this is. */
  dtype: StoredFloatDtype;
  shape: readonly number[];
  data: Float32Array;
}

export interface CheckpointContents {
  config: Record<string, unknown>;
  /** Parameters by name, in the order of their data in the file. */
  tensors: Map<string, CheckpointTensor>;
  metadata: Record<string, string>;
}

/**
 * Serialises a config and parameters. Reads tensor data asynchronously (GPU backends in Node
 * cannot read synchronously), so the parameters must stay alive until the promise settles.
 */
export async function encodeCheckpoint(options: EncodeCheckpointOptions): Promise<EncodedCheckpoint> {
  const { config, parameters, dtype = 'float32', metadata } = options;
  const context = 'cannot encode checkpoint';
  const problems: string[] = [];
  const configJson = stringifyConfig(config, problems);
  if (dtype !== 'float32' && dtype !== 'float16') {
    problems.push(`dtype must be "float32" or "float16", got ${JSON.stringify(dtype)}`);
  }
  const seen = new Set<string>();
  for (const { name, tensor } of parameters) {
    if (name === '') problems.push('a parameter has an empty name');
    else if (seen.has(name)) problems.push(`parameter ${name} appears more than once`);
    seen.add(name);
    if (tensor.isDisposed) problems.push(`parameter ${name}: its tensor has been disposed`);
    else if (tensor.dtype !== 'float32') {
      problems.push(`parameter ${name}: dtype is ${tensor.dtype}, but parameters must be float32`);
    }
  }
  if (problems.length > 0) throw new CheckpointError(context, problems);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const { name, tensor } of parameters) {
    const values = await tensor.data<'float32'>();
    tensors.set(
      name,
      dtype === 'float16'
        ? { dtype: 'F16', shape: tensor.shape, data: float32ToFloat16(values) }
        : { dtype: 'F32', shape: tensor.shape, data: values },
    );
  }
  return { configJson: configJson!, weights: encodeSafetensors(tensors, metadata) };
}

function stringifyConfig(config: unknown, problems: string[]): string | undefined {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    problems.push(`config must be a JSON object, got ${Array.isArray(config) ? 'an array' : String(config)}`);
    return undefined;
  }
  try {
    // JSON has no NaN or Infinity: stringify would write null and the config would load changed.
    const json = JSON.stringify(
      config,
      (key, value: unknown) => {
        if (typeof value === 'number' && !Number.isFinite(value)) {
          problems.push(`config field "${key}" is ${value}, which JSON cannot store`);
        }
        return value;
      },
      2,
    );
    return `${json}\n`;
  } catch (cause) {
    problems.push(
      `config is not JSON-serialisable: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    return undefined;
  }
}

/**
 * Parses the text of `config.json`. Throws a {@link CheckpointError} naming `source` and the parse
 * error when the text is not JSON or not a JSON object.
 */
export function parseCheckpointConfig(
  text: string,
  source = CHECKPOINT_CONFIG_FILE,
): Record<string, unknown> {
  const context = `cannot read ${source}`;
  let config: unknown;
  try {
    // Editors on Windows may save a byte-order mark, which JSON.parse rejects.
    config = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new CheckpointError(context, `not valid JSON: ${reason}`, { cause });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new CheckpointError(context, `must hold a JSON object, got ${JSON.stringify(config)}`);
  }
  return config as Record<string, unknown>;
}

/** Decodes a checkpoint whose config has already been parsed (see {@link parseCheckpointConfig}). */
export function decodeCheckpoint(
  checkpoint: { config: unknown; weights: Uint8Array },
  source = CHECKPOINT_WEIGHTS_FILE,
): CheckpointContents {
  const { config, weights } = checkpoint;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new CheckpointError(
      'cannot decode checkpoint',
      `config must be a JSON object, got ${String(config)}`,
    );
  }
  const { tensors, metadata } = decodeFloatTensors(weights, source);
  return { config: config as Record<string, unknown>, tensors, metadata };
}

/** A parameter a model needs: what a checkpoint's tensors are checked against. */
export interface ExpectedParameter {
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * Decodes `model.safetensors`, widening every parameter to float32. With `expected`, the header's
 * names, dtypes and shapes are first checked against it (see {@link checkParameters}), before any
 * data is widened: a file that does not fit costs only its header.
 */
export function decodeCheckpointWeights(
  weights: Uint8Array,
  source = CHECKPOINT_WEIGHTS_FILE,
  expected?: readonly ExpectedParameter[],
): Map<string, CheckpointTensor> {
  const decoded = decodeSafetensors(weights, source);
  if (expected !== undefined) checkParameters(expected, decoded.tensors, source);
  return floatTensors(decoded.tensors, source);
}

function decodeFloatTensors(
  weights: Uint8Array,
  source: string,
): { tensors: Map<string, CheckpointTensor>; metadata: Record<string, string> } {
  const decoded = decodeSafetensors(weights, source);
  return { tensors: floatTensors(decoded.tensors, source), metadata: decoded.metadata };
}

function floatTensors(
  decoded: ReadonlyMap<string, SafetensorsTensor>,
  source: string,
): Map<string, CheckpointTensor> {
  const tensors = new Map<string, CheckpointTensor>();
  const problems: string[] = [];
  for (const [name, tensor] of decoded) {
    const data = toFloat32(tensor);
    if (data === undefined) problems.push(dtypeProblem(name, tensor.dtype));
    else tensors.set(name, { dtype: tensor.dtype as StoredFloatDtype, shape: tensor.shape, data });
  }
  if (problems.length > 0) throw new CheckpointError(`cannot load parameters from ${source}`, problems);
  return tensors;
}

const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16', 'F64'] satisfies StoredFloatDtype[];

function dtypeProblem(name: string, dtype: string): string {
  return `tensor ${name} is ${dtype}, but parameters must be ${FLOAT_DTYPES.slice(0, -1).join(', ')} or ${FLOAT_DTYPES.at(-1)}`;
}

function toFloat32(tensor: SafetensorsTensor): Float32Array | undefined {
  switch (tensor.dtype) {
    case 'F32':
      return tensor.data;
    case 'F16':
      return float16ToFloat32(tensor.data);
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(tensor.data.length);
      for (let i = 0; i < bits.length; i++) bits[i] = tensor.data[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F64':
      return Float32Array.from(tensor.data);
    default:
      return undefined;
  }
}

/**
 * Checks loaded tensors (or a safetensors header's entries) against the parameters a model
 * expects, and throws one {@link CheckpointError} listing every tensor of the wrong shape or dtype,
 * every missing and every unexpected one. `source` names the weights file in the message.
 */
export function checkParameters(
  expected: readonly ExpectedParameter[],
  loaded: ReadonlyMap<string, { shape: readonly number[]; dtype?: string }>,
  source?: string,
): void {
  const missing: string[] = [];
  const misshapen: string[] = [];
  const expectedNames = new Set<string>();
  for (const { name, shape } of expected) {
    expectedNames.add(name);
    const found = loaded.get(name);
    if (found === undefined) missing.push(`missing: ${name} (expected ${formatShape(shape)})`);
    else if (!sameShape(shape, found.shape)) {
      misshapen.push(`${name}: expected ${formatShape(shape)}, file has ${formatShape(found.shape)}`);
    } else if (found.dtype !== undefined && !FLOAT_DTYPES.includes(found.dtype)) {
      misshapen.push(dtypeProblem(name, found.dtype));
    }
  }
  const unexpected: string[] = [];
  for (const [name, { shape }] of loaded) {
    if (!expectedNames.has(name)) unexpected.push(`unexpected: ${name} ${formatShape(shape)}`);
  }
  const problems = [...misshapen, ...missing, ...unexpected];
  if (problems.length === 0) return;

  let hint: string;
  if (expected.length > 0 && missing.length === expected.length) {
    hint =
      'No parameter name matches: these weights come from a different model or naming scheme. ' +
      'Load them with the code and config.json they were saved with.';
  } else {
    hint =
      'The config.json does not match these weights (a different width, depth, patch size or ' +
      'vocabulary?): load the weights with the config.json saved next to them.';
  }
  // The totals tell a different model from a damaged file when the list is too long to read.
  const totals =
    `the model needs ${elementTotal(expected)} parameters in ${expected.length} tensors, ` +
    `the file holds ${elementTotal(loaded.values())} in ${loaded.size}`;
  const context =
    source === undefined
      ? `checkpoint does not fit the model (${totals})`
      : `cannot load ${source}: its tensors do not fit config.json (${totals})`;
  throw new CheckpointError(context, problems, { hint });
}

function elementTotal(tensors: Iterable<{ shape: readonly number[] }>): number {
  let total = 0;
  for (const { shape } of tensors) total += shape.reduce((n, d) => n * d, 1);
  return total;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
