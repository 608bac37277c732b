import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeText, encodeText, Utf8StreamDecoder } from './text.js';

const reference = (bytes: Uint8Array) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);

// Byte soup that is mostly near-valid UTF-8: whole characters, truncated characters, and the
// bytes the decoder treats specially (overlong leads, surrogate and out-of-range leads, stray
// continuations).
const utf8ishBytes = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }).map((text) => [...encodeText(text)]),
      fc
        .string({ unit: 'binary', minLength: 1, maxLength: 1 })
        .map((text) => [...encodeText(text)].slice(0, -1)),
      fc
        .constantFrom(
          0x00,
          0x7f,
          0x80,
          0xbf,
          0xc0,
          0xc1,
          0xc2,
          0xdf,
          0xe0,
          0xed,
          0xef,
          0xf0,
          0xf4,
          0xf5,
          0xff,
        )
        .map((byte) => [byte]),
      fc.integer({ min: 0x80, max: 0xbf }).map((byte) => [byte]),
      fc.integer({ min: 0, max: 255 }).map((byte) => [byte]),
    ),
    { maxLength: 40 },
  )
  .map((pieces) => Uint8Array.from(pieces.flat()));

function decodeInChunks(bytes: Uint8Array, cuts: number[]): string {
  const decoder = new Utf8StreamDecoder();
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  let text = '';
  let start = 0;
  for (const point of [...points, bytes.length]) {
    text += decoder.push(bytes.subarray(start, point));
    start = point;
  }
  return text + decoder.flush();
}

describe('encodeText / decodeText', () => {
  it('encodes multi-byte characters as UTF-8', () => {
    expect([...encodeText('é')]).toEqual([0xc3, 0xa9]);
    expect([...encodeText('😀')]).toEqual([0xf0, 0x9f, 0x98, 0x80]);
  });

  it('round-trips every well-formed string, a leading byte order mark included', () => {
    expect(decodeText(encodeText('\ufeffhi'))).toBe('\ufeffhi');
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => decodeText(encodeText(text)) === text));
  });

  it('replaces invalid bytes with U+FFFD', () => {
    expect(decodeText(Uint8Array.from([0x61, 0xff, 0x62]))).toBe('a\ufffdb');
  });
});

describe('Utf8StreamDecoder', () => {
  it('holds back an incomplete character until its last byte arrives', () => {
    const decoder = new Utf8StreamDecoder();
    expect(decoder.push(0xf0)).toBe('');
    expect(decoder.push(0x9f)).toBe('');
    expect(decoder.push(0x98)).toBe('');
    expect(decoder.push(0x80)).toBe('😀');
  });

  it('matches TextDecoder on hand-picked malformed sequences', () => {
    const cases = [
      [0xc0, 0x80], // overlong NUL
      [0xe0, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], // UTF-16 surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xf0, 0x9f, 0x41], // truncated then ASCII
      [0xe2, 0x82], // truncated at the end
      [0x80, 0xbf],
    ];
    for (const bytes of cases) {
      const input = Uint8Array.from(bytes);
      expect(decodeInChunks(input, [1, 2, 3])).toBe(reference(input));
    }
  });

  it('flush turns an unfinished character into U+FFFD and leaves the decoder reusable', () => {
    const decoder = new Utf8StreamDecoder();
    expect(decoder.push(Uint8Array.from([0x61, 0xe2, 0x82]))).toBe('a');
    expect(decoder.flush()).toBe('\ufffd');
    expect(decoder.flush()).toBe('');
    expect(decoder.push(Uint8Array.from([0xe2, 0x82, 0xac]))).toBe('€');
  });

  it('rejects numbers that are not byte values', () => {
    const decoder = new Utf8StreamDecoder();
    expect(() => decoder.push(256)).toThrow(/expected a byte value 0..255, got 256/);
    expect(() => decoder.push(1.5)).toThrow(RangeError);
  });

  it('decodes chunks longer than one String.fromCharCode call', () => {
    const text = 'ab€😀'.repeat(10_000);
    expect(new Utf8StreamDecoder().push(encodeText(text))).toBe(text);
  });

  it('equals TextDecoder on random byte streams split at random points', () => {
    fc.assert(
      fc.property(
        fc.oneof(utf8ishBytes, fc.uint8Array({ maxLength: 64 })),
        fc.array(fc.nat(), { maxLength: 8 }),
        (bytes, cuts) => decodeInChunks(bytes, cuts) === reference(bytes),
      ),
      { numRuns: 2000 },
    );
  });

  it('equals TextDecoder when fed one byte at a time, as a generator emits them', () => {
    fc.assert(
      fc.property(utf8ishBytes, (bytes) => {
        const decoder = new Utf8StreamDecoder();
        let text = '';
        for (const byte of bytes) text += decoder.push(byte);
        return text + decoder.flush() === reference(bytes);
      }),
      { numRuns: 1000 },
    );
  });
});
