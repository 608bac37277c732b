import { describe, expect, it } from 'vitest';
import { BOUNDARY_ID, BYTE_COUNT, PAD_ID, VOCAB_SIZE } from './special-ids.js';

// Checkpoints store logits and embeddings over these ids: changing them breaks every model saved.
describe('special ids', () => {
  it('follow the 256 byte values, so byte 0 stays an ordinary byte', () => {
    expect(BYTE_COUNT).toBe(256);
    expect([PAD_ID, BOUNDARY_ID]).toEqual([256, 257]);
    expect(VOCAB_SIZE).toBe(258);
  });
});
