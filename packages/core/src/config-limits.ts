/**
 * Upper bounds on model configs, so that a hostile or mistyped config.json is an error naming the
 * field before anything is allocated, never gigabytes of typed arrays or a bare "Invalid typed array
 * length". Two kinds of bound:
 *  - per field: far above every preset (the largest, `long`, has a context of 2^20 bytes), well
 *    below what a typed array can hold;
 *  - in total: the parameters, and for training the activations of a batch, must fit the memory
 *    budget ({@link memoryBudget}: the machine's memory where the host says, else 8 GiB).
 * Written over the config as read from JSON (legacy `patchSize`/`global`/`middle`/`local` or the
 * `levels` list), so it runs before a typed config exists.
 */
import type { ModelConfig } from './config.js';
import { parameterBreakdown } from './parameter-count.js';

export const CONFIG_LIMITS = {
  vocabSize: 65_536,
  contextLength: 16_777_216,
  /** Model width of one level (patchSize * byteDim for a patch level, dim for the byte level). */
  width: 65_536,
  layers: 1_024,
  heads: 1_024,
  mlpRatio: 64,
  convKernel: 1_024,
  /** Patch levels in a hierarchy. */
  levels: 16,
} as const;

const GIB = 1024 ** 3;
const FLOAT32_BYTES = 4;
let budgetOverride: number | undefined;

/**
 * Bytes a model may take: set by the host (the CLI passes the machine's memory), else the
 * browser's `navigator.deviceMemory`, else 8 GiB.
 */
export function memoryBudget(): number {
  if (budgetOverride !== undefined) return budgetOverride;
  const deviceGib = (globalThis as { navigator?: { deviceMemory?: number } }).navigator?.deviceMemory;
  return typeof deviceGib === 'number' && deviceGib > 0 ? deviceGib * GIB : 8 * GIB;
}

/** Sets the budget {@link memoryBudget} returns (bytes); `undefined` restores the default. */
export function setMemoryBudget(bytes: number | undefined): void {
  if (bytes !== undefined && !(Number.isFinite(bytes) && bytes > 0))
    throw new RangeError(`memory budget: expected a number of bytes > 0, got ${bytes}`);
  budgetOverride = bytes;
}

