import { describe, expect, it } from 'vitest';
import { globToRegExp } from './glob.js';

const matches = (pattern: string, paths: string[]) =>
  paths.filter((path) => globToRegExp(pattern).test(path));
const paths = [
  'a.txt',
  'b.md',
  'notes/c.txt',
  'notes/deep/d.txt',
  'notes/deep/e.md',
  'x.txt.bak',
  'a1.txt',
  'ab.txt',
];

describe('globToRegExp', () => {
  it('* stays within one segment', () => {
    expect(matches('*.txt', paths)).toEqual(['a.txt', 'a1.txt', 'ab.txt']);
    expect(matches('notes/*', paths)).toEqual(['notes/c.txt']);
  });

  it('** spans zero or more segments', () => {
    expect(matches('**/*.txt', paths)).toEqual([
      'a.txt',
      'notes/c.txt',
      'notes/deep/d.txt',
      'a1.txt',
      'ab.txt',
    ]);
    expect(matches('notes/**', paths)).toEqual(['notes/c.txt', 'notes/deep/d.txt', 'notes/deep/e.md']);
    expect(matches('**', paths)).toEqual(paths);
    expect(matches('notes/**/e.md', paths)).toEqual(['notes/deep/e.md']);
  });

  it('? is one character and {a,b} are alternatives, nested or with wildcards', () => {
    expect(matches('a?.txt', paths)).toEqual(['a1.txt', 'ab.txt']);
    expect(matches('**/*.{txt,md}', paths)).toEqual(paths.filter((path) => !path.endsWith('.bak')));
    expect(matches('{a,notes/{c,deep/d}}.txt', paths)).toEqual(['a.txt', 'notes/c.txt', 'notes/deep/d.txt']);
  });

  it('treats regular-expression characters and escapes literally', () => {
    expect(globToRegExp('a+b.txt').test('a+b.txt')).toBe(true);
    expect(globToRegExp('a+b.txt').test('aab.txt')).toBe(false);
    expect(globToRegExp('a.txt').test('abtxt')).toBe(false);
    expect(globToRegExp('a\\(b\\).txt').test('a(b).txt')).toBe(true);
    expect(globToRegExp('\\*.txt').test('*.txt')).toBe(true);
    expect(globToRegExp('\\*.txt').test('a.txt')).toBe(false);
  });

  it('[abc] is a character class, not the literal text', () => {
    expect(matches('a[1b].txt', paths)).toEqual(['a1.txt', 'ab.txt']);
    expect(matches('[^a]*', paths)).toEqual(['b.md', 'x.txt.bak']);
    expect(globToRegExp('*.md').test('.hidden.md')).toBe(true);
  });

  it('reports absolute patterns', () => {
    expect(() => globToRegExp('/etc/*')).toThrow(/relative to the directory/);
  });
});
