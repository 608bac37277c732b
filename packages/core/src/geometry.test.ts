import { describe, expect, it } from 'vitest';
import { modelGeometry } from './geometry.js';
import { microMegabyteConfig, microTransformerConfig } from './testing/index.js';

describe('model geometry', () => {
  it('describes a three-level model level by level', () => {
    const geometry = modelGeometry(
      microMegabyteConfig({
        contextLength: 32,
        patchSize: 8,
        global: { byteDim: 2, layers: 1, heads: 2 },
        middle: [{ patchSize: 4, byteDim: 4, layers: 2, heads: 2 }],
        local: { dim: 8, layers: 3, heads: 4 },
      }),
    );
    expect(geometry.levels).toEqual([
      { bytesPerPosition: 8, positions: 4, width: 16, heads: 2, layers: 1 },
      { bytesPerPosition: 4, positions: 2, width: 16, heads: 2, layers: 2 },
      { bytesPerPosition: 1, positions: 4, width: 8, heads: 4, layers: 3 },
    ]);
    expect(geometry.stepBytes).toBe(8);
    expect(geometry.innermostPatch).toBe(4);
    expect(geometry.patchSizes).toEqual([8, 4]);
    expect(geometry.widths).toEqual([16, 16, 8]);
    expect(geometry.contextSteps).toBe(4);
    expect(geometry.defaultSlide).toBe(2);
    expect(geometry.slideBytes()).toBe(16);
    expect([0, 1, 8, 9, 31].map((n) => geometry.paddedLength(n))).toEqual([0, 8, 8, 16, 32]);
    expect(() => geometry.slideBytes(5)).toThrow(
      /decoder option "slide": expected an integer in 1\.\.4 \(patches of the context\), got 5/,
    );
  });

  it('makes the baseline one level of one-byte positions', () => {
    const geometry = modelGeometry(microTransformerConfig({ contextLength: 16 }));
    expect(geometry.levels).toEqual([{ bytesPerPosition: 1, positions: 16, width: 8, heads: 2, layers: 1 }]);
    expect(geometry.stepBytes).toBe(1);
    expect(geometry.innermostPatch).toBe(1);
    expect(geometry.patchSizes).toEqual([]);
    expect(geometry.slideBytes()).toBe(8);
    expect(geometry.paddedLength(5)).toBe(5);
  });
});
