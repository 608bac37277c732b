/** Sample layout of PCM audio. */
export interface WavFormat {
  sampleRate: number;
  channels: number;
  /** 8 (unsigned bytes, silence = 128) or 16 (signed little-endian). */
  bitsPerSample: 8 | 16;
}

export interface WavAudio extends WavFormat {
  /**
   * The data chunk exactly as stored: 8-bit raw unsigned samples, 16-bit little-endian byte pairs;
   * channels interleaved frame by frame. A copy, not a view into the input.
   */
  samples: Uint8Array;
  /** Samples per channel. */
  frameCount: number;
  durationSeconds: number;
}

/** encodeWav's input: a format plus the sample bytes, as `data` or as parseWav's `samples`. */
export type WavInput = WavFormat & ({ data: Uint8Array } | { samples: Uint8Array });

const FORMAT_PCM = 0x0001;
const FORMAT_EXTENSIBLE = 0xfffe;
const FORMAT_NAMES: Readonly<Record<number, string>> = {
  2: 'Microsoft ADPCM',
  3: 'IEEE float',
  6: 'A-law',
  7: 'mu-law',
  17: 'IMA ADPCM',
  49: 'GSM 6.10',
  80: 'MPEG',
  85: 'MPEG Layer 3',
};
const CHUNK_HEADER_BYTES = 8;
/** Sample rates a WAV file may declare: telephone-band recordings to the fastest studio rates. */
export const WAV_MIN_SAMPLE_RATE = 1000;
export const WAV_MAX_SAMPLE_RATE = 768_000;
const CANONICAL_HEADER_BYTES = 44;

function formatName(code: number): string {
  const hex = `0x${code.toString(16).padStart(4, '0')}`;
  const name = FORMAT_NAMES[code];
  return name === undefined ? `format code ${hex}` : `${name} (format code ${hex})`;
}

function fourCC(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + 4));
}

interface Chunk {
  id: string;
  offset: number;
  declaredSize: number;
}

/**
 * Parses a RIFF/WAVE file holding 8- or 16-bit PCM. Chunks are walked in order (word-aligned, so
 * odd-sized chunks skip their pad byte), unknown chunks such as LIST or fact are ignored, and
 * WAVE_FORMAT_EXTENSIBLE is accepted when its sub-format is PCM.
 */
