import { TiledAttentionProgram } from './attention-common.js';

/**
 * Causal attention, backward, the keys' side: dK = scale * dS^T Q and dV = P^T dOut. Each
 * workgroup owns `rows` keys of one (batch, head), one invocation per key, and walks the queries
 * that see them (from key - past on) in tiles staged in workgroup memory: every key's gradient
 * has one writer, so no atomics.
 *
 * Inputs as AttentionQueryGradProgram. Output [B, H, S, 2 Dh]: dK, then dV.
 */
export class AttentionKeyValueGradProgram extends TiledAttentionProgram {
  readonly variableNames = ['q', 'k', 'v', 'dy', 'lse', 'delta'];

  constructor(
    shape: { batch: number; heads: number; keys: number; headDim: number },
    rows: number,
    tile: number,
  ) {
    super('megabyteAttentionKeyValueGrad', shape, shape.keys, 2 * shape.headDim, rows, tile);
  }

  getUserCode(): string {
    const { tile, headDim: dh } = this;
    // `row` is this invocation's key. Query i sees key j when past + i >= j; padding workgroups
    // of a folded dispatch skip the loop.
    return `
      ${this.declarations(['q', 'dy'], 'firstQuery')}

      fn main(index : i32) {
        ${this.prelude('keys', 'firstQuery', 'max(0, firstRow - uniforms.past)', 'length')}
        let myFirstQuery = row - uniforms.past;

        var keyRow : array<f32, ${dh}>;
        var valueRow : array<f32, ${dh}>;
        var dk : array<f32, ${dh}>;
        var dv : array<f32, ${dh}>;
        if (live) {
          let base = (bh * keys + row) * ${dh};
          for (var d = 0; d < ${dh}; d++) {
            keyRow[d] = k[base + d] * uniforms.scale;
            valueRow[d] = v[base + d];
          }
        }
        ${this.walk(
          { inputs: ['q', 'dy'], over: 'length', from: 'firstQuery', until: 'start < length' },
          `
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
        `,
        )}
        if (live) {
          let base = (bh * keys + row) * ${2 * dh};
          for (var d = 0; d < ${dh}; d++) {
            result[base + d] = dk[d] * uniforms.scale;
            result[base + ${dh} + d] = dv[d];
          }
        }
      }
    `;
  }
}
