import { flatDispatch, flatLayout, type WebGPUProgram } from './program.js';

const WORKGROUP = 64;

/**
 * Softmax cross-entropy, forward: one workgroup per row reduces the row's max and sum of
 * exponentials in workgroup memory, then writes nats = logsumexp - logits[target] (0 for a target
 * outside [0, V)) and the logsumexp itself, for the backward pass.
 *
 * Inputs logits [N, V], targets [N] int32. Output [N, 2]: nats, logsumexp.
 */
export class SoftmaxCrossEntropyProgram implements WebGPUProgram {
  readonly variableNames = ['logits', 'targets'];
  readonly outputShape: number[];
  readonly shaderKey = 'megabyteSoftmaxCrossEntropy';
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];

  constructor(rows: number) {
    this.outputShape = [rows, 2];
    this.dispatchLayout = flatLayout(2);
    this.dispatch = flatDispatch(rows);
  }

  getUserCode(): string {
    return `
      var<workgroup> partial : array<f32, ${WORKGROUP}>;

      fn main(index : i32) {
        let rows = uniforms.logitsShape[0];
        let vocab = uniforms.logitsShape[1];
        let row = index / ${WORKGROUP};
        let tid = i32(localId.x);
        let live = row < rows;
        let base = row * vocab;

        var threadMax = -3.402823e+38;
        if (live) {
          for (var col = tid; col < vocab; col += ${WORKGROUP}) { threadMax = max(threadMax, logits[base + col]); }
        }
        partial[tid] = threadMax;
        workgroupBarrier();
        for (var width = ${WORKGROUP / 2}; width > 0; width = width / 2) {
          if (tid < width) { partial[tid] = max(partial[tid], partial[tid + width]); }
          workgroupBarrier();
        }
        let rowMax = partial[0];
        workgroupBarrier();

        var threadSum = 0.0;
        if (live) {
          for (var col = tid; col < vocab; col += ${WORKGROUP}) { threadSum += exp(logits[base + col] - rowMax); }
        }
        partial[tid] = threadSum;
        workgroupBarrier();
        for (var width = ${WORKGROUP / 2}; width > 0; width = width / 2) {
          if (tid < width) { partial[tid] += partial[tid + width]; }
          workgroupBarrier();
        }

        if (live && tid == 0) {
          let logsumexp = rowMax + log(partial[0]);
          let targetId = targets[row];
          var nats = 0.0;
          if (targetId >= 0 && targetId < vocab) { nats = logsumexp - logits[base + targetId]; }
          result[row * 2] = nats;
          result[row * 2 + 1] = logsumexp;
        }
      }
    `;
  }
}
