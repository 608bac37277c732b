/**
 * Conversion between float32 and IEEE 754 binary16 ("half"), done on raw bits so that NaN payloads
 * and signed zeros survive: reading a float into a JS number may canonicalise NaNs.
 */

/** float32 bits of 65520, halfway between the largest half (65504) and 65536: from here up, infinity. */
const HALF_OVERFLOW = 0x477ff000;
/** float32 bits of 2^-14, the smallest normal half. */
const HALF_MIN_NORMAL = 0x38800000;
/** float32 bits of 2^-25: half the smallest subnormal half; it and anything smaller round to zero. */
const HALF_UNDERFLOW = 0x33000000;
/** Rebias the exponent from 127 to 15, shifted to where it sits in a float32. */
const EXPONENT_REBIAS = (127 - 15) << 23;

function halfBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) {
    if (magnitude === 0x7f800000) return sign | 0x7c00;
    // Keep the top payload bits; a payload living only in the low 13 bits would become infinity.
    const payload = (magnitude >>> 13) & 0x3ff;
    return sign | 0x7c00 | (payload === 0 ? 0x200 : payload);
  }
  if (magnitude >= HALF_OVERFLOW) return sign | 0x7c00;
  if (magnitude >= HALF_MIN_NORMAL) {
    // Adding 0xfff plus the kept lowest bit rounds half to even; a carry out of the mantissa
    // correctly bumps the exponent.
    const roundBias = 0xfff + ((magnitude >>> 13) & 1);
    return sign | ((magnitude - EXPONENT_REBIAS + roundBias) >>> 13);
  }
  if (magnitude <= HALF_UNDERFLOW) return sign;
  // Subnormal half: value = m * 2^-24, and the float32 is significand * 2^(exponent - 150).
  const exponent = magnitude >>> 23;
  const significand = (magnitude & 0x7fffff) | 0x800000;
  const shift = 126 - exponent;
  const kept = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  const roundUp = rest > half || (rest === half && (kept & 1) === 1);
  // Rounding 1023 up gives 1024, which is exactly the bit pattern of the smallest normal half.
  return sign | (kept + (roundUp ? 1 : 0));
}

/** Rounds each float32 to the nearest half (ties to even); out-of-range values become infinity. */
export function float32ToFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfBits(bits[i]!);
  return out;
}

const SUBNORMAL_SCALE = 2 ** -24;

/** Widens halves to float32; every half, NaN payloads included, is represented exactly. */
export function float16ToFloat32(halves: Uint16Array): Float32Array {
  const out = new Float32Array(halves.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < halves.length; i++) {
    const h = halves[i]!;
    const sign = (h & 0x8000) << 16;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0x1f) {
      outBits[i] = (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
    } else if (exponent !== 0) {
      outBits[i] = (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
    } else if (mantissa !== 0) {
      // Subnormal halves are normal float32 values, and the product below is exact.
      out[i] = (sign === 0 ? mantissa : -mantissa) * SUBNORMAL_SCALE;
    } else {
      outBits[i] = sign >>> 0;
    }
  }
  return out;
}
