import { describe, expect, it } from 'vitest';
import { CheckpointError } from './errors.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsDtype,
  type SafetensorsTensor,
} from './safetensors.js';

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** A safetensors file from a header text and data bytes, the header length written by hand. */
function makeFile(header: string, data: ArrayLike<number> = []): Uint8Array {
  const headerBytes = new TextEncoder().encode(header);
  const file = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(file.buffer).setUint32(0, headerBytes.length, true);
  file.set(headerBytes, 8);
  file.set(data, 8 + headerBytes.length);
  return file;
}

function decodeError(bytes: Uint8Array): CheckpointError {
  try {
    decodeSafetensors(bytes, 'test.safetensors');
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected decodeSafetensors to throw');
}

function bytesOf(data: SafetensorsTensor['data']): number[] {
  return [...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

const F32_ONE_TWO = [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40];

describe('encodeSafetensors', () => {
  it('writes the exact bytes of a one-tensor file', () => {
    const bytes = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    // 54 bytes of JSON padded with 2 spaces to 56 = 0x38, so the data starts at byte 64.
    const expected = [
      ...[0x38, 0, 0, 0, 0, 0, 0, 0],
      ...ascii('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  '),
      ...F32_ONE_TWO,
    ];
    expect([...bytes]).toEqual(expected);
  });

  it('writes metadata first and pads to 8 bytes', () => {
    const bytes = encodeSafetensors(
      { b: { dtype: 'I32', shape: [], data: new Int32Array([-2]) } },
      { z: '1', format: 'pt' },
    );
    const header =
      '{"__metadata__":{"format":"pt","z":"1"},"b":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}';
    expect(header.length).toBe(92);
    const expected = [...[96, 0, 0, 0, 0, 0, 0, 0], ...ascii(`${header}    `), ...[0xfe, 0xff, 0xff, 0xff]];
    expect([...bytes]).toEqual(expected);
  });

  it('is deterministic: sorted by element size then name, whatever the input order', () => {
    const t = (n: number): SafetensorsTensor => ({
      dtype: 'F16',
      shape: [n],
      data: new Uint16Array(n).fill(n),
    });
    const wide: SafetensorsTensor = { dtype: 'F64', shape: [1], data: new Float64Array([0.5]) };
    const one = encodeSafetensors(
      new Map([
        ['y', t(3)],
        ['10', t(1)],
        ['x', t(2)],
        ['w', wide],
        ['2', t(1)],
      ]),
    );
    const two = encodeSafetensors({ w: wide, x: t(2), 2: t(1), y: t(3), 10: t(1) });
    expect(one).toEqual(two);
    expect([...decodeSafetensors(one).tensors.keys()]).toEqual(['w', '10', '2', 'x', 'y']);
    const headerLength = new DataView(one.buffer).getUint32(0, true);
    const headerText = new TextDecoder().decode(one.subarray(8, 8 + headerLength));
    expect(headerText.indexOf('"w"')).toBeLessThan(headerText.indexOf('"10"'));
  });

  it('matches the reference implementation byte for byte', () => {
    // huggingface/safetensors 0.8.0, safetensors.numpy.save of the tensors below.
    const reference = Uint8Array.from(
      (
        '18010000000000007b2277223a7b226474797065223a22463634222c227368617065223a5b315d2c22646174615f6f66' +
        '6673657473223a5b302c385d7d2c223130223a7b226474797065223a22463136222c227368617065223a5b315d2c2264' +
        '6174615f6f666673657473223a5b382c31305d7d2c2232223a7b226474797065223a22463136222c227368617065223a' +
        '5b315d2c22646174615f6f666673657473223a5b31302c31325d7d2c2278223a7b226474797065223a22463136222c22' +
        '7368617065223a5b325d2c22646174615f6f666673657473223a5b31322c31365d7d2c2279223a7b226474797065223a' +
        '22463136222c227368617065223a5b335d2c22646174615f6f666673657473223a5b31362c32325d7d7d202020202020' +
        '000000000000e03f003c003c00400040004200420042'
      ).match(/../g)!,
      (byte) => Number.parseInt(byte, 16),
    );
    const half = (n: number, value: number): SafetensorsTensor => ({
      dtype: 'F16',
      shape: [n],
      data: new Uint16Array(n).fill(value),
    });
    const tensors = {
      y: half(3, 0x4200),
      10: half(1, 0x3c00),
      x: half(2, 0x4000),
      w: { dtype: 'F64', shape: [1], data: new Float64Array([0.5]) },
      2: half(1, 0x3c00),
    } satisfies Record<string, SafetensorsTensor>;
    expect(encodeSafetensors(tensors)).toEqual(reference);
    expect(decodeSafetensors(reference).tensors.get('y')).toEqual(tensors.y);
  });

  it('reports every invalid tensor at once', () => {
    const bad = {
      __metadata__: { dtype: 'F32', shape: [], data: new Float32Array(1) },
      wrongArray: { dtype: 'F32', shape: [1], data: new Int32Array(1) },
      wrongLength: { dtype: 'F16', shape: [2, 3], data: new Uint16Array(5) },
      badShape: { dtype: 'I32', shape: [-1], data: new Int32Array(0) },
      badDtype: { dtype: 'Q7', shape: [1], data: new Float32Array(1) },
    } as unknown as Record<string, SafetensorsTensor>;
    let error: CheckpointError | undefined;
    try {
      encodeSafetensors(bad, { ok: 'yes', bad: 3 as unknown as string, big: 5n as unknown as string });
    } catch (caught) {
      error = caught as CheckpointError;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error?.problems).toEqual([
      'tensor "__metadata__": the name is reserved for the header\'s metadata',
      'tensor "wrongArray": F32 data must be a Float32Array, got Int32Array',
      'tensor "wrongLength": shape [2,3] has 6 elements but data has 5',
      'tensor "badShape": shape must be an array of non-negative integers, got [-1]',
      expect.stringContaining('tensor "badDtype": unknown dtype "Q7" (known: F64, F32, F16'),
      'metadata "bad" must be a string, got 3',
      'metadata "big" must be a string, got 5',
    ]);
    expect(error?.message).toMatch(/^cannot encode safetensors: 7 problems:\n {2}- tensor "__metadata__"/);
  });
});

describe('decodeSafetensors', () => {
  it('reads a hand-made file', () => {
    const file = makeFile(
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
      F32_ONE_TWO,
    );
    const { tensors, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({ format: 'pt' });
    const a = tensors.get('a');
    expect(a?.dtype).toBe('F32');
    expect(a?.shape).toEqual([2]);
    expect([...(a!.data as Float32Array)]).toEqual([1, 2]);
  });

  it('copies data that is not aligned for its type, and views data that is', () => {
    // An unpadded header, as some writers leave it, puts the float data at an unaligned offset.
    const file = makeFile(
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[],"data_offsets":[8,9]}}',
      [...F32_ONE_TWO, 7],
    );
    expect((8 + file[0]!) % 4).not.toBe(0);
    const misaligned = new Uint8Array(file.length + 1);
    misaligned.set(file, 1);
    for (const bytes of [file, misaligned.subarray(1)]) {
      const { tensors } = decodeSafetensors(bytes);
      expect([...(tensors.get('a')!.data as Float32Array)]).toEqual([1, 2]);
      expect([...(tensors.get('b')!.data as Uint8Array)]).toEqual([7]);
    }

    const aligned = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    expect(decodeSafetensors(aligned).tensors.get('a')?.data.buffer).toBe(aligned.buffer);
  });

  it('round-trips random tensors of every dtype bit-exactly, scalars and empty tensors included', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const dtypes: SafetensorsDtype[] = [
      'F64',
      'F32',
      'F16',
      'BF16',
      'I64',
      'I32',
      'I16',
      'I8',
      'U64',
      'U32',
      'U16',
      'U8',
      'BOOL',
      'F8_E4M3',
      'F8_E5M2',
    ];
    const arrays = {
      F64: Float64Array,
      F32: Float32Array,
      F16: Uint16Array,
      BF16: Uint16Array,
      I64: BigInt64Array,
      I32: Int32Array,
      I16: Int16Array,
      I8: Int8Array,
      U64: BigUint64Array,
      U32: Uint32Array,
      U16: Uint16Array,
      U8: Uint8Array,
      BOOL: Uint8Array,
      F8_E4M3: Uint8Array,
      F8_E5M2: Uint8Array,
    } as const;
    for (let round = 0; round < 20; round++) {
      const tensors: Record<string, SafetensorsTensor> = {};
      for (let i = 0; i < 12; i++) {
        const dtype = dtypes[random(dtypes.length)]!;
        const shape = Array.from({ length: random(4) }, () => random(5));
        const size = shape.reduce((n, d) => n * d, 1);
        const data = new arrays[dtype](size);
        // Random bits, NaNs and all: the format stores bytes, not values.
        const raw = new Uint8Array(data.buffer);
        for (let b = 0; b < raw.length; b++) raw[b] = random(256);
        tensors[`t${i}.${'é'.repeat(random(3))}`] = { dtype, shape, data } as SafetensorsTensor;
      }
      const metadata = { round: String(round) };
      const bytes = encodeSafetensors(tensors, metadata);
      const decoded = decodeSafetensors(bytes);
      expect(decoded.metadata).toEqual(metadata);
      expect(new Set(decoded.tensors.keys())).toEqual(new Set(Object.keys(tensors)));
      for (const [name, tensor] of Object.entries(tensors)) {
        const got = decoded.tensors.get(name)!;
        expect(got.dtype).toBe(tensor.dtype);
        expect(got.shape).toEqual(tensor.shape);
        expect(got.data.constructor).toBe(tensor.data.constructor);
        expect(bytesOf(got.data)).toEqual(bytesOf(tensor.data));
      }
      expect(encodeSafetensors(decoded.tensors, decoded.metadata)).toEqual(bytes);
    }
  });

  it('round-trips a file with no tensors', () => {
    const bytes = encodeSafetensors({});
    expect([...bytes]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...ascii('{}      ')]);
    expect(decodeSafetensors(bytes)).toEqual({ tensors: new Map(), metadata: {} });
  });
});

