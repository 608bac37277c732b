import { flatDispatch, flatLayout, type WebGPUProgram } from './program.js';

/**
 * Causal attention, forward, flash-attention style: each workgroup owns `rows` consecutive
 * queries of one (batch, head) with one invocation per query, and walks the keys up to its last
 * query's position in tiles staged in workgroup memory, keeping a running max and sum of the
 * softmax (online softmax) so that the [T, S] score matrix never exists.
 *
 * Inputs q [B, H, T, Dh], k and v [B, H, S, Dh] (S = past + T). Output [B, H, T, Dh + 1]: the
 * attention output, then each query's logsumexp of its scaled scores, which the backward pass
 * recomputes the probabilities from.
 */
export class AttentionForwardProgram implements WebGPUProgram {
  readonly variableNames = ['q', 'k', 'v'];
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
    this.outputShape = [batch, heads, length, headDim + 1];
    this.dispatchLayout = flatLayout(4);
    this.dispatch = flatDispatch(batch * heads * Math.ceil(length / rows));
    this.workgroupSize = [rows, 1, 1];
    this.shaderKey = `megabyteAttentionForward_${rows}_${tile}_${headDim}`;
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
        // The last key any query of this workgroup sees; -1 for the padding workgroups of a
        // folded dispatch. Loaded uniformly: the loop below holds barriers.
        if (localId.x == 0u) {
          lastKeyShared = select(-1, min(uniforms.past + firstRow + ${rows - 1}, keys - 1), bh < sequences);
        }
        let lastKey = workgroupUniformLoad(&lastKeyShared);
        let myLastKey = uniforms.past + row;

        var query : array<f32, ${dh}>;
        var acc : array<f32, ${dh}>;
        var scores : array<f32, ${tile}>;
        if (live) {
          let base = (bh * length + row) * ${dh};
          for (var d = 0; d < ${dh}; d++) { query[d] = q[base + d] * uniforms.scale; }
        }
        var runningMax = -3.402823e+38;
        var runningSum = 0.0;
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
          if (live && count > 0) {
            var tileMax = runningMax;
            for (var j = 0; j < count; j++) {
              var score = 0.0;
              for (var d = 0; d < ${dh}; d++) { score += query[d] * kTile[j * ${dh} + d]; }
              scores[j] = score;
              tileMax = max(tileMax, score);
            }
            let correction = exp(runningMax - tileMax);
            runningSum *= correction;
            for (var d = 0; d < ${dh}; d++) { acc[d] *= correction; }
            for (var j = 0; j < count; j++) {
              let p = exp(scores[j] - tileMax);
              runningSum += p;
              for (var d = 0; d < ${dh}; d++) { acc[d] += p * vTile[j * ${dh} + d]; }
            }
            runningMax = tileMax;
          }
          workgroupBarrier();
        }
        if (live) {
          let base = (bh * length + row) * ${dh + 1};
          for (var d = 0; d < ${dh}; d++) { result[base + d] = acc[d] / runningSum; }
          result[base + ${dh}] = runningMax + log(runningSum);
        }
      }
    `;
  }
}
