export {
  boundariesToLengths,
  type EntropyBoundaryOptions,
  entropyBoundaries,
  fixedBoundaries,
  isSpaceLike,
  lengthsToBoundaries,
  type MaxPatchLengthOption,
  patchesAt,
  spaceLikeBoundaries,
} from './boundaries.js';
export {
  type Batch,
  Corpus,
  type CorpusDocument,
  type CorpusSplit,
  type DocumentInput,
  inputsAndTargets,
  makeBatch,
  RandomWindowSampler,
  type RandomWindowSamplerOptions,
  type RandomWindowSamplerState,
  type SplitOptions,
  sequentialWindows,
  splitCorpus,
} from './corpus.js';
export {
  globalShiftedPatches,
  globalShiftSource,
  LEARNED_PAD,
  localShiftedInputs,
  localShiftSource,
  type PaddedIds,
  padToMultiple,
  splitPatches,
} from './fixed-patching.js';
export {
  assertRgbImage,
  imageToPatchScanBytes,
  imageToRasterBytes,
  patchScanBytesToImage,
  type ResizeOptions,
  type RgbImage,
  rasterBytesToImage,
  resizeImage,
} from './image.js';
export { Rng, type RngState } from './rng.js';
export { decodeText, encodeText, Utf8StreamDecoder } from './text.js';
export {
  BOUNDARY_ID,
  BYTE_COUNT,
  PAD_ID,
  VOCAB_SIZE,
  Vocabulary,
  type VocabularyConfig,
} from './vocabulary.js';
export {
  encodeWav,
  muLawDecode,
  muLawEncode,
  muLawToPcm16,
  parseWav,
  pcm16ToMuLaw,
  type WavAudio,
  type WavFormat,
  type WavInput,
} from './wav.js';
