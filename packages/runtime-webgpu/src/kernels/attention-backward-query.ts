import { TiledAttentionProgram } from './attention-common.js';

/**
 * Causal attention, backward, the queries' side: dQ = scale * dS K, with the probabilities
 * recomputed from the saved logsumexp. The same walk over key tiles as the forward program.
 *
 * Inputs q, dy [B, H, T, Dh], k, v [B, H, S, Dh], lse and delta [B, H, T]. Output dq [B, H, T, Dh].
 */
export class AttentionQueryGradProgram extends TiledAttentionProgram {
  readonly variableNames = ['q', 'k', 'v', 'dy', 'lse', 'delta'];

  constructor(
    shape: { batch: number; heads: number; length: number; headDim: number },
    rows: number,
    tile: number,
  ) {
    super('megabyteAttentionQueryGrad', shape, shape.length, shape.headDim, rows, tile);
  }

  getUserCode(): string {
    const dh = this.headDim;
    return `
      ${this.declarations(['k', 'v'], 'lastKey')}

      fn main(index : i32) {
        ${this.queryPrelude()}

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
        ${this.keyWalk(`
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
        `)}
        if (live) {
          let base = (bh * length + row) * ${dh};
          for (var d = 0; d < ${dh}; d++) { result[base + d] = dq[d] * uniforms.scale; }
        }
      }
    `;
  }
}