export function parseWav(bytes: Uint8Array): WavAudio {
  if (bytes.length < 12 || fourCC(bytes, 0) !== 'RIFF' || fourCC(bytes, 8) !== 'WAVE') {
    throw new Error('parseWav: not a WAV file (expected "RIFF" at byte 0 and "WAVE" at byte 8)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let formatChunk: Chunk | undefined;
  let dataChunk: Chunk | undefined;
  let offset = 12;
  while (offset + CHUNK_HEADER_BYTES <= bytes.length) {
    const chunk = {
      id: fourCC(bytes, offset),
      offset: offset + CHUNK_HEADER_BYTES,
      declaredSize: view.getUint32(offset + 4, true),
    };
    if (chunk.id === 'fmt ' && formatChunk === undefined) formatChunk = chunk;
    if (chunk.id === 'data' && dataChunk === undefined) dataChunk = chunk;
    offset = chunk.offset + chunk.declaredSize + (chunk.declaredSize % 2);
  }
  if (formatChunk === undefined) {
    throw new Error('parseWav: the file has no "fmt " chunk, so its sample format is unknown');
  }
  const format = parseFormatChunk(view, formatChunk, bytes.length);
  if (dataChunk === undefined) throw new Error('parseWav: the file has no "data" chunk');
  const available = bytes.length - dataChunk.offset;
  if (dataChunk.declaredSize > available) {
    throw new Error(
      `parseWav: truncated file: the data chunk declares ${dataChunk.declaredSize} bytes but only ${available} follow`,
    );
  }
  const frameBytes = format.channels * (format.bitsPerSample / 8);
  if (dataChunk.declaredSize % frameBytes !== 0) {
    throw new Error(
      `parseWav: truncated data: ${dataChunk.declaredSize} bytes is not a whole number of ${frameBytes}-byte frames (${format.channels} channel(s) x ${format.bitsPerSample} bits)`,
    );
  }
  const frameCount = dataChunk.declaredSize / frameBytes;
  if (frameCount === 0) throw new Error('parseWav: the data chunk holds no samples (a 0-second clip)');
  return {
    ...format,
    samples: bytes.slice(dataChunk.offset, dataChunk.offset + dataChunk.declaredSize),
    frameCount,
    durationSeconds: frameCount / format.sampleRate,
  };
}

function parseFormatChunk(view: DataView, chunk: Chunk, fileLength: number): WavFormat {
  if (chunk.declaredSize < 16) {
    throw new Error(`parseWav: the "fmt " chunk is ${chunk.declaredSize} bytes; PCM needs at least 16`);
  }
  if (chunk.offset + 16 > fileLength) {
    throw new Error('parseWav: truncated file: the "fmt " chunk is cut short');
  }
  let formatCode = view.getUint16(chunk.offset, true);
  const channels = view.getUint16(chunk.offset + 2, true);
  const sampleRate = view.getUint32(chunk.offset + 4, true);
  const blockAlign = view.getUint16(chunk.offset + 12, true);
  const bitsPerSample = view.getUint16(chunk.offset + 14, true);
  if (formatCode === FORMAT_EXTENSIBLE) {
    // The real format is the first two bytes of the sub-format GUID, 24 bytes into the extension.
    if (chunk.declaredSize < 40 || chunk.offset + 26 > fileLength) {
      throw new Error('parseWav: WAVE_FORMAT_EXTENSIBLE "fmt " chunk is too short to hold its sub-format');
    }
    formatCode = view.getUint16(chunk.offset + 24, true);
  }
  if (formatCode !== FORMAT_PCM) {
    throw new Error(
      `parseWav: unsupported encoding ${formatName(formatCode)}; only integer PCM (format code 0x0001) is supported`,
    );
  }
  if (bitsPerSample !== 8 && bitsPerSample !== 16) {
    throw new Error(`parseWav: unsupported bit depth ${bitsPerSample}; only 8- and 16-bit PCM are supported`);
  }
  if (channels < 1) throw new Error('parseWav: the "fmt " chunk declares 0 channels');
  if (sampleRate < WAV_MIN_SAMPLE_RATE || sampleRate > WAV_MAX_SAMPLE_RATE) {
    // A lying rate turns a clip into nothing (resampled from 4 GHz) or into gigabytes (from 1 Hz).
    throw new Error(
      `parseWav: the "fmt " chunk declares a sample rate of ${sampleRate} Hz, outside ${WAV_MIN_SAMPLE_RATE}..${WAV_MAX_SAMPLE_RATE} Hz: the header is corrupt or the file is not audio`,
    );
  }
  const expectedBlockAlign = channels * (bitsPerSample / 8);
  if (blockAlign !== expectedBlockAlign) {
    throw new Error(
      `parseWav: block align is ${blockAlign} but ${channels} channel(s) of ${bitsPerSample}-bit samples need ${expectedBlockAlign}`,
    );
  }
  return { sampleRate, channels, bitsPerSample };
}

/** Writes a canonical 44-byte-header PCM WAV file. */
export function encodeWav(input: WavInput): Uint8Array {
  const samples = 'data' in input ? input.data : input.samples;
  const { sampleRate, channels, bitsPerSample } = input;
  if (bitsPerSample !== 8 && bitsPerSample !== 16) {
    throw new Error(`encodeWav: bitsPerSample must be 8 or 16, got ${bitsPerSample}`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 0xffff) {
    throw new RangeError(`encodeWav: channels must be an integer in 1..65535, got ${channels}`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff) {
    throw new RangeError(`encodeWav: sampleRate must be a positive 32-bit integer, got ${sampleRate}`);
  }
  const frameBytes = channels * (bitsPerSample / 8);
  if (samples.length % frameBytes !== 0) {
    throw new RangeError(
      `encodeWav: ${samples.length} sample bytes is not a whole number of ${frameBytes}-byte frames (${channels} channel(s) x ${bitsPerSample} bits)`,
    );
  }
  const padding = samples.length % 2;
  const bytes = new Uint8Array(CANONICAL_HEADER_BYTES + samples.length + padding);
  const view = new DataView(bytes.buffer);
  const writeFourCC = (offset: number, id: string) => {
    for (let index = 0; index < 4; index++) bytes[offset + index] = id.charCodeAt(index);
  };
  writeFourCC(0, 'RIFF');
  view.setUint32(4, bytes.length - CHUNK_HEADER_BYTES, true);
  writeFourCC(8, 'WAVE');
  writeFourCC(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, FORMAT_PCM, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * frameBytes, true);
  view.setUint16(32, frameBytes, true);
  view.setUint16(34, bitsPerSample, true);
  writeFourCC(36, 'data');
  view.setUint32(40, samples.length, true);
  bytes.set(samples, CANONICAL_HEADER_BYTES);
  return bytes;
}

/*
 * 16-bit audio reaches the model as G.711 mu-law: one byte per sample with logarithmic steps
 * (fine near silence, coarse when loud), so every byte value is used and the sequence is half as
 * long as the raw little-endian pairs. Lossy: the error is at most (|x| + 132) / 32.
 */
const MU_LAW_BIAS = 0x84;
const MU_LAW_CLIP = 32635;

/** One signed 16-bit sample to a mu-law byte. */
export function muLawEncode(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  const magnitude = Math.min(Math.abs(Math.trunc(sample)), MU_LAW_CLIP) + MU_LAW_BIAS;
  // Segment = position of the highest set bit above bit 7 of the biased magnitude.
  const exponent = Math.max(0, 31 - Math.clz32(magnitude) - 7);
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** One mu-law byte to a signed 16-bit sample (the middle of the byte's quantisation step). */
export function muLawDecode(byte: number): number {
  const inverted = ~byte & 0xff;
  const exponent = (inverted >> 4) & 0x07;
  const mantissa = inverted & 0x0f;
  const magnitude = (((mantissa << 3) + MU_LAW_BIAS) << exponent) - MU_LAW_BIAS;
  return inverted & 0x80 ? -magnitude : magnitude;
}

/** 16-bit little-endian PCM bytes (as in WavAudio.samples) to one mu-law byte per sample. */
export function pcm16ToMuLaw(pcm16: Uint8Array): Uint8Array {
  if (pcm16.length % 2 !== 0) {
    throw new RangeError(`pcm16ToMuLaw: 16-bit PCM has an even byte length, got ${pcm16.length}`);
  }
  const view = new DataView(pcm16.buffer, pcm16.byteOffset, pcm16.byteLength);
  const encoded = new Uint8Array(pcm16.length / 2);
  for (let index = 0; index < encoded.length; index++) {
    encoded[index] = muLawEncode(view.getInt16(index * 2, true));
  }
  return encoded;
}

/** Mu-law bytes back to 16-bit little-endian PCM bytes, ready for encodeWav. */
export function muLawToPcm16(muLaw: Uint8Array): Uint8Array {
  const pcm16 = new Uint8Array(muLaw.length * 2);
  const view = new DataView(pcm16.buffer);
  for (let index = 0; index < muLaw.length; index++) {
    view.setInt16(index * 2, muLawDecode(muLaw[index]!), true);
  }
  return pcm16;
}

/**
 * The audio as one channel of samples on the 16-bit scale (-32768..32767): channels are averaged,
 * 8-bit samples are centred on 128 and scaled by 256.
 */
export function wavToMono(audio: WavAudio): Float32Array {
  const { channels, frameCount, bitsPerSample, samples } = audio;
  const view = new DataView(samples.buffer, samples.byteOffset, samples.byteLength);
  const mono = new Float32Array(frameCount);
  for (let frame = 0; frame < frameCount; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++) {
      const index = frame * channels + channel;
      sum += bitsPerSample === 16 ? view.getInt16(index * 2, true) : (samples[index]! - 128) * 256;
    }
    mono[frame] = sum / channels;
  }
  return mono;
}

/**
 * Resamples by averaging the input samples each output sample's time span covers, weighted by
 * overlap: a box low-pass that keeps aliasing down when reducing the rate (22.05 kHz speech to
 * 8 kHz) and holds samples when raising it.
 */
export function resampleAudio(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  for (const [name, rate] of [
    ['fromRate', fromRate],
    ['toRate', toRate],
  ] as const) {
    if (!Number.isInteger(rate) || rate < 1) {
      throw new RangeError(`resampleAudio: ${name} must be a positive integer (Hz), got ${rate}`);
    }
  }
  if (fromRate === toRate) return samples.slice();
  const scale = fromRate / toRate;
  const output = new Float32Array(Math.floor(samples.length / scale));
  for (let target = 0; target < output.length; target++) {
    const begin = target * scale;
    const end = begin + scale;
    let sum = 0;
    for (let source = Math.floor(begin); source < Math.min(samples.length, Math.ceil(end)); source++) {
      sum += (Math.min(end, source + 1) - Math.max(begin, source)) * samples[source]!;
    }
    output[target] = sum / scale;
  }
  return output;
}

/**
 * Any 8- or 16-bit PCM WAV as the bytes an audio model reads: mono, `sampleRate` Hz, one mu-law
 * byte per sample.
 */
export function wavToMuLawBytes(audio: WavAudio, sampleRate: number): Uint8Array {
  const samples = resampleAudio(wavToMono(audio), audio.sampleRate, sampleRate);
  return Uint8Array.from(samples, (sample) => muLawEncode(Math.round(sample)));
}

/** Mu-law model bytes back to a mono 16-bit PCM WAV file at `sampleRate` Hz. */
export function muLawBytesToWav(bytes: Uint8Array, sampleRate: number): Uint8Array {
  return encodeWav({ sampleRate, channels: 1, bitsPerSample: 16, data: muLawToPcm16(bytes) });
}
