import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-write.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'atomic-write-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes and overwrites a file, creating its directory, leaving no temporary file', async () => {
    const path = join(root, 'logs', 'metrics.json');
    await writeFileAtomic(path, '{"step":1}');
    await writeFileAtomic(path, new Uint8Array([0x7b, 0x7d]));
    expect(await readFile(path, 'utf8')).toBe('{}');
    expect(await readdir(join(root, 'logs'))).toEqual(['metrics.json']);
  });

  it('leaves the old file and no temporary file when the rename fails', async () => {
    const path = join(root, 'target');
    await mkdir(join(path, 'inside'), { recursive: true });
    await expect(writeFileAtomic(path, 'data')).rejects.toThrow();
    expect(await readdir(root)).toEqual(['target']);
  });
});
