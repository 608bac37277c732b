import { BOUNDARY_ID, BYTE_COUNT, Rng, type RngState } from '@megabyte/patching';

/**
 * How the next byte is picked from the model's logits. The filters apply in this order:
 * repetition penalty, temperature, top-k, top-p, min-p; the draw is from what survives,
 * renormalised.
 */
export interface SamplingOptions {
  /** Divides the logits before the softmax; 0 picks the most likely byte (greedy). Default 1. */
  readonly temperature?: number;
  /** Keeps only the k most likely bytes. Default: off. */
  readonly topK?: number;
  /** Nucleus sampling: keeps the smallest set of most likely bytes whose probability reaches p. Default 1 (off). */
  readonly topP?: number;
  /** Drops bytes less likely than minP times the most likely one. Default 0 (off). */
  readonly minP?: number;
  /**
   * CTRL-style penalty (Keskar et al. 2019) for bytes seen in the last `repetitionWindow` ids:
   * positive logits are divided by it, negative ones multiplied. Default 1 (off). At the byte level
   * spaces and common letters recur constantly, so keep it mild (1.05 to 1.2) and the window short.
   */
  readonly repetitionPenalty?: number;
  /** How many of the most recent ids (prompt included) the repetition penalty looks at. Default 64. */
  readonly repetitionWindow?: number;
  /** Seed of the sampling RNG: the same seed, model and prompt give the same output. Default: random. */
  readonly seed?: number;
  /**
   * Lets the model pick the document boundary id (257), which ends generation (it is never
   * emitted). Otherwise no id >= 256 is ever sampled: those are not bytes.
   */
  readonly stopAtBoundary?: boolean;
}

/** Sampling options with every default filled in (the seed stays optional: absent means random). */
export type ResolvedSamplingOptions = Required<Omit<SamplingOptions, 'seed'>>;

const DEFAULTS: ResolvedSamplingOptions = {
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  repetitionWindow: 64,
  stopAtBoundary: false,
};

// Logits arrive as float32 (about 7 significant digits), so a set whose probability is exactly p
// can sum to a hair below it; without this slack top-p would keep one byte more than it should.
const TOP_P_SLACK = 1e-6;

/** Checks sampling options and fills the defaults; errors name the option, the expectation and the value. */
export function validateSamplingOptions(
  options: SamplingOptions,
): ResolvedSamplingOptions & { seed: number | undefined } {
  const problem = (name: string, expected: string, value: unknown) =>
    new RangeError(`sampling option "${name}": expected ${expected}, got ${JSON.stringify(value) ?? value}`);
  const resolved: ResolvedSamplingOptions = {
    temperature: options.temperature ?? DEFAULTS.temperature,
    topK: options.topK ?? DEFAULTS.topK,
    topP: options.topP ?? DEFAULTS.topP,
    minP: options.minP ?? DEFAULTS.minP,
    repetitionPenalty: options.repetitionPenalty ?? DEFAULTS.repetitionPenalty,
    repetitionWindow: options.repetitionWindow ?? DEFAULTS.repetitionWindow,
    stopAtBoundary: options.stopAtBoundary ?? DEFAULTS.stopAtBoundary,
  };
  const { temperature, topK, topP, minP, repetitionPenalty, repetitionWindow, stopAtBoundary } = resolved;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0)
    throw problem('temperature', 'a finite number >= 0 (0 is greedy)', temperature);
  if (!Number.isInteger(topK) || topK < 0) throw problem('topK', 'an integer >= 1, or 0 for off', topK);
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw problem('topP', 'a number in (0, 1]', topP);
  if (typeof minP !== 'number' || !(minP >= 0 && minP <= 1))
    throw problem('minP', 'a number in [0, 1]', minP);
  if (typeof repetitionPenalty !== 'number' || !Number.isFinite(repetitionPenalty) || repetitionPenalty <= 0)
    throw problem('repetitionPenalty', 'a finite number > 0 (1 is off)', repetitionPenalty);
  if (!Number.isInteger(repetitionWindow) || repetitionWindow < 0)
    throw problem('repetitionWindow', 'an integer >= 0', repetitionWindow);
  if (typeof stopAtBoundary !== 'boolean') throw problem('stopAtBoundary', 'true or false', stopAtBoundary);
  if (options.seed !== undefined && !Number.isSafeInteger(options.seed))
    throw problem('seed', 'a safe integer', options.seed);
  return { ...resolved, seed: options.seed };
}

/**
 * Picks ids from logits given as plain numbers (no tensors), so every engine (tfjs, ONNX) shares
 * it. One Sampler per sequence: it owns that sequence's RNG.
 */
export class Sampler {
  readonly options: ResolvedSamplingOptions;
  private readonly rng: Rng;

