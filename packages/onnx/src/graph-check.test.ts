// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createModel } from '@megabyte/core';
import { microMegabyteConfig, microTransformerConfig } from '@megabyte/core/testing';
import * as ortNode from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModel, type GraphRole, type OnnxManifest } from './export.js';
import { OnnxModel, OnnxModelError } from './onnx-model.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const config = microMegabyteConfig({ global: { byteDim: 4, layers: 2, heads: 2 } });
const model = createModel(config, { seed: 0 });
const { manifest, graphs } = exportModel(model);
const baseline = createModel(microTransformerConfig(), { seed: 0 });
const baselineExport = exportModel(baseline);
afterAll(() => {
  model.dispose();
  baseline.dispose();
});

async function loadError(files: Parameters<typeof OnnxModel.load>[1]): Promise<Error> {
  const error = await OnnxModel.load(ortNode, files).then(
    (loaded) => {
      void loaded.release();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OnnxModelError);
  return error as Error;
}

function withConfig(changes: Record<string, unknown>): OnnxManifest {
  // The manifest's config in the legacy form (which manifests may hold), overridden field by field.
  const { levels: _levels, ...common } = manifest.config as unknown as Record<string, unknown>;
  return { ...manifest, config: { ...common, ...config, ...changes } as unknown as OnnxManifest['config'] };
}

describe('OnnxModel.load checks every graph against the manifest and its config', () => {
  it('loads a whole export', async () => {
    const loaded = await OnnxModel.load(ortNode, { manifest, graphs });
    await loaded.release();
  });

  it.each([null, [], 'model.onnx', { scoring: null }, { scoring: { file: 'x.onnx' } }, { extra: {} }])(
    'names a broken "graphs" field (%j) instead of a TypeError',
    async (broken) => {
      const error = await loadError({ manifest: { ...manifest, graphs: broken } as never, graphs });
      expect(error.message).toMatch(/the ONNX manifest \(FILE\.json\) is broken: (graphs|"graphs")/);
    },
  );

  it.each([
    [
      'global',
      'local',
      /the global graph model\.global\.onnx does not fit its manifest:[\s\S]*it looks like a local \(per-byte\) step graph/,
    ],
    [
      'local',
      'global',
      /the local graph model\.local\.onnx does not fit[\s\S]*the graph has no input byte \[batch\]/,
    ],
    ['scoring', 'local', /the scoring graph model\.onnx does not fit[\s\S]*the graph has no input bytes/],
    [
      'global',
      'scoring',
      /the global graph model\.global\.onnx does not fit[\s\S]*it looks like a scoring graph/,
    ],
  ] as [GraphRole, GraphRole, RegExp][])(
    'refuses the %s role given the %s graph',
    async (role, actual, message) => {
      const error = await loadError({ manifest, graphs: { [role]: graphs[actual] } });
      expect(error.message).toMatch(message);
    },
  );

  it('refuses a graph of the other model kind', async () => {
    const error = await loadError({ manifest, graphs: { global: baselineExport.graphs.step } });
    expect(error.message).toMatch(/global graph model\.global\.onnx does not fit/);
  });

  it('names the layer count, patch size and vocabulary where the manifest config disagrees with the graphs', async () => {
    const layers = await loadError({
      manifest: withConfig({ global: { ...config.global, layers: 3 } }),
      graphs: { global: graphs.global },
    });
    expect(layers.message).toMatch(/the graph has no input past_key_2 \[batch, 2, past, 8\]/);
    const fewer = await loadError({
      manifest: withConfig({ global: { ...config.global, layers: 1 } }),
      graphs: { global: graphs.global },
    });
    expect(fewer.message).toMatch(/the graph has an unexpected input past_key_1/);
    const patch = await loadError({
      manifest: withConfig({ patchSize: 2, global: { ...config.global, heads: 2 } }),
      graphs: { local: graphs.local },
    });
    expect(patch.message).toMatch(
      /input conditioning has shape \[batch, 4, 8\] in the graph, expected \[batch, 2, 8\]/,
    );
    const vocab = await loadError({
      manifest: withConfig({ vocabSize: 300 }),
      graphs: { scoring: graphs.scoring },
    });
    expect(vocab.message).toMatch(
      /output logits has shape \[batch, length, 258\] in the graph, expected \[batch, length, 300\]/,
    );
  });

  it("names an entry of the manifest's own listing that disagrees with its graph", async () => {
    const listed = manifest.graphs.local!;
    const renamed = {
      ...manifest,
      graphs: {
        ...manifest.graphs,
        local: { ...listed, inputs: listed.inputs.filter((i) => i.name !== 'byte') },
      },
    };
    const error = await loadError({ manifest: renamed, graphs: { local: graphs.local } });
    expect(error.message).toMatch(
      /the local graph model\.local\.onnx does not fit its manifest:\n {2}- the manifest has no input byte/,
    );
  });

  it('names a manifest config past the bounds before any graph is loaded', async () => {
    const error = await loadError({
      manifest: withConfig({ global: { ...config.global, layers: 1e6 } }),
      graphs,
    });
    expect(error.message).toMatch(
      /manifest's config is not a valid model config[\s\S]*global\.layers: 1000000 is more than the limit of 1024/,
    );
  });
});
