import { BOUNDARY_ID, PAD_ID, Rng } from '@megabyte/patching';
import { describe, expect, it } from 'vitest';
import { Sampler } from './sampling.js';

const VOCAB = 258;

/** Logits over the full vocabulary: the given values at the first ids, `rest` elsewhere. */
function logitsOf(values: number[], rest = -Infinity): Float32Array {
  const logits = new Float32Array(VOCAB).fill(rest);
  logits.set(values);
  return logits;
}

/** Logits whose softmax is exactly the given probabilities (for ids 0..n-1). */
const fromProbabilities = (probabilities: number[]) => logitsOf(probabilities.map(Math.log));

/** The ids that `probabilities` keeps, as a sorted list. */
const support = (probabilities: Float64Array) =>
  Array.from(probabilities.keys()).filter((id) => probabilities[id]! > 0);

const randomLogits = (seed: number) => {
  const rng = new Rng(seed);
  return Float32Array.from({ length: VOCAB }, () => rng.next() * 8 - 4);
};

describe('Sampler', () => {
  it('is the argmax at temperature 0', () => {
    for (let seed = 0; seed < 20; seed++) {
      const logits = randomLogits(seed);
      let best = 0;
      for (let id = 0; id < 256; id++) if (logits[id]! > logits[best]!) best = id;
      expect(new Sampler({ temperature: 0 }).sample(logits)).toBe(best);
    }
  });

  it('is greedy with top-k 1 at any temperature', () => {
    const greedy = new Sampler({ temperature: 0 });
    const topOne = new Sampler({ temperature: 1.5, topK: 1, seed: 3 });
    for (let seed = 0; seed < 20; seed++) {
      const logits = randomLogits(seed);
      expect(topOne.sample(logits)).toBe(greedy.sample(logits));
    }
  });

  it('never picks a special id, however likely, unless stopAtBoundary allows the boundary', () => {
    const logits = logitsOf([0, 0], 0);
    logits[PAD_ID] = 50;
    logits[BOUNDARY_ID] = 40;
    expect(new Sampler({ temperature: 0 }).sample(logits)).toBe(0);
    const probabilities = new Sampler({ seed: 1 }).probabilities(logits);
    expect(probabilities[PAD_ID]).toBe(0);
    expect(probabilities[BOUNDARY_ID]).toBe(0);
    expect(new Sampler({ temperature: 0, stopAtBoundary: true }).sample(logits)).toBe(BOUNDARY_ID);
  });

  it('keeps the k most likely with top-k', () => {
    const logits = logitsOf([1, 5, 3, 4, 2]);
    expect(support(new Sampler({ topK: 3 }).probabilities(logits))).toEqual([1, 2, 3]);
  });

  it('keeps the smallest set that reaches p with top-p', () => {
    const logits = fromProbabilities([0.1, 0.5, 0.25, 0.15]);
    const kept = (topP: number) => support(new Sampler({ topP }).probabilities(logits));
    expect(kept(0.5)).toEqual([1]);
    expect(kept(0.6)).toEqual([1, 2]);
    expect(kept(0.75)).toEqual([1, 2]);
    expect(kept(0.76)).toEqual([1, 2, 3]);
    expect(kept(0.95)).toEqual([0, 1, 2, 3]);
    const renormalised = new Sampler({ topP: 0.75 }).probabilities(logits);
    expect(renormalised[1]).toBeCloseTo(0.5 / 0.75, 6);
    expect(renormalised[2]).toBeCloseTo(0.25 / 0.75, 6);
  });

  it('drops bytes below minP times the most likely one with min-p', () => {
    const logits = fromProbabilities([0.1, 0.5, 0.25, 0.15]);
    expect(support(new Sampler({ minP: 0.4 }).probabilities(logits))).toEqual([1, 2]);
    expect(support(new Sampler({ minP: 0.25 }).probabilities(logits))).toEqual([1, 2, 3]);
    expect(support(new Sampler({ minP: 0.1 }).probabilities(logits))).toEqual([0, 1, 2, 3]);
    expect(support(new Sampler({ minP: 1 }).probabilities(logits))).toEqual([1]);
  });

  it('divides the logits by the temperature', () => {
    const values = [0.5, 2, -1, 1];
    for (const temperature of [0.25, 1, 3]) {
      const scaled = values.map((v) => Math.exp(v / temperature));
      const total = scaled.reduce((a, b) => a + b);
      const probabilities = new Sampler({ temperature }).probabilities(logitsOf(values));
      scaled.forEach((p, id) => expect(probabilities[id]).toBeCloseTo(p / total, 6));
    }
  });

  it('penalises bytes of the recent window, CTRL-style', () => {
    const logits = logitsOf([2, -1, 2, -1]);
    const sampler = new Sampler({ temperature: 1, repetitionPenalty: 2, repetitionWindow: 2 });
    // ids 0 and 1 are in the window of the last two; 2 and 3 only further back
    const probabilities = sampler.probabilities(logits, [2, 3, 0, 1]);
    const expected = [1, -2, 2, -1].map(Math.exp);
    const total = expected.reduce((a, b) => a + b);
    expected.forEach((p, id) => expect(probabilities[id]).toBeCloseTo(p / total, 6));
  });

  it('reproduces its draws from a seed and from a saved RNG state', () => {
    const logits = randomLogits(7);
    const draw = (sampler: Sampler) => Array.from({ length: 50 }, () => sampler.sample(logits));
    const first = draw(new Sampler({ seed: 42, topP: 0.9 }));
    expect(draw(new Sampler({ seed: 42, topP: 0.9 }))).toEqual(first);
    expect(draw(new Sampler({ seed: 43, topP: 0.9 }))).not.toEqual(first);

    const sampler = new Sampler({ seed: 42, topP: 0.9 });
    draw(sampler);
    const resumed = new Sampler({ topP: 0.9 }, Rng.fromState(sampler.rngState()));
    expect(draw(resumed)).toEqual(draw(sampler));
  });

  it('draws with the probabilities of the softmax (chi-square test)', () => {
    const expected = [0.4, 0.3, 0.2, 0.1];
    const sampler = new Sampler({ seed: 5 });
    const logits = fromProbabilities(expected);
    const draws = 40_000;
    const counts = new Array<number>(expected.length).fill(0);
    for (let i = 0; i < draws; i++) counts[sampler.sample(logits)]!++;
    const chiSquare = expected.reduce((sum, p, id) => sum + (counts[id]! - p * draws) ** 2 / (p * draws), 0);
    // 16.27 is the 0.999 quantile of chi-square with 3 degrees of freedom.
    expect(chiSquare).toBeLessThan(16.27);
  });

  it('names the option in validation errors', () => {
    expect(() => new Sampler({ temperature: -1 })).toThrow('"temperature"');
    expect(() => new Sampler({ topK: 1.5 })).toThrow('"topK"');
    expect(() => new Sampler({ topP: 0 })).toThrow('"topP": expected a number in (0, 1], got 0');
    expect(() => new Sampler({ minP: 2 })).toThrow('"minP"');
    expect(() => new Sampler({ repetitionPenalty: 0 })).toThrow('"repetitionPenalty"');
    expect(() => new Sampler({ repetitionWindow: -1 })).toThrow('"repetitionWindow"');
    expect(() => new Sampler({ seed: 0.5 })).toThrow('"seed"');
  });

  it('refuses logits with NaN or with nothing that can be picked', () => {
    const nan = logitsOf([1, Number.NaN]);
    expect(() => new Sampler({ temperature: 0 }).sample(nan)).toThrow('id 1 is NaN');
    const onlySpecial = logitsOf([]);
    onlySpecial[PAD_ID] = 1;
    expect(() => new Sampler({ seed: 1 }).sample(onlySpecial)).toThrow('no id can be picked');
  });
});
