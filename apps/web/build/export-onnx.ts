// Run at build time (through Vite's module runner, so workspace packages resolve to their sources):
// the default checkpoint as the ONNX export the page runs on onnxruntime-web.
import '@tensorflow/tfjs-backend-cpu';
import { decodeModel } from '@megabyte/core';
import { exportModel, type GraphRole, graphFileName } from '@megabyte/onnx';
import * as tf from '@tensorflow/tfjs-core';

/** The export's files by name: `${base}.json` (the manifest) and one `.onnx` per graph. */
export async function exportCheckpoint(
  config: Uint8Array,
  weights: Uint8Array,
  base: string,
): Promise<Map<string, Uint8Array>> {
  // PROD silences tfjs's hint to install tfjs-node, which does not apply to a build step.
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  const model = decodeModel(
    { config: JSON.parse(new TextDecoder().decode(config)), weights },
    'packages/model-default',
  );
  try {
    // float16 halves the download and changes nothing: the shipped weights are float16 values already.
    const { manifest, graphs } = exportModel(model, { base, weightType: 'float16' });
    const files = new Map<string, Uint8Array>([
      [`${base}.json`, new TextEncoder().encode(JSON.stringify(manifest))],
    ]);
    for (const [role, bytes] of Object.entries(graphs) as [GraphRole, Uint8Array][]) {
      files.set(graphFileName(base, role), bytes);
    }
    return files;
  } finally {
    model.dispose();
  }
}
