/**
 * What each graph of an export must take and give, derived from the model config alone, and the
 * check of a loaded session against it and against the manifest: a graph in the wrong role, from
 * another model, or listed by a manifest that disagrees with it is an error naming the file and the
 * mismatch at load, never a raw onnxruntime error or wrong scores later.
 */
import { type ModelConfig, ModelGeometry } from '@megabyte/core/portable';
import { cacheLayout, type GraphManifest, type GraphRole, megabyteDecodingRoles } from './export.js';
import { conditioningShape, convHistory } from './graphs.js';
import type { ValueInfoDef } from './onnx-proto.js';

type Shape = readonly (number | string)[];

/** An input or output a graph of a role must have: the shape's numbers must match, names are free. */
interface Expected {
  readonly name: string;
  readonly type: 'int32' | 'float32';
  readonly shape: Shape;
}

/** The inputs and outputs a graph of `role` has for `config` (as the exporter writes them). */
export function expectedGraphIo(
  config: ModelConfig,
  role: GraphRole,
): { inputs: Expected[]; outputs: Expected[] } {
  const V = config.vocabSize;
  if (role === 'scoring') {
    return {
      inputs: [{ name: 'bytes', type: 'int32', shape: ['batch', 'length'] }],
      outputs: [{ name: 'logits', type: 'float32', shape: ['batch', 'length', V] }],
    };
  }
  const caches = (kind: 'past' | 'present') =>
    cacheLayout(config, role).names.map((info) => ({
      name: info.name.replace('past_', `${kind}_`),
      type: 'float32' as const,
      shape: info.shape,
    }));
  const logits: Expected = { name: 'logits', type: 'float32', shape: ['batch', V] };
  if (config.kind === 'transformer' || role === 'step') {
    return {
      inputs: [{ name: 'bytes', type: 'int32', shape: ['batch', 'new_bytes'] }, ...caches('past')],
      outputs: [logits, ...caches('present')],
    };
  }
  // Each patch level's step hands the level below its conditioning (`conditioningShape`).
  const level = megabyteDecodingRoles(config).indexOf(role);
  const conditioning = (i: number, name = 'conditioning'): Expected => ({
    name,
    type: 'float32',
    shape: conditioningShape(config, i),
  });
  if (role === 'local') {
    const crossPatch = config.levels.at(-1) as { crossPatch?: number };
    const position: Expected[] =
      (crossPatch.crossPatch ?? 0) > 0 ? [{ name: 'position', type: 'int32', shape: [1] }] : [];
    return {
      inputs: [
        { name: 'byte', type: 'int32', shape: ['batch'] },
        conditioning(level - 1),
        ...position,
        ...caches('past'),
      ],
      outputs: [logits, ...caches('present')],
    };
  }
  const history: Expected[] =
    level === 0 && convHistory(config) > 0
      ? [{ name: 'history', type: 'int32', shape: ['batch', 'history_bytes'] }]
      : [];
  return {
    inputs: [
      { name: 'bytes', type: 'int32', shape: ['batch', 'new_bytes'] },
      ...history,
      ...(level > 0 ? [conditioning(level - 1, 'parent_conditioning')] : []),
      ...caches('past'),
    ],
    outputs: [conditioning(level), ...caches('present')],
  };
}

/** The parts of an onnxruntime session the check reads (metadata is absent in old runtimes). */
export interface SessionIo {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly SessionValue[];
  readonly outputMetadata?: readonly SessionValue[];
}

