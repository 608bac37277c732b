import { flatDispatch, flatLayout, type WebGPUProgram } from './program.js';

/** The axes of a [B, H, N, Dh] attention tensor that set a program's grid. */
export interface AttentionShape {
  batch: number;
  heads: number;
  headDim: number;
}

/** Which of the inputs' [B, H, N, Dh] rows a program owns or walks: queries (`q`, `dy`) or keys (`k`, `v`). */
type Rows = 'length' | 'keys';

/**
 * What the tiled causal-attention programs (forward and the two backward ones) share: one
 * invocation per owned row (a query or a key) of a (batch, head), `rows` rows per workgroup,
 * dispatched flat; the uniforms `past` and `scale`; and a walk over the other side's rows in
 * tiles of `tile` rows staged in workgroup memory. Subclasses write `getUserCode` from the WGSL
 * pieces below; `shaderKey` starts with their own `name`, so their pipelines stay apart.
 *
 * The inputs q [B, H, T, Dh] and k [B, H, S, Dh] (S = past + T) must come first in
 * `variableNames`: the WGSL reads their shapes.
 */
export abstract class TiledAttentionProgram implements WebGPUProgram {
  abstract readonly variableNames: string[];
  readonly uniforms = 'past : i32, scale : f32,';
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  protected readonly headDim: number;

  /** Owns `owned` rows of each (batch, head) and writes `width` values for each: output [B, H, owned, width]. */
  constructor(
    name: string,
    shape: AttentionShape,
    owned: number,
    width: number,
    protected readonly rows: number,
    protected readonly tile: number,
  ) {
    const { batch, heads, headDim } = shape;
    this.outputShape = [batch, heads, owned, width];
    this.dispatchLayout = flatLayout(4);
    this.dispatch = flatDispatch(batch * heads * Math.ceil(owned / rows));
    this.workgroupSize = [rows, 1, 1];
    this.shaderKey = `${name}_${rows}_${tile}_${headDim}`;
    this.headDim = headDim;
  }

  abstract getUserCode(): string;

  /** Workgroup memory: tiles `${input}Tile` [tile, Dh] of the two inputs walked, and the walk's shared `bound`. */
  protected declarations(inputs: readonly [string, string], bound: string): string {
    const size = this.tile * this.headDim;
    return `
      var<workgroup> ${inputs[0]}Tile : array<f32, ${size}>;
      var<workgroup> ${inputs[1]}Tile : array<f32, ${size}>;
      var<workgroup> ${bound}Shared : i32;
    `;
  }

  /**
   * The start of `main`: `length` queries and `keys` keys per sequence, this invocation's
   * sequence `bh` (batch * heads + head) and owned row `row` (a query or key, per `owned`), the
   * workgroup's first row `firstRow`, and `live` when both exist (a folded dispatch pads with
   * workgroups past the end). Then `bound`: one value for the whole workgroup, `value` (from
   * `firstRow`) or `padding` in a padding workgroup, loaded uniformly since the walk's loop holds
   * barriers.
   */
  protected prelude(owned: Rows, bound: string, value: string, padding: string): string {
    const { rows } = this;
    return `
        let length = uniforms.qShape[2];
        let keys = uniforms.kShape[2];
        let sequences = uniforms.qShape[0] * uniforms.qShape[1];
        let blocks = (${owned} + ${rows - 1}) / ${rows};
        let group = index / ${rows};
        let bh = group / blocks;
        let firstRow = (group - bh * blocks) * ${rows};
        let row = firstRow + i32(localId.x);
        let live = bh < sequences && row < ${owned};
        if (localId.x == 0u) {
          ${bound}Shared = select(${padding}, ${value}, bh < sequences);
        }
        let ${bound} = workgroupUniformLoad(&${bound}Shared);
    `;
  }

  /**
   * For programs that own queries: `lastKey`, the last key any query of the workgroup sees (-1
   * for padding workgroups), and `myLastKey`, this query's.
   */
  protected queryPrelude(): string {
    const value = `min(uniforms.past + firstRow + ${this.rows - 1}, keys - 1)`;
    return `${this.prelude('length', 'lastKey', value, '-1')}
        let myLastKey = uniforms.past + row;
    `;
  }

  /**
   * The loop over tiles: `start` runs over the `over` rows from `from` while `until` holds, in
   * steps of `tile`; each step stages rows start.. of the two `inputs` of sequence `bh` in their
   * tiles (zeros past the end), then runs `body`, with a barrier on either side of it so that no
   * invocation reads a tile half written.
   */
  protected walk(
    loop: { inputs: readonly [string, string]; over: Rows; from: string; until: string },
    body: string,
  ): string {
    const { rows, tile, headDim: dh } = this;
    const [a, b] = loop.inputs;
    return `
        for (var start = ${loop.from}; ${loop.until}; start += ${tile}) {
          for (var e = i32(localId.x); e < ${tile * dh}; e += ${rows}) {
            let staged = start + e / ${dh};
            var ${a}Value = 0.0;
            var ${b}Value = 0.0;
            if (staged < ${loop.over}) {
              let at = (bh * ${loop.over} + staged) * ${dh} + e % ${dh};
              ${a}Value = ${a}[at];
              ${b}Value = ${b}[at];
            }
            ${a}Tile[e] = ${a}Value;
            ${b}Tile[e] = ${b}Value;
          }
          workgroupBarrier();
          ${body}
          workgroupBarrier();
        }
    `;
  }

  /** The key walk of the programs that own queries: keys 0..lastKey, `count` of each tile seen by this query. */
  protected keyWalk(body: string): string {
    return this.walk(
      { inputs: ['k', 'v'], over: 'keys', from: '0', until: 'start <= lastKey' },
      `let count = min(${this.tile}, myLastKey - start + 1);
          ${body}`,
    );
  }
}
