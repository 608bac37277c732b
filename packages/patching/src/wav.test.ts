import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeWav,
  muLawBytesToWav,
  muLawDecode,
  muLawEncode,
  muLawToPcm16,
  parseWav,
  pcm16ToMuLaw,
  resampleAudio,
  wavToMono,
  wavToMuLawBytes,
} from './wav.js';

function chunk(id: string, body: Uint8Array, declaredSize = body.length): Uint8Array {
  const bytes = new Uint8Array(8 + body.length + (body.length % 2));
  bytes.set([...id].map((character) => character.charCodeAt(0)));
  new DataView(bytes.buffer).setUint32(4, declaredSize, true);
  bytes.set(body, 8);
  return bytes;
}

function formatBody(fields: {
  code?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  extra?: number[];
}): Uint8Array {
  const { code = 1, channels = 1, rate = 8000, bits = 8, extra = [] } = fields;
  const body = new Uint8Array(16 + extra.length);
  const view = new DataView(body.buffer);
  const blockAlign = (channels * bits) / 8;
  view.setUint16(0, code, true);
  view.setUint16(2, channels, true);
  view.setUint32(4, rate, true);
  view.setUint32(8, rate * blockAlign, true);
  view.setUint16(12, blockAlign, true);
  view.setUint16(14, bits, true);
  body.set(extra, 16);
  return body;
}

function riff(...chunks: Uint8Array[]): Uint8Array {
  const body = Uint8Array.from(chunks.flatMap((part) => [...part]));
  const bytes = new Uint8Array(12 + body.length);
  bytes.set([0x52, 0x49, 0x46, 0x46]);
  new DataView(bytes.buffer).setUint32(4, 4 + body.length, true);
  bytes.set([0x57, 0x41, 0x56, 0x45], 8);
  bytes.set(body, 12);
  return bytes;
}

/** WAVE_FORMAT_EXTENSIBLE tail: cbSize 22, valid bits, channel mask, sub-format GUID. */
function extensible(subFormat: number, bits: number): number[] {
  return [
    22,
    0,
    bits,
    0,
    0,
    0,
    0,
    0,
    subFormat & 0xff,
    subFormat >> 8,
    0,
    0,
    0,
    0,
    0x10,
    0,
    0x80,
    0,
    0,
    0xaa,
    0,
    0x38,
    0x9b,
    0x71,
  ];
}

const wavInput = fc
  .record({
    sampleRate: fc.integer({ min: 1000, max: 192_000 }),
    channels: fc.integer({ min: 1, max: 3 }),
    bitsPerSample: fc.constantFrom(8 as const, 16 as const),
    frames: fc.integer({ min: 1, max: 40 }),
  })
  .chain(({ frames, ...format }) => {
    const length = frames * format.channels * (format.bitsPerSample / 8);
    return fc.uint8Array({ minLength: length, maxLength: length }).map((data) => ({ ...format, data }));
  });

