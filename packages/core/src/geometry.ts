import { byteLevel, type ModelConfig, type ModelConfigInput, patchLevels, validateConfig } from './config.js';

/** Where one level of the hierarchy sits in time and how wide it is. */
export interface LevelGeometry {
  /** Bytes per position of this level: its patch size, 1 at the byte level. */
  readonly bytesPerPosition: number;
  /**
   * Positions in one of its sequences: the outermost level's span the context, every other
   * level's span one position (patch) of the level above.
   */
  readonly positions: number;
  /** Its transformer's width: patchSize * byteDim for a patch level, dim at the byte level. */
  readonly width: number;
  readonly heads: number;
  readonly layers: number;
}

/**
 * What callers need to know about a model's shape in time, answered by the model itself rather
 * than recomputed from its config: the patch sizes, the unit in which windows slide and inputs are
 * padded, and each level's width. The baseline transformer is one level of one-byte positions.
 */
export class ModelGeometry {
  /** T: bytes in the context. */
  readonly contextLength: number;
  /** The levels, outermost first; the last predicts bytes. */
  readonly levels: readonly LevelGeometry[];

  constructor(config: ModelConfig) {
    this.contextLength = config.contextLength;
    this.levels = levelGeometries(config);
  }

  /**
   * Bytes per decoding step of the outermost level (its patch; 1 for the baseline): windows slide
   * and inputs are padded by whole steps of it.
   */
  get stepBytes(): number {
    return this.levels[0]!.bytesPerPosition;
  }

  /** The innermost patch: the bytes the byte level runs over at once (1 for the baseline). */
  get innermostPatch(): number {
    return this.levels.length > 1 ? this.levels.at(-1)!.positions : 1;
  }

  /** Patch sizes of the levels above the byte level, outermost first (none for the baseline). */
  get patchSizes(): number[] {
    return this.levels.slice(0, -1).map((level) => level.bytesPerPosition);
  }

  /** Each level's width, outermost first. */
  get widths(): number[] {
    return this.levels.map((level) => level.width);
  }

  /** Steps (patches of the outermost level) in the context. */
  get contextSteps(): number {
    return this.contextLength / this.stepBytes;
  }

  /** Steps a full window drops by default when it slides (and the default scoring stride): half the context. */
  get defaultSlide(): number {
    return Math.max(1, Math.floor(this.contextSteps / 2));
  }

  /** `length` rounded up to whole steps of the outermost level, as the model pads its input. */
  paddedLength(length: number): number {
    return Math.ceil(length / this.stepBytes) * this.stepBytes;
  }

  /**
   * Bytes a full window drops when it slides by `slide` steps (default `defaultSlide`); `slide`
   * must be an integer in 1..contextSteps. `option` names it in the error.
   */
  slideBytes(slide: number = this.defaultSlide, option = 'decoder option "slide"'): number {
    const steps = this.contextSteps;
    if (!Number.isInteger(slide) || slide < 1 || slide > steps) {
      throw new RangeError(
        `${option}: expected an integer in 1..${steps} (patches of the context), got ${slide}`,
      );
    }
    return slide * this.stepBytes;
  }
}

/** The geometry of a config in any form (it is validated first). */
export function modelGeometry(config: ModelConfigInput): ModelGeometry {
  return new ModelGeometry(validateConfig(config));
}

function levelGeometries(config: ModelConfig): LevelGeometry[] {
  if (config.kind === 'transformer') {
    const { dim, heads, layers, contextLength } = config;
    return [{ bytesPerPosition: 1, positions: contextLength, width: dim, heads, layers }];
  }
  let span = config.contextLength; // bytes one sequence of the current level covers
  const levels: LevelGeometry[] = patchLevels(config).map(({ patchSize, byteDim, heads, layers }) => {
    const level = {
      bytesPerPosition: patchSize,
      positions: span / patchSize,
      width: patchSize * byteDim,
      heads,
      layers,
    };
    span = patchSize;
    return level;
  });
  const { dim, heads, layers } = byteLevel(config);
  levels.push({ bytesPerPosition: 1, positions: span, width: dim, heads, layers });
  return levels;
}
