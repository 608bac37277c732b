import { flatDispatch, flatLayout, type WebGPUProgram } from './program.js';

const WORKGROUP = 64;

/**
 * Softmax cross-entropy, backward, one invocation per logit:
 * dLogits = (softmax - onehot(target)) * dNats + softmax * dLogsumexp, with the softmax
 * recomputed from the saved logsumexp (a target outside [0, V) has no loss, so no dNats term).
 *
 * Inputs logits [N, V], targets [N] int32, lse, dy, dlse [N]. Output dLogits [N, V].
 */
export class SoftmaxCrossEntropyGradProgram implements WebGPUProgram {
  readonly variableNames = ['logits', 'targets', 'lse', 'dy', 'dlse'];
  readonly outputShape: number[];
  readonly shaderKey = 'megabyteSoftmaxCrossEntropyGrad';
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly size = true;

  constructor(shape: [number, number]) {
    this.outputShape = shape;
    this.dispatchLayout = flatLayout(2);
    this.dispatch = flatDispatch(Math.ceil((shape[0] * shape[1]) / WORKGROUP));
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let vocab = uniforms.logitsShape[1];
          let row = index / vocab;
          let col = index - row * vocab;
          let targetId = targets[row];
          let p = exp(logits[index] - lse[row]);
          var grad = p * dlse[row];
          if (targetId >= 0 && targetId < vocab) {
            grad += (p - select(0.0, 1.0, col == targetId)) * dy[row];
          }
          result[index] = grad;
        }
      }
    `;
  }
}
