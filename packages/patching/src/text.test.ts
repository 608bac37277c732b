import { describe, expect, it } from 'vitest';
import { encodeText } from './text.js';

describe('encodeText', () => {
  it('encodes multi-byte characters as UTF-8', () => {
    expect([...encodeText('é')]).toEqual([0xc3, 0xa9]);
  });
});
