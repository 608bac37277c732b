import { flatDispatch, flatLayout, type WebGPUProgram } from './program.js';

/**
 * Causal attention, backward, the keys' side: dK = scale * dS^T Q and dV = P^T dOut. Each
 * workgroup owns `rows` keys of one (batch, head), one invocation per key, and walks the queries
 * that see them (from key - past on) in tiles staged in workgroup memory: every key's gradient
 * has one writer, so no atomics.
 *
 * Inputs as AttentionQueryGradProgram. Output [B, H, S, 2 Dh]: dK, then dV.
 */
export class AttentionKeyValueGradProgram implements WebGPUProgram {
  readonly variableNames = ['q', 'k', 'v', 'dy', 'lse', 'delta'];
  readonly uniforms = 'past : i32, scale : f32,';
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number];
  private readonly headDim: number;

  constructor(
    shape: { batch: number; heads: number; keys: number; headDim: number },
    private readonly rows: number,
    private readonly tile: number,
  ) {
    const { batch, heads, keys, headDim } = shape;
    this.outputShape = [batch, heads, keys, 2 * headDim];
    this.dispatchLayout = flatLayout(4);
    this.dispatch = flatDispatch(batch * heads * Math.ceil(keys / rows));
    this.workgroupSize = [rows, 1, 1];
    this.shaderKey = `megabyteAttentionKeyValueGrad_${rows}_${tile}_${headDim}`;
    this.headDim = headDim;
  }

  getUserCode(): string {
    const { rows, tile, headDim: dh } = this;
    return `
      var<workgroup> qTile : array<f32, ${tile * dh}>;
      var<workgroup> dyTile : array<f32, ${tile * dh}>;
      var<workgroup> firstQueryShared : i32;

      fn main(index : i32) {
        let length = uniforms.qShape[2];
        let keys = uniforms.kShape[2];
        let sequences = uniforms.qShape[0] * uniforms.qShape[1];
        let blocks = (keys + ${rows - 1}) / ${rows};
        let group = index / ${rows};
        let bh = group / blocks;
        let firstKey = (group - bh * blocks) * ${rows};
        let key = firstKey + i32(localId.x);
        let live = bh < sequences && key < keys;
        // Query i sees key j when past + i >= j. Padding workgroups of a folded dispatch skip the loop.
        if (localId.x == 0u) {
          firstQueryShared = select(length, max(0, firstKey - uniforms.past), bh < sequences);
        }
        let firstQuery = workgroupUniformLoad(&firstQueryShared);
        let myFirstQuery = key - uniforms.past;

        var keyRow : array<f32, ${dh}>;
        var valueRow : array<f32, ${dh}>;
        var dk : array<f32, ${dh}>;
        var dv : array<f32, ${dh}>;
        if (live) {
          let base = (bh * keys + key) * ${dh};
          for (var d = 0; d < ${dh}; d++) {
            keyRow[d] = k[base + d] * uniforms.scale;
            valueRow[d] = v[base + d];
          }
        }
        for (var start = firstQuery; start < length; start += ${tile}) {
          for (var e = i32(localId.x); e < ${tile * dh}; e += ${rows}) {
            let query = start + e / ${dh};
            var qValue = 0.0;
            var dyValue = 0.0;
            if (query < length) {
              let at = (bh * length + query) * ${dh} + e % ${dh};
              qValue = q[at];
              dyValue = dy[at];
            }
            qTile[e] = qValue;
            dyTile[e] = dyValue;
          }
          workgroupBarrier();
          if (live) {
            for (var j = max(0, myFirstQuery - start); j < min(${tile}, length - start); j++) {
              let at = bh * length + start + j;
              var score = 0.0;
              var dp = 0.0;
              for (var d = 0; d < ${dh}; d++) {
                score += qTile[j * ${dh} + d] * keyRow[d];
                dp += dyTile[j * ${dh} + d] * valueRow[d];
              }
              let p = exp(score - lse[at]);
              let ds = p * (dp - delta[at]);
              for (var d = 0; d < ${dh}; d++) {
                dv[d] += p * dyTile[j * ${dh} + d];
                dk[d] += ds * qTile[j * ${dh} + d];
              }
            }
          }
          workgroupBarrier();
        }
        if (live) {
          let base = (bh * keys + key) * ${2 * dh};
          for (var d = 0; d < ${dh}; d++) {
            result[base + d] = dk[d] * uniforms.scale;
            result[base + ${dh} + d] = dv[d];
          }
        }
      }
    `;
  }
}
