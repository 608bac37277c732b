// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances
// disagreeing about the Tensor class (x.cast() then fails with "opHandler is null").
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type AnyModel, createModel, type MegabyteConfig } from '@megabyte/core';
import { microMegabyteConfig, microTransformerConfig } from '@megabyte/core/testing';
import * as ortNode from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportModel, type GraphRole } from './export.js';
import { OnnxModel, OnnxModelError } from './onnx-model.js';
import { OPSET, summarizeModel } from './onnx-proto.js';
import { ProtoError, ProtoWriter, readFields, readVarints } from './protobuf.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('protobuf', () => {
  it('round-trips varints (negative int64 too), strings and nested messages', () => {
    const inner = new ProtoWriter().string(1, 'héllo').packedVarints(2, [0, 1, 300, -1]);
    const bytes = new ProtoWriter()
      .varint(1, 2n ** 40n)
      .message(3, inner)
      .float(4, 0.5)
      .finish();
    const [big, nested, float] = readFields(bytes);
    expect(big).toEqual({ field: 1, varint: 2n ** 40n });
    const [text, packed] = readFields(nested!.bytes!);
    expect(new TextDecoder().decode(text!.bytes)).toBe('héllo');
    expect(readVarints(packed!)).toEqual([0n, 1n, 300n, -1n]);
    expect(new DataView(float!.fixed!.buffer, float!.fixed!.byteOffset).getFloat32(0, true)).toBe(0.5);
  });

  it('rejects truncated input', () => {
    const bytes = new ProtoWriter().string(1, 'a long enough string').finish();
    expect(() => readFields(bytes.subarray(0, 10))).toThrow(ProtoError);
  });
});

const MODELS = {
  megabyte: microMegabyteConfig({ global: { byteDim: 4, layers: 2, heads: 2 } }),
  transformer: microTransformerConfig({ tieHead: true, bias: true }),
};

describe('exported graphs', () => {
  for (const [kind, config] of Object.entries(MODELS)) {
    it(`${kind}: every node input is defined before use, opset ${OPSET}, documented names`, () => {
      const model = createModel(config, { seed: 0 });
      const { manifest, graphs } = exportModel(model, { base: 'tiny' });
      const roles = Object.keys(graphs).sort();
      expect(roles).toEqual(kind === 'megabyte' ? ['global', 'local', 'scoring'] : ['scoring', 'step']);
      for (const role of roles as GraphRole[]) {
        const summary = summarizeModel(graphs[role]!);
        expect(summary.opsets).toEqual([{ domain: '', version: OPSET }]);
        expect(summary.metadata.role).toBe(role);
        const defined = new Set([...summary.inputs, ...summary.initializers.map((i) => i.name)]);
        for (const node of summary.nodes) {
          for (const input of node.inputs) {
            if (input !== '' && !defined.has(input))
              throw new Error(`${role}: ${node.opType} reads undefined ${input}`);
          }
          for (const output of node.outputs) defined.add(output);
        }
        for (const output of summary.outputs) expect(defined.has(output)).toBe(true);
        const described = manifest.graphs[role]!;
        expect(summary.inputs).toEqual(described.inputs.map((i) => i.name));
        expect(summary.outputs).toEqual(described.outputs.map((o) => o.name));
      }
      // Every parameter is stored once, as float32 under its own name.
      const stored = new Map(
        Object.values(graphs)
          .flatMap((bytes) => summarizeModel(bytes).initializers)
          .map((i) => [i.name, i]),
      );
      for (const p of model.parameters()) {
        expect(stored.get(p.name)).toMatchObject({
          dims: p.variable.shape,
          type: 1,
          byteLength: 4 * p.variable.size,
        });
      }
      expect(manifest.graphs.scoring!.file).toBe('tiny.onnx');

      // float16: half the bytes, every parameter stored as FLOAT16 (10) and cast once.
      const half = exportModel(model, { weightType: 'float16' });
      expect(half.manifest.weightType).toBe('float16');
      const scoring = summarizeModel(half.graphs.scoring!);
      for (const p of model.parameters()) {
        expect(scoring.initializers.find((i) => i.name === p.name)).toMatchObject({
          type: 10,
          byteLength: 2 * p.variable.size,
        });
      }
      const names = new Set(model.parameters().map((p) => p.name));
      const casts = scoring.nodes.filter((n) => n.opType === 'Cast' && names.has(n.inputs[0]!));
      expect(casts).toHaveLength(names.size);
      model.dispose();
    });
  }
});

it('names what it cannot export: level options the model definition does not know', () => {
  const model = createModel(microMegabyteConfig());
  const config = model.config as MegabyteConfig;
  const [global, local] = config.levels;
  const patched = {
    parameters: () => model.parameters(),
    config: { ...config, levels: [global, { ...local, window: 2 }] },
  };
  expect(() => exportModel(patched as unknown as AnyModel)).toThrow(
    /levels\[1\]\.window: not an option of the byte level/,
  );
  model.dispose();
});

describe('loading', () => {
  const model = createModel(MODELS.megabyte, { seed: 0 });
  const { manifest, graphs } = exportModel(model);

  it('a truncated or corrupt graph gives an error naming the file and the fix', async () => {
    const scoring = graphs.scoring!;
    const corrupt = scoring.slice();
    corrupt.fill(0xff, 0, 64);
    for (const bytes of [scoring.subarray(0, scoring.length >> 1), corrupt, new Uint8Array()]) {
      const loading = OnnxModel.load(ortNode, { manifest, graphs: { scoring: bytes } });
      await expect(loading).rejects.toThrow(OnnxModelError);
      await expect(loading).rejects.toThrow(/scoring graph model\.onnx.*export the model again/);
    }
  });

  it('a bad manifest or a missing graph is named', async () => {
    await expect(OnnxModel.load(ortNode, { manifest: '{"format": 1', graphs })).rejects.toThrow(
      /not valid JSON/,
    );
    await expect(OnnxModel.load(ortNode, { manifest: '{}', graphs })).rejects.toThrow(
      /megabyte ONNX manifest/,
    );
    const onlyScoring = await OnnxModel.load(ortNode, { manifest, graphs: { scoring: graphs.scoring! } });
    expect(() => onlyScoring.createDecoder()).toThrow(
      /"global" graph \(model\.global\.onnx\) was not loaded/,
    );
    await onlyScoring.release();
  });
});
