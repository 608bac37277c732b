import { describe, expect, it } from 'vitest';
import { pickRunCheckpoint, runDirectoryOf, stepDirectoryName } from './run-layout.js';

describe('pickRunCheckpoint', () => {
  it('takes the directory itself when it is a checkpoint', () => {
    expect(pickRunCheckpoint(['', 'best', 'checkpoints/step-0000100'])).toBe('');
  });

  it("takes a run's best/, else its newest step", () => {
    const steps = [stepDirectoryName(200), stepDirectoryName(1000), stepDirectoryName(30)].map(
      (name) => `checkpoints/${name}`,
    );
    expect(pickRunCheckpoint([...steps, 'best'])).toBe('best');
    expect(pickRunCheckpoint(steps)).toBe('checkpoints/step-0001000');
  });

  it('works the same under a common prefix and with trailing separators (dropped folders)', () => {
    expect(pickRunCheckpoint(['run/checkpoints/step-0000100/', 'run/best/'])).toBe('run/best/');
    expect(pickRunCheckpoint(['run/checkpoints/step-0000100/', 'run/checkpoints/step-0000200/'])).toBe(
      'run/checkpoints/step-0000200/',
    );
    expect(pickRunCheckpoint([])).toBeUndefined();
  });
});

describe('runDirectoryOf', () => {
  it('goes up from best/ and from checkpoints/step-N/', () => {
    expect(runDirectoryOf('/runs/a/best')).toBe('/runs/a');
    expect(runDirectoryOf('/runs/a/best/')).toBe('/runs/a');
    expect(runDirectoryOf('/runs/a/checkpoints/step-0000100')).toBe('/runs/a');
    expect(runDirectoryOf('run/checkpoints/step-0000100/')).toBe('run');
    expect(runDirectoryOf('C:\\runs\\a\\checkpoints\\step-0000100')).toBe('C:\\runs\\a');
    expect(runDirectoryOf('/best')).toBe('/');
    expect(runDirectoryOf('best')).toBe('');
    expect(runDirectoryOf('checkpoints/step-0000100/')).toBe('');
  });

  it('keeps any other checkpoint directory as its own run', () => {
    expect(runDirectoryOf('/models/converted')).toBe('/models/converted');
    expect(runDirectoryOf('/runs/a/step-0000100')).toBe('/runs/a/step-0000100');
    expect(runDirectoryOf('')).toBe('');
  });
});
