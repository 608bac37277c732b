import { describe, expect, it } from 'vitest';
import { pickCheckpoint } from './checkpoint-files.js';

const files = (...names: string[]) => names.map((name) => ({ name, bytes: new Uint8Array() }));
const picked = (...names: string[]) => {
  const checkpoint = pickCheckpoint(files(...names));
  return checkpoint && [checkpoint.config.name, checkpoint.weights.name, checkpoint.media?.name];
};

describe('pickCheckpoint', () => {
  it('takes the files of a plain checkpoint, with or without a directory', () => {
    expect(picked('config.json', 'model.safetensors')).toEqual([
      'config.json',
      'model.safetensors',
      undefined,
    ]);
    expect(picked('m/converted.safetensors', 'm/config.json', 'm/media.json')).toEqual([
      'm/config.json',
      'm/converted.safetensors',
      'm/media.json',
    ]);
    expect(picked('notes.txt')).toBeUndefined();
    expect(picked('config.json', 'optimizer.safetensors')).toBeUndefined();
  });

  it("takes a run directory's best/ checkpoint, else its newest step, with the run's media.json", () => {
    const run = [
      'run/media.json',
      'run/metrics.jsonl',
      'run/checkpoints/step-000100/optimizer.safetensors',
      'run/checkpoints/step-000100/config.json',
      'run/checkpoints/step-000100/model.safetensors',
      'run/checkpoints/step-000200/config.json',
      'run/checkpoints/step-000200/optimizer.safetensors',
      'run/checkpoints/step-000200/model.safetensors',
    ];
    expect(picked(...run)).toEqual([
      'run/checkpoints/step-000200/config.json',
      'run/checkpoints/step-000200/model.safetensors',
      'run/media.json',
    ]);
    expect(
      picked(...run, 'run/best/optimizer.safetensors', 'run/best/model.safetensors', 'run/best/config.json'),
    ).toEqual(['run/best/config.json', 'run/best/model.safetensors', 'run/media.json']);
    // The run's contents dropped without its directory: the same checkpoint, the same media.json.
    expect(picked(...run.map((name) => name.slice('run/'.length)))).toEqual([
      'checkpoints/step-000200/config.json',
      'checkpoints/step-000200/model.safetensors',
      'media.json',
    ]);
  });
});
