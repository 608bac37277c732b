import { describe, expect, it } from 'vitest';
import { byteCells, describeBytes } from './byte-cells.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('byteCells', () => {
  it('gives one cell per character, covering all of its bytes', () => {
    const bytes = utf8('aé€😀');
    const { cells, end } = byteCells(bytes);
    expect(cells.map((cell) => [cell.text, cell.start, cell.length])).toEqual([
      ['a', 0, 1],
      ['é', 1, 2],
      ['€', 3, 3],
      ['😀', 6, 4],
    ]);
    expect(end).toBe(10);
  });

  it('shows control bytes and bytes that are not UTF-8 as hex, one cell per byte', () => {
    const { cells } = byteCells(Uint8Array.of(0x00, 0x09, 0x0a, 0x0d, 0x80, 0xc3, 0x41, 0xff));
    expect(cells.map((cell) => [cell.text, cell.hex, cell.newline])).toEqual([
      ['00', true, false],
      ['⇥', false, false],
      ['↵', false, true],
      ['0d', true, false],
      ['80', true, false],
      ['c3', true, false], // a lead byte followed by a non-continuation byte
      ['A', false, false],
      ['ff', true, false],
    ]);
  });

  it('holds back a character cut off at the end until more bytes come, unless final', () => {
    const bytes = utf8('a€');
    const partial = byteCells(bytes.subarray(0, 2), 0, false);
    expect(partial.cells.map((cell) => cell.text)).toEqual(['a']);
    expect(partial.end).toBe(1);
    expect(byteCells(bytes, partial.end, false).cells.map((cell) => cell.text)).toEqual(['€']);
    expect(byteCells(bytes.subarray(0, 2), 0, true).cells.map((cell) => cell.text)).toEqual(['a', 'e2']);
  });

  it('describes a cell by its text and bytes', () => {
    const bytes = utf8('é');
    expect(describeBytes(bytes, byteCells(bytes).cells[0]!)).toBe('"é" 0xc3 0xa9');
  });
});
