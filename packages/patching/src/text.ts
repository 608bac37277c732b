const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF as a character: a byte model's output must round-trip exactly,
// and the WHATWG default would silently drop those three bytes.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

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
 * byte-level generator produces it: a non-fatal WHATWG `TextDecoder` (with `ignoreBOM: true`) in
 * streaming mode. An incomplete multi-byte character is held back until its last byte arrives;
 * invalid sequences become U+FFFD, however the stream is split.
 */
export class Utf8StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  /** Decodes a chunk (or one byte value 0..255) and returns the characters it completed. */
  push(bytes: Uint8Array | number): string {
    if (typeof bytes === 'number') {
      if (!Number.isInteger(bytes) || bytes < 0 || bytes > 255) {
        throw new RangeError(
          `Utf8StreamDecoder.push: expected a byte value 0..255, got ${bytes}; special ids (>= 256) are not text and must be handled before decoding`,
        );
      }
      return this.decoder.decode(Uint8Array.of(bytes), { stream: true });
    }
    return this.decoder.decode(bytes, { stream: true });
  }

  /** Ends the stream: an unfinished character becomes U+FFFD. The decoder can then be reused. */
  flush(): string {
    return this.decoder.decode();
  }
}
