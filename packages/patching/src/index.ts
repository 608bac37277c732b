export {
  type Batch,
  Corpus,
  type CorpusDocument,
  type CorpusSplit,
  type DocumentInput,
  RandomWindowSampler,
  type RandomWindowSamplerOptions,
  type RandomWindowSamplerState,
  type SplitOptions,
  splitCorpus,
} from './corpus.js';
export {
  assertImageLayout,
  assertRgbImage,
  deserializeImage,
  fitImageToSquare,
  IMAGE_SCANS,
  type ImageLayout,
  type ImageScan,
  imageByteLength,
  imageToPatchScanBytes,
  imageToRasterBytes,
  patchScanBytesToImage,
  type ResizeOptions,
  type RgbImage,
  rasterBytesToImage,
  resizeImage,
  serializeImage,
} from './image.js';
export {
  checkImageSize,
  imageHeaderSize,
  jpegHeaderSize,
  MAX_IMAGE_PIXELS,
  pngHeaderSize,
} from './image-header.js';
export {
  describeImageLayout,
  type ImageFitProblem,
  imageFitProblem,
  MEDIA_FILE,
  type MediaSpec,
  MODALITIES,
  type Modality,
  parseSavedMedia,
  type SavedMedia,
} from './media-spec.js';
export { Rng, type RngState } from './rng.js';
export { BOUNDARY_ID, BYTE_COUNT, PAD_ID, VOCAB_SIZE } from './special-ids.js';
export { decodeText, encodeText, Utf8StreamDecoder } from './text.js';
export {
  encodeWav,
  muLawBytesToWav,
  muLawDecode,
  muLawEncode,
  muLawToPcm16,
  parseWav,
  pcm16ToMuLaw,
  resampleAudio,
  type WavAudio,
  type WavFormat,
  type WavInput,
  wavToMono,
  wavToMuLawBytes,
} from './wav.js';
