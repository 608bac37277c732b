import type { AnyModel } from '@megabyte/core';
import {
  baselineSpec,
  levelScope,
  type MegabyteConfig,
  type ModelConfig,
  megabyteSpec,
  validateConfig,
} from '@megabyte/core/portable';
import type { WeightSource, WeightType } from './graph-builder.js';
import {
  cacheInfos,
  decodingStacks,
  localStepGraph,
  patchStepGraph,
  scoringGraph,
  transformerStepGraph,
} from './graphs.js';
import { encodeModel, type GraphDef, IR_VERSION, OPSET, type ValueInfoDef } from './onnx-proto.js';

/**
 * The graphs of an export: `scoring` for both model kinds; `global`, `middle.<i>` (one per middle
 * level of a deeper hierarchy) and `local` (MEGABYTE) or `step` (the baseline) for incremental
 * decoding.
 */
export type GraphRole = 'scoring' | DecodingRole;

/** The roles of the decoding graphs, which carry KV caches. */
export type DecodingRole = 'global' | MiddleRole | 'local' | 'step';

/**
 * The step graph of middle level i of a deeper hierarchy (a config has at most 16 levels, so at
 * most 14 middle ones: @megabyte/core's CONFIG_LIMITS).
 */
export type MiddleRole = `middle.${0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13}`;

/** The decoding roles of a MEGABYTE config, outermost level first. */
export function megabyteDecodingRoles(config: MegabyteConfig): DecodingRole[] {
  return config.levels.map((_, i) => levelScope(i, config.levels.length) as DecodingRole);
}

export interface GraphManifest {
  /** File name, relative to the manifest. */
  readonly file: string;
  readonly inputs: readonly ValueInfoDef[];
  readonly outputs: readonly ValueInfoDef[];
}

/** Written beside the graphs as FILE.json: what any ONNX consumer needs to drive them. */
export interface OnnxManifest {
  readonly format: 'megabyte-onnx';
  readonly version: 1;
  readonly opset: number;
  readonly irVersion: number;
  /** The model config, as in the checkpoint's config.json. */
  readonly config: ModelConfig;
  /** How the initializers are stored (the graphs compute in float32 either way). */
  readonly weightType: WeightType;
  readonly graphs: Readonly<Partial<Record<GraphRole, GraphManifest>>>;
}

export interface ExportOptions {
  /** File name stem: graphs are `${base}.onnx`, `${base}.global.onnx` etc. Default `model`. */
  readonly base?: string;
  /**
   * How the weights are stored. `float16` halves the files; the graphs cast them to float32 as
   * they load, so the arithmetic (and, for a model whose weights are float16 values already,
   * like the shipped default model, the logits) stays the same. Default `float32`.
   */
  readonly weightType?: WeightType;
}

export interface OnnxExport {
  readonly manifest: OnnxManifest;
  /** Each graph's ONNX file, by role. */
  readonly graphs: Readonly<Partial<Record<GraphRole, Uint8Array>>>;
}

export const MANIFEST_FORMAT = 'megabyte-onnx';

/** The file name of each graph for an export named `base` (FILE.onnx gives base FILE). */
export function graphFileName(base: string, role: GraphRole): string {
  return role === 'scoring' ? `${base}.onnx` : `${base}.${role}.onnx`;
}

/**
 * Builds the ONNX graphs of a model (float32 initializers named after the model's parameters).
 * Reads the weights synchronously: run it on a backend that allows dataSync (cpu, wasm, Node).
 */
export function exportModel(model: AnyModel, options: ExportOptions = {}): OnnxExport {
  const { base = 'model', weightType = 'float32' } = options;
  // The graphs are recorded from the definition of the model the config describes: an option the
  // definition does not know (a hand-made config that skipped validation) is refused by name.
  const config = validateConfig(model.config);
  const parameters = new Map(model.parameters().map((p) => [p.name, p.variable]));
  const weights: WeightSource = (name) => {
    const variable = parameters.get(name);
    if (!variable) {
      throw new Error(
        `export: the graph needs parameter "${name}", which the ${config.kind} model does not have (its config and parameters disagree)`,
      );
    }
    return { values: variable.dataSync() as Float32Array, shape: variable.shape };
  };
  const defs: Partial<Record<GraphRole, GraphDef>> = { scoring: scoringGraph(config, weights, weightType) };
  if (config.kind === 'transformer') defs.step = transformerStepGraph(config, weights, weightType);
  else {
    megabyteDecodingRoles(config).forEach((role, i) => {
      defs[role] =
        role === 'local'
          ? localStepGraph(config, weights, weightType)
          : patchStepGraph(config, i, weights, weightType);
    });
  }
  const graphs: Partial<Record<GraphRole, Uint8Array>> = {};
  const described: Partial<Record<GraphRole, GraphManifest>> = {};
  for (const [role, graph] of Object.entries(defs) as [GraphRole, GraphDef][]) {
    graphs[role] = encodeModel({
      graph,
      producerName: '@megabyte/onnx',
      producerVersion: '1',
      doc: graph.doc,
      metadata: { role, config: JSON.stringify(config) },
    });
    described[role] = { file: graphFileName(base, role), inputs: graph.inputs, outputs: graph.outputs };
  }
  return {
    manifest: {
      format: MANIFEST_FORMAT,
      version: 1,
      opset: OPSET,
      irVersion: IR_VERSION,
      config,
      weightType,
      graphs: described,
    },
    graphs,
  };
}

/** Cache tensors' [heads, headDim] and layer count of each decoding graph. */
export function cacheLayout(config: ModelConfig, role: DecodingRole) {
  const stack =
    config.kind === 'transformer'
      ? baselineSpec(config)
      : decodingStacks(megabyteSpec(config))[megabyteDecodingRoles(config).indexOf(role)]!;
  return {
    layers: stack.layers,
    heads: stack.heads,
    headDim: stack.dim / stack.heads,
    names: cacheInfos(stack, 'past'),
  };
}
