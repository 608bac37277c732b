import { TiledAttentionProgram } from './attention-common.js';

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
export class AttentionForwardProgram extends TiledAttentionProgram {
  readonly variableNames = ['q', 'k', 'v'];

  constructor(
    shape: { batch: number; heads: number; length: number; headDim: number },
    rows: number,
    tile: number,
  ) {
    super('megabyteAttentionForward', shape, shape.length, shape.headDim + 1, rows, tile);
  }

  getUserCode(): string {
    const { tile, headDim: dh } = this;
    return `
      ${this.declarations(['k', 'v'], 'lastKey')}

      fn main(index : i32) {
        ${this.queryPrelude()}

        var query : array<f32, ${dh}>;
        var acc : array<f32, ${dh}>;
        var scores : array<f32, ${tile}>;
        if (live) {
          let base = (bh * length + row) * ${dh};
          for (var d = 0; d < ${dh}; d++) { query[d] = q[base + d] * uniforms.scale; }
        }
        var runningMax = -3.402823e+38;
        var runningSum = 0.0;
        ${this.keyWalk(`
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
        `)}
        if (live) {
          let base = (bh * length + row) * ${dh + 1};
          for (var d = 0; d < ${dh}; d++) { result[base + d] = acc[d] / runningSum; }
          result[base + ${dh}] = runningMax + log(runningSum);
        }
      }
    `;
  }
}