describe('encodeWav / parseWav', () => {
  it('round-trip any 8- or 16-bit PCM format', () => {
    fc.assert(
      fc.property(wavInput, (input) => {
        const parsed = parseWav(encodeWav(input));
        const frameBytes = input.channels * (input.bitsPerSample / 8);
        return (
          parsed.sampleRate === input.sampleRate &&
          parsed.channels === input.channels &&
          parsed.bitsPerSample === input.bitsPerSample &&
          parsed.frameCount === input.data.length / frameBytes &&
          parsed.samples.join() === input.data.join() &&
          encodeWav(parsed).join() === encodeWav(input).join()
        );
      }),
    );
  });

  it.each([
    [4294967295, /sample rate of 4294967295 Hz, outside 1000\.\.768000 Hz/],
    [1, /sample rate of 1 Hz, outside 1000\.\.768000 Hz/],
    [0, /sample rate of 0 Hz/],
  ])('refuses a header declaring %d Hz', (rate, message) => {
    const file = riff(chunk('fmt ', formatBody({ rate })), chunk('data', Uint8Array.from([128, 0])));
    expect(() => parseWav(file)).toThrow(message);
  });

  it('refuses a clip of 0 samples', () => {
    const file = riff(chunk('fmt ', formatBody({})), chunk('data', new Uint8Array(0)));
    expect(() => parseWav(file)).toThrow('parseWav: the data chunk holds no samples (a 0-second clip)');
  });

  it('writes the canonical header', () => {
    const bytes = encodeWav({ sampleRate: 16000, channels: 1, bitsPerSample: 16, data: new Uint8Array(4) });
    expect(bytes.length).toBe(48);
    expect(String.fromCharCode(...bytes.subarray(36, 40))).toBe('data');
    expect(new DataView(bytes.buffer).getUint32(28, true)).toBe(32000);
  });

  it('skips unknown chunks and the pad byte after odd-sized chunks', () => {
    const file = riff(
      chunk('LIST', Uint8Array.from([1, 2, 3])),
      chunk('fmt ', formatBody({ bits: 8 })),
      chunk('fact', Uint8Array.from([3, 0, 0, 0])),
      chunk('data', Uint8Array.from([128, 0, 255])),
      chunk('id3 ', Uint8Array.from([9])),
    );
    const audio = parseWav(file);
    expect([...audio.samples]).toEqual([128, 0, 255]);
    expect(audio.durationSeconds).toBeCloseTo(3 / 8000);
  });

  it('accepts WAVE_FORMAT_EXTENSIBLE when its sub-format is PCM', () => {
    const file = riff(
      chunk('fmt ', formatBody({ code: 0xfffe, bits: 16, extra: extensible(1, 16) })),
      chunk('data', new Uint8Array(4)),
    );
    expect(parseWav(file).bitsPerSample).toBe(16);
  });

  it('names the problem with each malformed file', () => {
    const data = chunk('data', new Uint8Array(4));
    const cases: [Uint8Array, RegExp][] = [
      [Uint8Array.from([1, 2, 3]), /not a WAV file/],
      [riff(data), /no "fmt " chunk/],
      [riff(chunk('fmt ', formatBody({}))), /no "data" chunk/],
      [riff(chunk('fmt ', formatBody({ code: 3, bits: 32 })), data), /IEEE float \(format code 0x0003\)/],
      [riff(chunk('fmt ', formatBody({ code: 0x55 })), data), /MPEG Layer 3 \(format code 0x0055\)/],
      [riff(chunk('fmt ', formatBody({ code: 0x1234 })), data), /format code 0x1234/],
      [
        riff(chunk('fmt ', formatBody({ code: 0xfffe, bits: 32, extra: extensible(3, 32) })), data),
        /IEEE float/,
      ],
      [
        riff(chunk('fmt ', formatBody({ bits: 24, channels: 1 })), chunk('data', new Uint8Array(6))),
        /bit depth 24/,
      ],
      [riff(chunk('fmt ', formatBody({}).subarray(0, 14))), /"fmt " chunk is 14 bytes/],
      [
        riff(chunk('fmt ', formatBody({ bits: 16 })), chunk('data', new Uint8Array(3))),
        /not a whole number of 2-byte frames/,
      ],
      [
        riff(chunk('fmt ', formatBody({})), chunk('data', new Uint8Array(4), 100)),
        /truncated file: the data chunk declares 100 bytes but only 4 follow/,
      ],
    ];
    for (const [bytes, message] of cases) expect(() => parseWav(bytes)).toThrow(message);
  });

  it('either parses a cut-short file completely or says what is wrong', () => {
    fc.assert(
      fc.property(wavInput, fc.nat(), (input, cutSeed) => {
        const bytes = encodeWav(input);
        const cut = bytes.subarray(0, cutSeed % (bytes.length + 1));
        try {
          return parseWav(cut).samples.join() === input.data.join();
        } catch (error) {
          return error instanceof Error && error.message.startsWith('parseWav: ');
        }
      }),
    );
  });

  it('rejects inputs it cannot encode', () => {
    expect(() =>
      encodeWav({ sampleRate: 8000, channels: 2, bitsPerSample: 16, data: new Uint8Array(6) }),
    ).toThrow(/6 sample bytes is not a whole number of 4-byte frames/);
    expect(() =>
      encodeWav({ sampleRate: 8000, channels: 1, bitsPerSample: 24 as 16, data: new Uint8Array(3) }),
    ).toThrow(/bitsPerSample must be 8 or 16, got 24/);
  });
});

