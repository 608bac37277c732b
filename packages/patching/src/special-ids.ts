// The id space of every model here: ids 0..255 are byte values (0 included: binary files hold
// it), and the special ids follow. No tokenizer: these four numbers are the whole vocabulary.

/** Number of distinct byte values; ids below this are bytes, and byte 0 is an ordinary byte. */
export const BYTE_COUNT = 256;
/** Right-padding of sequences whose length is not a multiple of the patch size. Masked out of the loss. */
export const PAD_ID = 256;
/** Separates documents in a corpus; prompt with it to start a fresh document. */
export const BOUNDARY_ID = 257;
/** Size of the default vocabulary: 256 byte values plus PAD_ID and BOUNDARY_ID. */
export const VOCAB_SIZE = 258;