interface SessionValue {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Numbers must be equal; a symbolic dimension matches anything. */
function shapesAgree(a: Shape, b: Shape): boolean {
  return (
    a.length === b.length &&
    a.every((d, i) => typeof d !== 'number' || typeof b[i] !== 'number' || d === b[i])
  );
}

/** Which role a graph with these input names looks like, to say what a wrong file is. */
function lookalikeRole(inputs: readonly string[]): string {
  if (inputs.includes('byte') && inputs.includes('conditioning')) return 'a local (per-byte) step graph';
  if (inputs.includes('bytes') && inputs.some((n) => n.startsWith('past_'))) return 'a global or step graph';
  if (inputs.length === 1 && inputs[0] === 'bytes') return 'a scoring graph';
  return 'no graph of a megabyte export';
}

function compare(
  side: 'input' | 'output',
  expected: readonly Expected[],
  actual: ReadonlyMap<string, { type?: string | undefined; shape?: Shape | undefined }>,
  what: string,
): string[] {
  const problems: string[] = [];
  const names = new Set(expected.map((e) => e.name));
  for (const want of expected) {
    const found = actual.get(want.name);
    if (!found) {
      problems.push(`${what} has no ${side} ${want.name} ${formatShape(want.shape)}`);
      continue;
    }
    if (found.type !== undefined && found.type !== want.type)
      problems.push(`${side} ${want.name} is ${found.type} in ${what}, expected ${want.type}`);
    if (found.shape !== undefined && found.shape.length > 0 && !shapesAgree(want.shape, found.shape))
      problems.push(
        `${side} ${want.name} has shape ${formatShape(found.shape)} in ${what}, expected ${formatShape(want.shape)}`,
      );
  }
  for (const name of actual.keys())
    if (!names.has(name)) problems.push(`${what} has an unexpected ${side} ${name}`);
  return problems;
}

function byName(
  values: readonly ValueInfoDef[] | readonly SessionValue[],
): Map<string, { type?: string; shape?: Shape }> {
  return new Map(values.map((v) => [v.name, { type: (v as { type?: string }).type, shape: v.shape }]));
}

/**
 * Everything wrong with a loaded graph of `role`: its session's inputs and outputs against those
 * the config implies (names, element types and the numbers in shapes: heads, head size, patch
 * size, local width, vocabulary, layer count through the cache names) and against what the
 * manifest lists for it. Empty when it fits.
 */
export function graphIoProblems(
  config: ModelConfig,
  role: GraphRole,
  described: GraphManifest,
  session: SessionIo,
): string[] {
  const expected = expectedGraphIo(config, role);
  const sessionInputs = session.inputMetadata
    ? byName(session.inputMetadata.filter((v) => v.isTensor))
    : new Map(session.inputNames.map((name) => [name, {}]));
  const sessionOutputs = session.outputMetadata
    ? byName(session.outputMetadata.filter((v) => v.isTensor))
    : new Map(session.outputNames.map((name) => [name, {}]));
  const problems = [
    ...compare('input', expected.inputs, sessionInputs, 'the graph'),
    ...compare('output', expected.outputs, sessionOutputs, 'the graph'),
  ];
  if (problems.length > 0) {
    const looksLike = lookalikeRole(session.inputNames);
    const { patchSizes } = new ModelGeometry(config);
    const kind =
      patchSizes.length > 0 ? `MEGABYTE (patch ${patchSizes.join(' > ')})` : 'baseline transformer';
    problems.push(
      `it looks like ${looksLike}, not the ${role} graph of the manifest's ${kind} config (or the config's layer count, heads, widths or vocabulary differ from the graph's)`,
    );
    return problems;
  }
  // The graph fits the config: the manifest's own listing of it must then say the same.
  return [
    ...compare('input', expected.inputs, byName(described.inputs), 'the manifest'),
    ...compare('output', expected.outputs, byName(described.outputs), 'the manifest'),
  ];
}

/** What is wrong with a manifest's `graphs` field, before any graph is read. */
export function manifestGraphProblems(graphs: unknown): string[] {
  if (typeof graphs !== 'object' || graphs === null || Array.isArray(graphs))
    return [`"graphs" must be an object of graphs by role, got ${JSON.stringify(graphs)}`];
  const problems: string[] = [];
  for (const [role, entry] of Object.entries(graphs)) {
    if (!['scoring', 'global', 'local', 'step'].includes(role) && !/^middle\.\d+$/.test(role)) {
      problems.push(
        `"graphs" has an unknown role "${role}" (known: scoring, global, middle.<i>, local, step)`,
      );
      continue;
    }
    const e = entry as Partial<GraphManifest> | null;
    if (typeof e !== 'object' || e === null || typeof e.file !== 'string' || e.file === '')
      problems.push(`graphs.${role}: expected {"file": "NAME.onnx", "inputs": [...], "outputs": [...]}`);
    else if (!Array.isArray(e.inputs) || !Array.isArray(e.outputs))
      problems.push(`graphs.${role} (${e.file}): "inputs" and "outputs" must be lists`);
  }
  return problems;
}
