// The checkpoint directory of this package (config.json + model.safetensors), as a file: URL:
// loadModel of @megabyte/core/node takes it as it is (or fileURLToPath(modelUrl) as a path).
export const modelUrl = new URL('./', import.meta.url).href;
