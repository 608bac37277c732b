/** The checkpoint directory of this package (config.json + model.safetensors), as a file: URL. */
export declare const modelUrl: string;
