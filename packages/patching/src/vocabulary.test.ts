import { describe, expect, it } from 'vitest';
import { BOUNDARY_ID, BYTE_COUNT, PAD_ID, VOCAB_SIZE, Vocabulary } from './vocabulary.js';

describe('Vocabulary', () => {
  const vocabulary = Vocabulary.default;

  it('puts the named special ids after the 256 byte values', () => {
    expect(BYTE_COUNT).toBe(256);
    expect(vocabulary.size).toBe(VOCAB_SIZE);
    expect(vocabulary.specialId('pad')).toBe(PAD_ID);
    expect(vocabulary.specialId('boundary')).toBe(BOUNDARY_ID);
    expect(vocabulary.specialName(PAD_ID)).toBe('pad');
    expect(vocabulary.specialName(65)).toBeUndefined();
  });

  it('treats byte 0 as an ordinary byte', () => {
    expect(vocabulary.isByte(0)).toBe(true);
    expect(vocabulary.isSpecial(0)).toBe(false);
    expect(vocabulary.isByte(255)).toBe(true);
    expect(vocabulary.isByte(PAD_ID)).toBe(false);
    expect(vocabulary.isSpecial(VOCAB_SIZE)).toBe(false);
  });

  it('describes ids for logs', () => {
    expect([0x41, 0x0a, 0x00, 0xff, PAD_ID, BOUNDARY_ID].map((id) => vocabulary.describe(id))).toEqual([
      'A',
      '\\n',
      '\\x00',
      '\\xff',
      '<pad>',
      '<boundary>',
    ]);
  });

  it('extracts the bytes of generated ids', () => {
    expect([...vocabulary.bytesOf([104, BOUNDARY_ID, 105, 0])]).toEqual([104, 105, 0]);
    expect(() => vocabulary.bytesOf([104, PAD_ID], { special: 'error' })).toThrow(
      /special id <pad> at index 1/,
    );
    expect(() => vocabulary.bytesOf([999])).toThrow(/outside 0..257/);
  });

  it('names unknown special tokens in its error and round-trips through its config', () => {
    expect(() => vocabulary.specialId('mask')).toThrow(/unknown special token "mask"; known: pad, boundary/);
    const custom = new Vocabulary(['pad', 'boundary', 'mask']);
    expect(Vocabulary.fromConfig(JSON.parse(JSON.stringify(custom.toConfig()))).specialId('mask')).toBe(258);
    expect(() => new Vocabulary(['pad', 'pad'])).toThrow(/listed twice/);
  });
});