describe('decodeSafetensors on bad input', () => {
  const valid = encodeSafetensors({
    a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
    b: { dtype: 'F32', shape: [1], data: new Float32Array([3]) },
  });

  it('rejects a file shorter than the length field', () => {
    expect(decodeError(new Uint8Array(5)).message).toBe(
      'cannot read test.safetensors as safetensors: file is 5 bytes, shorter than the 8-byte header length ' +
        'that starts every safetensors file',
    );
  });

  it('rejects a header length beyond the file', () => {
    const file = new Uint8Array(20);
    file[0] = 0xe8;
    file[1] = 0x03;
    const error = decodeError(file);
    expect(error.problems).toEqual([
      'truncated: header says 1000 bytes but file has 12 after the 8-byte length',
    ]);
    expect(error.hint).toMatch(/cut short/);
    expect(decodeError(new Uint8Array(16).fill(0xff)).problems[0]).toBe(
      'truncated: header says 18446744073709551615 bytes but file has 8 after the 8-byte length',
    );
    expect(decodeError(valid.subarray(0, 40)).problems[0]).toMatch(
      /^truncated: header says \d+ bytes but file has 32/,
    );
  });

  it('rejects a header that is not UTF-8, not JSON, or not an object', () => {
    const notUtf8 = makeFile('{"a":1}');
    notUtf8[10] = 0xff;
    expect(decodeError(notUtf8).problems).toEqual(['header is not valid UTF-8']);
    expect(decodeError(makeFile('{"a": ')).problems[0]).toMatch(/^header is not valid JSON: /);
    expect(decodeError(makeFile('')).problems[0]).toMatch(/^header is not valid JSON: /);
    expect(decodeError(makeFile('[1,2]')).problems).toEqual(['header must be a JSON object, got [1,2]']);
  });

  it('names entries with missing fields, unknown dtypes and bad offsets', () => {
    const error = decodeError(
      makeFile(
        JSON.stringify({
          a: { dtype: 'F32', data_offsets: [0, 4] },
          b: { shape: [1] },
          c: { dtype: 'F99', shape: [1], data_offsets: [4, 8] },
          d: { dtype: 'F32', shape: [1.5], data_offsets: [8, 12] },
          e: { dtype: 'F32', shape: [1], data_offsets: [16, 12] },
          f: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] },
          g: { dtype: 'F32', shape: [1], data_offsets: 'x' },
          h: 5,
        }),
        new Uint8Array(12),
      ),
    );
    expect(error.problems).toEqual([
      'tensor "a": entry is missing "shape"',
      'tensor "b": entry is missing "dtype", "data_offsets"',
      'tensor "c": unknown dtype "F99" (known: F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2)',
      'tensor "d": shape must be an array of non-negative integers, got [1.5]',
      'tensor "e": data_offsets must be [begin, end] with 0 <= begin <= end, got [16,12]',
      'tensor "f": data_offsets must be [begin, end] with 0 <= begin <= end, got [-4,0]',
      'tensor "g": data_offsets must be [begin, end] with 0 <= begin <= end, got "x"',
      'tensor "h": entry must be an object with dtype, shape and data_offsets, got 5',
    ]);
    expect(error.message).toMatch(/^cannot read test.safetensors as safetensors: 8 problems:\n/);
  });

  it('says how many bytes a shape needs when the offsets disagree', () => {
    const error = decodeError(
      makeFile('{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}', new Uint8Array(8)),
    );
    expect(error.problems).toEqual(['tensor "a": shape [2,2] F32 needs 16 bytes, offsets give 8']);
  });

  it('rejects overlapping tensors, gaps and trailing bytes', () => {
    const entry = (begin: number, end: number) => ({
      dtype: 'U8',
      shape: [end - begin],
      data_offsets: [begin, end],
    });
    expect(
      decodeError(makeFile(JSON.stringify({ a: entry(0, 8), b: entry(4, 12) }), new Uint8Array(12))).problems,
    ).toEqual(['tensors "a" [0, 8) and "b" [4, 12) overlap']);
    expect(
      decodeError(makeFile(JSON.stringify({ a: entry(0, 4), b: entry(8, 12) }), new Uint8Array(12))).problems,
    ).toEqual(['bytes [4, 8) of the data belong to no tensor (a gap before "b" [8, 12))']);
    expect(decodeError(makeFile(JSON.stringify({ a: entry(0, 4) }), new Uint8Array(6))).problems).toEqual([
      "file has 2 bytes after the last tensor's data (tensors end at byte 4 of 6 after the header)",
    ]);
  });

  it('rejects data cut short', () => {
    const error = decodeError(valid.subarray(0, valid.length - 3));
    expect(error.problems).toEqual([
      'data truncated: tensors need 12 bytes after the header but the file has 9 (1 tensor(s) reach past the end: "b")',
    ]);
  });

  it('rejects metadata that is not all strings', () => {
    const error = decodeError(makeFile('{"__metadata__":{"a":"x","n":1}}'));
    expect(error.problems).toEqual(['__metadata__.n must be a string, got 1']);
    expect(decodeError(makeFile('{"__metadata__":[]}')).problems).toEqual([
      '__metadata__ must be an object of strings, got []',
    ]);
  });
});
