import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeText } from '../text.js';
import { readCorpusDirectory, readCorpusFile, streamFileChunks } from './corpus-files.js';
import { resolveDataSource } from './data-source.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'patching-corpus-'));
  await mkdir(join(root, 'b/nested'), { recursive: true });
  await mkdir(join(root, '.git'));
  await mkdir(join(root, 'empty'));
  await writeFile(join(root, 'z.txt'), 'zed');
  await writeFile(join(root, 'a.md'), 'markdown');
  await writeFile(join(root, 'b/one.txt'), 'one');
  await writeFile(join(root, 'b/nested/two.txt'), 'two');
  await writeFile(join(root, 'b/nested/skip.log'), 'log');
  await writeFile(join(root, '.git/config'), 'hidden');
  await writeFile(join(root, 'binary.bin'), Uint8Array.from([0, 255, 0]));
  await symlink(join(root, 'b'), join(root, 'loop'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readCorpusFile', () => {
  it('returns the raw bytes, zeros included', async () => {
    expect([...(await readCorpusFile(join(root, 'binary.bin')))]).toEqual([0, 255, 0]);
  });
});

describe('readCorpusDirectory', () => {
  it('reads every visible file recursively in sorted order, without following directory links', async () => {
    const documents = await readCorpusDirectory(root);
    expect(documents.map((document) => document.name)).toEqual([
      'a.md',
      'b/nested/skip.log',
      'b/nested/two.txt',
      'b/one.txt',
      'binary.bin',
      'z.txt',
    ]);
  });

  it('applies include and exclude globs', async () => {
    const documents = await readCorpusDirectory(root, {
      include: ['**/*.{txt,md}'],
      exclude: ['b/nested/**'],
    });
    expect(documents.map((document) => [document.name, decodeText(document.bytes)])).toEqual([
      ['a.md', 'markdown'],
      ['b/one.txt', 'one'],
      ['z.txt', 'zed'],
    ]);
  });

  it('includes hidden entries on request', async () => {
    const documents = await readCorpusDirectory(root, { include: ['.git/*'], includeHidden: true });
    expect(documents.map((document) => document.name)).toEqual(['.git/config']);
  });
});

describe('streamFileChunks', () => {
  it('yields exact-size chunks and a shorter last one', async () => {
    const path = join(root, 'stream.bin');
    const bytes = Uint8Array.from({ length: 1000 }, (_, index) => index % 251);
    await writeFile(path, bytes);
    const chunks: Uint8Array[] = [];
    for await (const chunk of streamFileChunks(path, 300)) chunks.push(chunk);
    expect(chunks.map((chunk) => chunk.length)).toEqual([300, 300, 300, 100]);
    expect(chunks.flatMap((chunk) => [...chunk])).toEqual([...bytes]);
    const exact: Uint8Array[] = [];
    for await (const chunk of streamFileChunks(path, 500)) exact.push(chunk);
    expect(exact.map((chunk) => chunk.length)).toEqual([500, 500]);
  });

  it('rejects a bad chunk size', async () => {
    await expect(streamFileChunks(join(root, 'z.txt'), 0).next()).rejects.toThrow(
      /chunk size must be a positive integer/,
    );
  });
});

describe('resolveDataSource', () => {
  it('reads a file as one document and a directory as many', async () => {
    const file = await resolveDataSource(join(root, 'z.txt'));
    expect(file).toMatchObject({ kind: 'file', documents: [{ name: 'z.txt' }] });
    const directory = await resolveDataSource(join(root, 'b'), { include: ['**/*.txt'] });
    expect(directory.kind).toBe('directory');
    expect(directory.documents.map((document) => document.name)).toEqual(['nested/two.txt', 'one.txt']);
  });

  it('explains a missing path and a directory without matches', async () => {
    await expect(resolveDataSource(join(root, 'missing'))).rejects.toThrow(
      /no such file or directory, and not a dataset name \(known datasets: brown\)/,
    );
    await expect(resolveDataSource(join(root, 'empty'))).rejects.toThrow(
      /has no files matching include: \*\*/,
    );
  });
});
