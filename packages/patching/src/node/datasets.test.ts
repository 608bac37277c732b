import { describe, expect, it } from 'vitest';
import { Corpus } from '../corpus.js';
import { decodeText } from '../text.js';
import { resolveDataSource } from './data-source.js';
import { brownTaggedToText, loadDataset } from './datasets.js';

describe('brownTaggedToText', () => {
  it('drops tags, restores quotes and attaches punctuation', () => {
    const tagged = [
      '',
      '',
      "\t``/`` Only/rb a/at handful/nn ''/'' ,/, the/at jury/nn said/vbd ./.",
      'It/pps cost/vbd 1/2/cd (/( or/cc so/rb )/) ;/. ;/.',
      '',
      '',
      "\tThe/at boys'/nns$ shoes/nns ,/, he/pps said/vbd ,/, were/bed `/` new/jj '/' !/.",
      '',
    ].join('\n');
    expect(brownTaggedToText(tagged)).toBe(
      '"Only a handful", the jury said. It cost 1/2 (or so);;\n' + "The boys' shoes, he said, were ` new'!\n",
    );
  });
});

describe("loadDataset('brown')", () => {
  it('returns the 500 texts as plain English with no tags left', async () => {
    const documents = await loadDataset('brown');
    expect(documents).toHaveLength(500);
    expect(documents[0]).toMatchObject({ name: 'ca01', category: 'news' });
    const text = documents.map((document) => decodeText(document.bytes)).join('');
    expect(text.length).toBeGreaterThan(5_500_000);
    expect(text.length).toBeLessThan(6_500_000);
    expect(text).not.toMatch(/\/(at|nn|nns|vbd|vbz|in|np|jj|cc|rb|pps|dt)(-tl|-hl)?(?=\s)/);
    expect(text).not.toContain('``');
    expect(text).not.toMatch(/ [,;!?)]/);
    expect(decodeText(documents[0]!.bytes)).toMatch(
      /^The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence" that any irregularities took place\.\n/,
    );
    expect(Corpus.fromDocuments(documents).length).toBe(text.length + 499);
  });

  it('filters by category and names unknown ones', async () => {
    const humor = await loadDataset('brown', { categories: ['humor'] });
    expect(humor.map((document) => document.name)).toEqual(
      Array.from({ length: 9 }, (_, index) => `cr0${index + 1}`),
    );
    await expect(loadDataset('brown', { categories: ['poetry'] })).rejects.toThrow(
      /unknown categories poetry; known: adventure/,
    );
  });

  it('lists the known datasets for an unknown name, and resolves a bare dataset name', async () => {
    await expect(loadDataset('enwik9')).rejects.toThrow(/unknown dataset "enwik9"; known datasets: brown/);
    const source = await resolveDataSource('brown', { categories: ['science_fiction'] });
    expect(source.kind).toBe('dataset');
    expect(source.documents).toHaveLength(6);
  });
});
