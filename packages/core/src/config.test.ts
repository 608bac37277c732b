import { describe, expect, it } from 'vitest';
import { ConfigError, type MegabyteConfig, presetConfig, validateConfig } from './config.js';
import { microMegabyteConfig } from './testing/index.js';

const problemsOf = (input: unknown): string => {
  try {
    validateConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.join('\n');
  }
  return '';
};

const threeLevelLegacy = microMegabyteConfig({
  patchSize: 8,
  contextLength: 32,
  global: { byteDim: 2, layers: 1, heads: 2, convKernels: [3] },
  middle: [{ patchSize: 4, byteDim: 4, layers: 1, heads: 2 }],
  local: { dim: 8, layers: 1, heads: 2, crossPatch: 2 },
});

describe('the levels form', () => {
  it('reads the legacy form into levels, outermost first, options kept', () => {
    const config = validateConfig(threeLevelLegacy) as MegabyteConfig;
    expect(config.levels).toEqual([
      { patchSize: 8, byteDim: 2, layers: 1, heads: 2, convKernels: [3] },
      { patchSize: 4, byteDim: 4, layers: 1, heads: 2 },
      { dim: 8, layers: 1, heads: 2, crossPatch: 2 },
    ]);
    for (const legacy of ['patchSize', 'global', 'middle', 'local'])
      expect(config).not.toHaveProperty(legacy);
    // The levels form reads back to itself.
    expect(validateConfig(config)).toEqual(config);
  });

  it('writes presets in the levels form', () => {
    const tiny = presetConfig('tiny') as MegabyteConfig;
    expect(tiny.levels).toEqual([
      { patchSize: 4, byteDim: 32, layers: 4, heads: 4 },
      { dim: 128, layers: 2, heads: 4 },
    ]);
  });

  it('names the level and the field of an unknown level option', () => {
    const config = validateConfig(threeLevelLegacy) as MegabyteConfig;
    const [global, middle, local] = config.levels;
    expect(problemsOf({ ...config, levels: [global, { ...middle, kernels: [3] }, local] })).toMatch(
      /levels\[1\]\.kernels: not an option of a patch level \(its options: patchSize, byteDim, layers, heads, convKernels\)/,
    );
    expect(problemsOf({ ...config, levels: [global, middle, { ...local, crosspatch: 2 }] })).toMatch(
      /levels\[2\]\.crosspatch: not an option of the byte level \(its options: dim, layers, heads, crossPatch, rotary\)/,
    );
    expect(problemsOf({ ...threeLevelLegacy, local: { ...threeLevelLegacy.local, cross: 1 } })).toMatch(
      /local\.cross: not an option of the byte level/,
    );
    expect(problemsOf({ ...threeLevelLegacy, global: { ...threeLevelLegacy.global, patchSize: 8 } })).toMatch(
      /global\.patchSize: not an option of a patch level/,
    );
  });

  it('names the level whose patch size does not divide the one above', () => {
    const config = validateConfig(threeLevelLegacy) as MegabyteConfig;
    const [global, middle, local] = config.levels;
    expect(problemsOf({ ...config, levels: [global, { ...middle, patchSize: 3 }, local] })).toMatch(
      /levels\[1\]\.patchSize: 3 must be smaller than the patch of the level above \(8\) and divide it/,
    );
    expect(problemsOf({ ...config, contextLength: 36 })).toMatch(
      /contextLength: 36 must be a multiple of levels\[0\]\.patchSize 8/,
    );
    expect(problemsOf({ ...config, levels: [global, middle, { ...local, crossPatch: 5 }] })).toMatch(
      /levels\[2\]\.crossPatch: 5 is more than the local patch of 4 bytes/,
    );
    expect(problemsOf({ ...config, levels: [global, { ...middle, convKernels: [3] }, local] })).toMatch(
      /levels\[1\]\.convKernels: only the outermost level has the convolutional patch encoder/,
    );
  });

  it('names a rotary option that is not a boolean or a head width that has no pairs to turn', () => {
    const config = validateConfig(threeLevelLegacy) as MegabyteConfig;
    const [global, middle, local] = config.levels;
    expect(problemsOf({ ...config, levels: [global, middle, { ...local, rotary: 'yes' }] })).toMatch(
      /levels\[2\]\.rotary: expected true or false, got "yes"/,
    );
    expect(
      problemsOf({ ...config, levels: [global, middle, { dim: 12, layers: 1, heads: 4, rotary: true }] }),
    ).toMatch(
      /levels\[2\]\.rotary: rotary embeddings turn pairs of a head's 3 dimensions; make dim \/ heads even/,
    );
    expect(problemsOf({ ...config, levels: [global, middle, { ...local, rotary: true }] })).toBe('');
  });

  it('rejects a list that is not one, too short, or given beside the legacy fields', () => {
    const config = validateConfig(threeLevelLegacy) as MegabyteConfig;
    expect(problemsOf({ ...config, levels: [config.levels[2]] })).toMatch(
      /levels: expected a list of at least 2 levels/,
    );
    expect(problemsOf({ ...config, levels: [config.levels[0], 'local'] })).toMatch(
      /levels\[1\]: expected an object, got "local"/,
    );
    expect(problemsOf({ ...config, patchSize: 8 })).toMatch(
      /levels: give the hierarchy either as "levels" or/,
    );
  });
});
