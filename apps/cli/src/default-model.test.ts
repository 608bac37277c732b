import '@tensorflow/tfjs-backend-cpu';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { generate, idsTensor } from '@megabyte/core';
import { loadModel } from '@megabyte/core/node';
import { encodeText } from '@megabyte/patching';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultModelDirectory } from './commands/generate.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the shipped default model', () => {
  it('is found by `megabyte generate` without --model', () => {
    expect(realpathSync(defaultModelDirectory())).toBe(
      realpathSync(join(import.meta.dirname, '..', '..', '..', 'packages', 'model-default')),
    );
  });

  it('loads, predicts English far better than chance and generates English-looking bytes', async () => {
    const model = await loadModel(defaultModelDirectory());
    expect(model.config.kind).toBe('megabyte');
    const text = encodeText(
      'The jury said it did find that the city had been well run by the committee and the mayor.',
    );
    const ids = idsTensor(text, 1, text.length);
    expect(await model.bitsPerByte(ids)).toBeLessThan(3.5);
    ids.dispose();

    const bytes: number[] = [];
    for await (const byte of generate(model, { prompt: 'The ', maxBytes: 120, temperature: 0 }))
      bytes.push(byte);
    const out = new TextDecoder().decode(Uint8Array.from(bytes));
    const letters = [...out].filter((c) => /[A-Za-z ]/.test(c)).length;
    expect(letters / out.length).toBeGreaterThan(0.85);
    expect(out.split(' ').length).toBeGreaterThan(10);
    model.dispose();
  });
});
