import { flatDispatch, flatLayout, type WebGPUProgram } from './program.js';

const WORKGROUP = 64;

/**
 * First step of the attention backward pass: delta = rowsum(dOut * out) - dLogsumexp, per query.
 * With P the probabilities, dS = P * (dP - delta) is the gradient of the scaled scores.
 *
 * Inputs dy, out [B, H, T, Dh] and dlse [B, H, T]. Output [B, H, T].
 */
export class AttentionDeltaProgram implements WebGPUProgram {
  readonly variableNames = ['dy', 'o', 'dlse'];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly size = true;

  constructor(
    shape: { batch: number; heads: number; length: number },
    private readonly headDim: number,
  ) {
    this.outputShape = [shape.batch, shape.heads, shape.length];
    this.dispatchLayout = flatLayout(3);
    this.dispatch = flatDispatch(Math.ceil((shape.batch * shape.heads * shape.length) / WORKGROUP));
    this.shaderKey = `megabyteAttentionDelta_${headDim}`;
  }

  getUserCode(): string {
    const dh = this.headDim;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var sum = 0.0;
          for (var d = 0; d < ${dh}; d++) { sum += dy[index * ${dh} + d] * o[index * ${dh} + d]; }
          result[index] = sum - dlse[index];
        }
      }
    `;
  }
}
