const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF as a character: a byte model's output must round-trip exactly,
// and the WHATWG default would silently drop those three bytes.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

const REPLACEMENT_CHARACTER = 0xfffd;
// String.fromCharCode.apply takes its arguments on the stack; keep each call well below the limit.
const CHAR_CODES_PER_CALL = 8192;

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, as TextEncoder does). */
export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Decodes UTF-8 bytes, replacing invalid sequences with U+FFFD like a non-fatal WHATWG
 * `TextDecoder`. A leading byte order mark is kept as U+FEFF so that
 * `decodeText(encodeText(s)) === s` for every well-formed string.
 */
export function decodeText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * Incremental UTF-8 decoder for text that arrives in pieces, down to one byte at a time as a
 * byte-level generator produces it. An incomplete multi-byte character is held back until its
 * last byte arrives; invalid sequences become U+FFFD at exactly the positions where a non-fatal
 * WHATWG `TextDecoder` (with `ignoreBOM: true`) puts them, however the stream is split.
 */
export class Utf8StreamDecoder {
  private codePoint = 0;
  private bytesSeen = 0;
  private bytesNeeded = 0;
  private lowerBoundary = 0x80;
  private upperBoundary = 0xbf;

  /** Bytes of an unfinished character that the next `push` or `flush` will resolve. */
  get pendingByteCount(): number {
    return this.bytesNeeded === 0 ? 0 : this.bytesSeen + 1;
  }

  /** Decodes a chunk (or one byte value 0..255) and returns the characters it completed. */
  push(bytes: Uint8Array | number): string {
    const charCodes: number[] = [];
    if (typeof bytes === 'number') {
      if (!Number.isInteger(bytes) || bytes < 0 || bytes > 255) {
        throw new RangeError(
          `Utf8StreamDecoder.push: expected a byte value 0..255, got ${bytes}; special ids (>= 256) are not text and must be handled before decoding`,
        );
      }
      this.decodeByte(bytes, charCodes);
    } else {
      for (const byte of bytes) this.decodeByte(byte, charCodes);
    }
    return charCodesToString(charCodes);
  }

  /** Ends the stream: an unfinished character becomes U+FFFD. The decoder can then be reused. */
  flush(): string {
    if (this.bytesNeeded === 0) return '';
    this.reset();
    return String.fromCharCode(REPLACEMENT_CHARACTER);
  }

  private reset(): void {
    this.codePoint = 0;
    this.bytesSeen = 0;
    this.bytesNeeded = 0;
    this.lowerBoundary = 0x80;
    this.upperBoundary = 0xbf;
  }

  // The UTF-8 decoder algorithm of the WHATWG Encoding Standard, one byte at a time.
  private decodeByte(byte: number, charCodes: number[]): void {
    if (this.bytesNeeded === 0) {
      if (byte <= 0x7f) {
        charCodes.push(byte);
      } else if (byte >= 0xc2 && byte <= 0xdf) {
        this.bytesNeeded = 1;
        this.codePoint = byte & 0x1f;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        // Excludes overlong forms (E0 80..9F) and UTF-16 surrogates (ED A0..BF).
        if (byte === 0xe0) this.lowerBoundary = 0xa0;
        if (byte === 0xed) this.upperBoundary = 0x9f;
        this.bytesNeeded = 2;
        this.codePoint = byte & 0x0f;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        // Excludes overlong forms (F0 80..8F) and code points above U+10FFFF (F4 90..BF).
        if (byte === 0xf0) this.lowerBoundary = 0x90;
        if (byte === 0xf4) this.upperBoundary = 0x8f;
        this.bytesNeeded = 3;
        this.codePoint = byte & 0x07;
      } else {
        charCodes.push(REPLACEMENT_CHARACTER);
      }
      return;
    }
    if (byte < this.lowerBoundary || byte > this.upperBoundary) {
      // The unfinished sequence is one error; the offending byte starts afresh.
      this.reset();
      charCodes.push(REPLACEMENT_CHARACTER);
      this.decodeByte(byte, charCodes);
      return;
    }
    this.lowerBoundary = 0x80;
    this.upperBoundary = 0xbf;
    this.codePoint = (this.codePoint << 6) | (byte & 0x3f);
    this.bytesSeen += 1;
    if (this.bytesSeen < this.bytesNeeded) return;
    const codePoint = this.codePoint;
    this.reset();
    if (codePoint > 0xffff) {
      const offset = codePoint - 0x10000;
      charCodes.push(0xd800 + (offset >> 10), 0xdc00 + (offset & 0x3ff));
    } else {
      charCodes.push(codePoint);
    }
  }
}

function charCodesToString(charCodes: number[]): string {
  if (charCodes.length <= CHAR_CODES_PER_CALL) return String.fromCharCode(...charCodes);
  const parts: string[] = [];
  for (let start = 0; start < charCodes.length; start += CHAR_CODES_PER_CALL) {
    parts.push(String.fromCharCode(...charCodes.slice(start, start + CHAR_CODES_PER_CALL)));
  }
  return parts.join('');
}
