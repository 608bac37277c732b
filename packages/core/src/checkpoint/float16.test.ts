import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16 } from './float16.js';

const ALL_HALVES = Uint16Array.from({ length: 65536 }, (_, i) => i);

function isHalfNaN(h: number): boolean {
  return (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
}

/** The value of a half from the definition of binary16, independent of the bit tricks. */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : Number.NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function toHalf(value: number): number {
  return float32ToFloat16(new Float32Array([value]))[0]!;
}

function fromBits(bits: number): Float32Array {
  return new Float32Array(new Uint32Array([bits]).buffer);
}

/** Nearest half by search over all finite positive halves, ties to the even bit pattern. */
function referenceHalf(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = 0x7bff;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (halfValue(mid) <= magnitude) lo = mid;
    else hi = mid;
  }
  const below = magnitude - halfValue(lo);
  const above = halfValue(hi) - magnitude;
  if (below === 0) return sign | lo;
  const nearest = below < above ? lo : above < below ? hi : lo % 2 === 0 ? lo : hi;
  return sign | nearest;
}

describe('float16ToFloat32', () => {
  it('gives every half its exact value', () => {
    const widened = float16ToFloat32(ALL_HALVES);
    for (let h = 0; h < 65536; h++) {
      const expected = halfValue(h);
      if (Number.isNaN(expected)) expect(Number.isNaN(widened[h])).toBe(true);
      else if (!Object.is(widened[h], expected)) expect([h, widened[h]]).toEqual([h, expected]);
    }
  });
});

describe('float32ToFloat16', () => {
  it('round-trips all 65536 halves bit-exactly, NaN payloads included', () => {
    const back = float32ToFloat16(float16ToFloat32(ALL_HALVES));
    let mismatches = 0;
    for (let h = 0; h < 65536; h++) if (back[h] !== h) mismatches++;
    expect(mismatches).toBe(0);
    expect(ALL_HALVES.filter(isHalfNaN).every((h) => isHalfNaN(back[h]!))).toBe(true);
  });

  it('rounds halfway cases to even', () => {
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00);
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalf(1 + 2 ** -11 + 2 ** -23)).toBe(0x3c01);
    expect(toHalf(-(1 + 2 ** -11))).toBe(0xbc00);
    expect(toHalf(2048 + 1)).toBe(0x6800);
    expect(toHalf(2048 + 3)).toBe(0x6802);
  });

  it('rounds into, within and out of the subnormal range', () => {
    expect(toHalf(2 ** -24)).toBe(0x0001);
    expect(toHalf(2 ** -25)).toBe(0x0000);
    expect(toHalf(-(2 ** -25))).toBe(0x8000);
    expect(toHalf(2 ** -25 * (1 + 2 ** -23))).toBe(0x0001);
    expect(toHalf(3 * 2 ** -25)).toBe(0x0002);
    expect(toHalf(5 * 2 ** -25)).toBe(0x0002);
    expect(toHalf(1023.5 * 2 ** -24)).toBe(0x0400);
    expect(toHalf(2 ** -14)).toBe(0x0400);
    expect(toHalf(2 ** -30)).toBe(0x0000);
    expect(toHalf(1e-45)).toBe(0x0000);
  });

  it('overflows to infinity from 65520 up', () => {
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65519.99)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00);
    expect(toHalf(-65520)).toBe(0xfc00);
    expect(toHalf(1e10)).toBe(0x7c00);
    expect(toHalf(Infinity)).toBe(0x7c00);
    expect(toHalf(-Infinity)).toBe(0xfc00);
  });

  it('keeps signed zeros and common constants', () => {
    expect(toHalf(0)).toBe(0x0000);
    expect(toHalf(-0)).toBe(0x8000);
    expect(toHalf(0.1)).toBe(0x2e66);
    expect(toHalf(1 / 3)).toBe(0x3555);
    expect(toHalf(-2)).toBe(0xc000);
  });

  it('keeps NaN a NaN, even one whose payload lies only in the low bits', () => {
    expect(float32ToFloat16(fromBits(0x7fc00000))[0]).toBe(0x7e00);
    expect(float32ToFloat16(fromBits(0xffc00000))[0]).toBe(0xfe00);
    expect(isHalfNaN(float32ToFloat16(fromBits(0x7f800001))[0]!)).toBe(true);
    expect(isHalfNaN(float32ToFloat16(fromBits(0x7fffe000))[0]!)).toBe(true);
  });

  it('matches a nearest-value search on random float32 bit patterns', () => {
    let seed = 12345;
    const bits = new Uint32Array(50_000);
    for (let i = 0; i < bits.length; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      // Concentrate on exponents a half can represent or just miss.
      const exponent = 97 + (seed % 48);
      bits[i] = ((seed & 0x80000000) | (exponent << 23) | (Math.imul(seed, 2654435761) >>> 9)) >>> 0;
    }
    const values = new Float32Array(bits.buffer);
    const halves = float32ToFloat16(values);
    const wrong: number[] = [];
    values.forEach((value, i) => {
      if (halves[i] !== referenceHalf(value)) wrong.push(value);
    });
    expect(wrong).toEqual([]);
  });

  it('reads a Float32Array that is a view at an offset', () => {
    const whole = new Float32Array([7, 1, 2, 3]);
    expect([...float32ToFloat16(whole.subarray(1))]).toEqual([0x3c00, 0x4000, 0x4200]);
  });
});
