import { flatDispatch, flatLayout, type WebGPUProgram } from './program.js';

/**
 * Causal attention, backward, the queries' side: dQ = scale * dS K, with the probabilities
 * recomputed from the saved logsumexp. The same walk over key tiles as the forward program.
 *
 * Inputs q, dy [B, H, T, Dh], k, v [B, H, S, Dh], lse and delta [B, H, T]. Output dq [B, H, T, Dh].
 */
export class AttentionQueryGradProgram implements WebGPUProgram {
  readonly variableNames = ['q', 'k', 'v', 'dy', 'lse', 'delta'];
  readonly uniforms = 'past : i32, scale : f32,';
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  private readonly headDim: number;

  constructor(
    shape: { batch: number; heads: number; length: number; headDim: number },
    private readonly rows: number,
    private readonly tile: number,
  ) {
    const { batch, heads, length, headDim } = shape;
    this.outputShape = [batch, heads, length, headDim];
    this.dispatchLayout = flatLayout(4);
    this.dispatch = flatDispatch(batch * heads * Math.ceil(length / rows));
    this.workgroupSize = [rows, 1, 1];
    this.shaderKey = `megabyteAttentionQueryGrad_${rows}_${tile}_${headDim}`;
    this.headDim = headDim;
  }

  getUserCode(): string {
    const { rows, tile, headDim: dh } = this;
    return `
      var<workgroup> kTile : array<f32, ${tile * dh}>;
      var<workgroup> vTile : array<f32, ${tile * dh}>;
      var<workgroup> lastKeyShared : i32;

      fn main(index : i32) {
        let length = uniforms.qShape[2];
        let keys = uniforms.kShape[2];
        let sequences = uniforms.qShape[0] * uniforms.qShape[1];
        let blocks = (length + ${rows - 1}) / ${rows};
        let group = index / ${rows};
        let bh = group / blocks;
        let firstRow = (group - bh * blocks) * ${rows};
        let row = firstRow + i32(localId.x);
        let live = bh < sequences && row < length;
        if (localId.x == 0u) {
          lastKeyShared = select(-1, min(uniforms.past + firstRow + ${rows - 1}, keys - 1), bh < sequences);
        }
        let lastKey = workgroupUniformLoad(&lastKeyShared);
        let myLastKey = uniforms.past + row;

        var query : array<f32, ${dh}>;
        var dOut : array<f32, ${dh}>;
        var dq : array<f32, ${dh}>;
        var rowLse = 0.0;
        var rowDelta = 0.0;
        if (live) {
          let base = (bh * length + row) * ${dh};
          for (var d = 0; d < ${dh}; d++) {
            query[d] = q[base + d] * uniforms.scale;
            dOut[d] = dy[base + d];
          }
          rowLse = lse[bh * length + row];
          rowDelta = delta[bh * length + row];
        }
        for (var start = 0; start <= lastKey; start += ${tile}) {
          for (var e = i32(localId.x); e < ${tile * dh}; e += ${rows}) {
            let key = start + e / ${dh};
            var kValue = 0.0;
            var vValue = 0.0;
            if (key < keys) {
              let at = (bh * keys + key) * ${dh} + e % ${dh};
              kValue = k[at];
              vValue = v[at];
            }
            kTile[e] = kValue;
            vTile[e] = vValue;
          }
          workgroupBarrier();
          let count = min(${tile}, myLastKey - start + 1);
          if (live) {
            for (var j = 0; j < count; j++) {
              var score = 0.0;
              var dp = 0.0;
              for (var d = 0; d < ${dh}; d++) {
                score += query[d] * kTile[j * ${dh} + d];
                dp += dOut[d] * vTile[j * ${dh} + d];
              }
              let ds = exp(score - rowLse) * (dp - rowDelta);
              for (var d = 0; d < ${dh}; d++) { dq[d] += ds * kTile[j * ${dh} + d]; }
            }
          }
          workgroupBarrier();
        }
        if (live) {
          let base = (bh * length + row) * ${dh};
          for (var d = 0; d < ${dh}; d++) { result[base + d] = dq[d] * uniforms.scale; }
        }
      }
    `;
  }
}