export function formatGib(bytes: number): string {
  return bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

interface RawLevel {
  readonly path: string;
  readonly fields: Record<string, unknown>;
  /** Patch levels: width = patchSize * byteDim; the byte level: width = dim. */
  readonly patch: boolean;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** Every level of a raw config with the path its fields are reported under, outermost first. */
function rawLevels(raw: Record<string, unknown>): RawLevel[] {
  if (raw.kind === 'transformer') return [{ path: '', fields: raw, patch: false }];
  if (Array.isArray(raw.levels)) {
    return raw.levels.map((level, i) => ({
      path: `levels[${i}].`,
      fields: asRecord(level),
      patch: i < (raw.levels as unknown[]).length - 1,
    }));
  }
  const global = asRecord(raw.global);
  return [
    { path: 'global.', fields: { ...global, patchSize: raw.patchSize }, patch: true },
    ...(Array.isArray(raw.middle) ? raw.middle : []).map((level, i) => ({
      path: `middle[${i}].`,
      fields: asRecord(level),
      patch: true,
    })),
    { path: 'local.', fields: asRecord(raw.local), patch: false },
  ];
}

/**
 * Fields of a raw config above their upper bound, one line each naming the field, the value, the
 * limit and what to do. Fields that are not numbers are left to the type checks.
 */
export function configBoundProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const atMost = (path: string, value: unknown, limit: number, fix: string) => {
    if (typeof value === 'number' && value > limit)
      problems.push(`${path}: ${value} is more than the limit of ${limit}; ${fix}`);
  };
  atMost('vocabSize', raw.vocabSize, CONFIG_LIMITS.vocabSize, 'byte models need 256 ids plus a few specials');
  atMost('contextLength', raw.contextLength, CONFIG_LIMITS.contextLength, 'use a shorter context');
  atMost('mlpRatio', raw.mlpRatio, CONFIG_LIMITS.mlpRatio, 'the usual ratio is 4');
  const levels = rawLevels(raw);
  if (levels.length > CONFIG_LIMITS.levels)
    problems.push(
      `levels: ${levels.length} levels is more than the limit of ${CONFIG_LIMITS.levels}; use fewer middle levels`,
    );
  for (const { path, fields, patch } of levels) {
    atMost(`${path}layers`, fields.layers, CONFIG_LIMITS.layers, 'use fewer layers');
    atMost(`${path}heads`, fields.heads, CONFIG_LIMITS.heads, 'use fewer heads');
    const widthField = patch ? 'byteDim' : 'dim';
    const width = patch ? (fields.patchSize as number) * (fields.byteDim as number) : (fields.dim as number);
    if (typeof width === 'number' && width > CONFIG_LIMITS.width) {
      const shown = patch ? `${fields.patchSize} x ${fields.byteDim} = ${width}` : `${width}`;
      problems.push(
        `${path}${widthField}: the level's width ${shown} is more than the limit of ${CONFIG_LIMITS.width}; use a smaller ${widthField}`,
      );
    }
    const kernels = fields.convKernels;
    if (Array.isArray(kernels))
      kernels.forEach((k, i) =>
        atMost(`${path}convKernels[${i}]`, k, CONFIG_LIMITS.convKernel, 'use a smaller kernel'),
      );
  }
  return problems;
}

/** Bytes of the float32 parameters of a (validated) config. */
export function parameterBytes(config: ModelConfig): number {
  return parameterBreakdown(config).total * FLOAT32_BYTES;
}

/**
 * The parameters of a valid config against the memory budget: an empty list when they fit, else one
 * line naming the size, the budget and the part of the model that holds most of it.
 */
export function parameterMemoryProblems(config: ModelConfig, budget = memoryBudget()): string[] {
  const bytes = parameterBytes(config);
  if (bytes <= budget) return [];
  const parts = parameterBreakdown(config);
  const largest = (['embeddings', 'global', 'middle', 'local'] as const).reduce((a, b) =>
    parts[a] >= parts[b] ? a : b,
  );
  const fix =
    largest === 'embeddings'
      ? 'reduce vocabSize, contextLength or the embedding widths'
      : `reduce the layers or width of the ${largest === 'local' ? 'local (byte-level)' : largest} model`;
  return [
    `the model's ${parts.total.toExponential(2)} parameters take ${formatGib(bytes)}, more than the memory budget of ${formatGib(budget)}: ${fix} (most are in ${largest})`,
  ];
}

/**
 * Estimated float32 bytes of the activations one training step keeps for the backward pass over
 * `batch` windows: per level and layer, the residual stream, attention's q/k/v/output and the MLP's
 * hidden layer, plus the attention scores; then the logits. An estimate within a small factor,
 * enough to refuse a batch that cannot fit.
 */
export function activationBytes(config: ModelConfig, batch: number): number {
  const T = config.contextLength;
  const perWindow = (positions: number, width: number, layers: number, heads: number, span: number) =>
    layers * (positions * width * (6 + 2 * config.mlpRatio) + heads * positions * span);
  let elements = 2 * T * config.vocabSize;
  if (config.kind === 'transformer') {
    elements += perWindow(T, config.dim, config.layers, config.heads, T);
  } else {
    const levels = rawLevels(config as unknown as Record<string, unknown>);
    let above = T;
    for (const { fields, patch } of levels) {
      const layers = fields.layers as number;
      const heads = fields.heads as number;
      if (patch) {
        const P = fields.patchSize as number;
        const width = P * (fields.byteDim as number);
        // T / P patches of width P * byteDim, each attending within the span of the level above.
        elements += perWindow(T / P, width, layers, heads, above / P);
        above = P;
      } else {
        elements += perWindow(T, fields.dim as number, layers, heads, above);
      }
    }
  }
  return elements * batch * FLOAT32_BYTES;
}

/**
 * Whether training (weights, gradients and two AdamW moments, plus the activations of a
 * micro-batch) fits the budget: an empty list, or one line naming `--batch`, the estimate and a fix.
 */
export function trainingMemoryProblems(
  config: ModelConfig,
  microBatch: number,
  budget = memoryBudget(),
): string[] {
  const weights = 4 * parameterBytes(config);
  const activations = activationBytes(config, microBatch);
  if (weights + activations <= budget) return [];
  const perWindow = activationBytes(config, 1);
  const fitting = Math.floor((budget - weights) / perWindow);
  const fix =
    fitting >= 1
      ? `use --batch ${fitting} or less (or --accumulate to split the batch into micro-batches)`
      : 'use a smaller model';
  return [
    `a training step over ${microBatch} windows needs about ${formatGib(weights + activations)} (${formatGib(weights)} of weights, gradients and optimizer moments, ${formatGib(activations)} of activations), more than the memory budget of ${formatGib(budget)}: ${fix}`,
  ];
}

/**
 * Whether scoring `batch` windows at once fits: the parameters plus the activations of a forward
 * pass (estimated as for training, an upper bound). An empty list, or one line naming a fitting batch.
 */
export function inferenceMemoryProblems(
  config: ModelConfig,
  batch: number,
  budget = memoryBudget(),
): string[] {
  const weights = parameterBytes(config);
  const activations = activationBytes(config, batch);
  if (weights + activations <= budget) return [];
  const fitting = Math.floor((budget - weights) / activationBytes(config, 1));
  return [
    `scoring ${batch} windows at once needs about ${formatGib(weights + activations)}, more than the memory budget of ${formatGib(budget)}: ${fitting >= 1 ? `use --batch ${fitting} or less` : 'use a smaller model'}`,
  ];
}