describe('mu-law', () => {
  it('decodes and re-encodes every byte to itself (0x7f and 0xff both mean zero)', () => {
    for (let byte = 0; byte < 256; byte++) {
      expect(muLawEncode(muLawDecode(byte))).toBe(byte === 0x7f ? 0xff : byte);
    }
    expect(muLawDecode(0xff)).toBe(0);
    expect(muLawEncode(-32768)).toBe(0x00);
    expect(muLawEncode(32767)).toBe(0x80);
  });

  it('keeps the quantisation error within (|x| + 132) / 32', () => {
    for (let sample = -32635; sample <= 32635; sample++) {
      const error = Math.abs(muLawDecode(muLawEncode(sample)) - sample);
      if (error > (Math.abs(sample) + 132) / 32) throw new Error(`sample ${sample}: error ${error}`);
    }
  });

  it('converts 16-bit little-endian PCM bytes to one byte per sample and back', () => {
    const pcm = new Uint8Array(6);
    const view = new DataView(pcm.buffer);
    [0, 1000, -20000].forEach((sample, index) => {
      view.setInt16(index * 2, sample, true);
    });
    const encoded = pcm16ToMuLaw(pcm);
    expect(encoded.length).toBe(3);
    const decoded = new DataView(muLawToPcm16(encoded).buffer);
    expect([0, 1, 2].map((index) => decoded.getInt16(index * 2, true))).toEqual([0, 988, -19836]);
    expect(() => pcm16ToMuLaw(new Uint8Array(3))).toThrow(/even byte length, got 3/);
  });
});

describe('audio for models', () => {
  it('mixes channels down and puts 8-bit samples on the 16-bit scale', () => {
    const pcm16 = new Uint8Array(8);
    const view = new DataView(pcm16.buffer);
    [1000, 3000, -400, -600].forEach((sample, index) => view.setInt16(index * 2, sample, true));
    const stereo = parseWav(encodeWav({ sampleRate: 8000, channels: 2, bitsPerSample: 16, data: pcm16 }));
    expect([...wavToMono(stereo)]).toEqual([2000, -500]);
    const eight = parseWav(
      encodeWav({ sampleRate: 8000, channels: 1, bitsPerSample: 8, data: Uint8Array.from([128, 0, 255]) }),
    );
    expect([...wavToMono(eight)]).toEqual([0, -32768, 32512]);
  });

  it('resamples by averaging the covered span', () => {
    const ramp = Float32Array.from({ length: 12 }, (_, index) => index);
    // 3:1 down: means of [0,1,2], [3,4,5], ...
    expect([...resampleAudio(ramp, 24000, 8000)]).toEqual([1, 4, 7, 10]);
    // 22050 -> 8000 keeps the duration and a constant signal constant.
    const flat = new Float32Array(22050).fill(500);
    const down = resampleAudio(flat, 22050, 8000);
    expect(down.length).toBe(8000);
    expect(down.every((value) => Math.abs(value - 500) < 1e-3)).toBe(true);
    expect([...resampleAudio(Float32Array.of(1, 2), 8000, 16000)]).toEqual([1, 1, 2, 2]);
    expect(() => resampleAudio(ramp, 0, 8000)).toThrow(/fromRate must be a positive integer/);
  });

  it('turns a 22.05 kHz clip into 8 kHz mu-law bytes and back into a WAV that parses', () => {
    const rate = 22050;
    const pcm16 = new Uint8Array(rate * 2);
    const view = new DataView(pcm16.buffer);
    for (let index = 0; index < rate; index++)
      view.setInt16(index * 2, Math.round(8000 * Math.sin((2 * Math.PI * 440 * index) / rate)), true);
    const bytes = wavToMuLawBytes(
      parseWav(encodeWav({ sampleRate: rate, channels: 1, bitsPerSample: 16, data: pcm16 })),
      8000,
    );
    expect(bytes.length).toBe(8000);
    const back = parseWav(muLawBytesToWav(bytes, 8000));
    expect(back).toMatchObject({ sampleRate: 8000, channels: 1, bitsPerSample: 16, frameCount: 8000 });
    // The 440 Hz tone survives: its peak is near 8000 (box filtering lowers it a little).
    const peak = Math.max(...wavToMono(back));
    expect(peak).toBeGreaterThan(6500);
    expect(peak).toBeLessThan(8500);
  });
});