  /** `rng` resumes a saved sequence (see `rngState`); otherwise one is seeded from `options.seed`. */
  constructor(options: SamplingOptions = {}, rng?: Rng) {
    const { seed, ...resolved } = validateSamplingOptions(options);
    this.options = resolved;
    this.rng = rng ?? new Rng(seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** Where the RNG stands, to resume sampling later with `new Sampler(options, Rng.fromState(state))`. */
  rngState(): RngState {
    return this.rng.state();
  }

  /** The next id, given the logits of every id [V] and the ids so far (for the repetition penalty). */
  sample(logits: Float32Array, history: ArrayLike<number> = []): number {
    // Greedy leaves the RNG untouched, so it needs no seed to be reproducible.
    if (this.options.temperature === 0) return argmax(this.allowedScores(logits, history));
    const probabilities = this.probabilities(logits, history);
    let remaining = this.rng.next();
    let last = -1;
    for (let id = 0; id < probabilities.length; id++) {
      const p = probabilities[id]!;
      if (p === 0) continue;
      remaining -= p;
      if (remaining < 0) return id;
      last = id;
    }
    // The probabilities sum to 1 up to rounding; a draw that lands in that rounding gap takes the last id.
    return last;
  }

  /**
   * The distribution `sample` draws from, after every filter: [V] probabilities that sum to 1,
   * zero for excluded ids, one-hot for greedy. Useful to show the candidates in a UI.
   */
  probabilities(logits: Float32Array, history: ArrayLike<number> = []): Float64Array {
    const { temperature, topK, topP, minP } = this.options;
    const scores = this.allowedScores(logits, history);
    const probabilities = new Float64Array(scores.length);
    if (temperature === 0) {
      probabilities[argmax(scores)] = 1;
      return probabilities;
    }

    // Unnormalised, so the most likely byte has probability exactly 1.
    const best = scores[argmax(scores)]!;
    for (let id = 0; id < scores.length; id++)
      probabilities[id] = Math.exp((scores[id]! - best) / temperature);
    if (topK > 0 || topP < 1) this.keepTop(probabilities);
    // Relative to the most likely byte (1 here), which top-k and top-p always keep.
    if (minP > 0)
      for (let id = 0; id < scores.length; id++) if (probabilities[id]! < minP) probabilities[id] = 0;

    let total = 0;
    for (let id = 0; id < scores.length; id++) total += probabilities[id]!;
    for (let id = 0; id < scores.length; id++) probabilities[id]! /= total;
    return probabilities;
  }

  /** Top-k, then top-p over what top-k kept: zeroes the rest of `probabilities` (unnormalised). */
  private keepTop(probabilities: Float64Array): void {
    const { topK, topP } = this.options;
    // Most likely first; equal probabilities keep id order so the result never depends on the sort.
    const ranked = Array.from(probabilities.keys())
      .filter((id) => probabilities[id]! > 0)
      .sort((a, b) => probabilities[b]! - probabilities[a]! || a - b);
    let kept = topK > 0 ? Math.min(topK, ranked.length) : ranked.length;
    if (topP < 1) {
      let total = 0;
      for (let i = 0; i < kept; i++) total += probabilities[ranked[i]!]!;
      let cumulative = 0;
      for (let i = 0; i < kept; i++) {
        cumulative += probabilities[ranked[i]!]! / total;
        if (cumulative >= topP - TOP_P_SLACK) {
          kept = i + 1;
          break;
        }
      }
    }
    for (let i = kept; i < ranked.length; i++) probabilities[ranked[i]!] = 0;
  }

  /** Logits with the special ids masked out (-Infinity) and the repetition penalty applied. */
  private allowedScores(logits: Float32Array, history: ArrayLike<number>): Float64Array {
    const { repetitionPenalty, repetitionWindow, stopAtBoundary } = this.options;
    const scores = new Float64Array(logits);
    for (let id = 0; id < scores.length; id++) {
      if (Number.isNaN(scores[id])) {
        throw new Error(`sampling: the logit of id ${id} is NaN; the model's weights or inputs are broken`);
      }
      if (id >= BYTE_COUNT && !(stopAtBoundary && id === BOUNDARY_ID)) scores[id] = -Infinity;
    }
    if (repetitionPenalty !== 1) {
      const seen = new Set<number>();
      for (let i = Math.max(0, history.length - repetitionWindow); i < history.length; i++) {
        seen.add(history[i]!);
      }
      for (const id of seen) {
        const score = scores[id];
        if (score === undefined) continue;
        scores[id] = score > 0 ? score / repetitionPenalty : score * repetitionPenalty;
      }
    }
    if (scores[argmax(scores)] === -Infinity) {
      throw new Error(
        `sampling: no id can be picked: every byte's logit is -Infinity (${logits.length} logits given)`,
      );
    }
    return scores;
  }
}

/** Index of the largest value; the lowest index among equals. */
function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
