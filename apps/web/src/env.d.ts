/// <reference types="vite/client" />

declare module 'virtual:default-model' {
  /** A hash of the shipped model's files (served under `models/default/`) and their sizes by name. */
  const info: {
    version: string;
    sizes: Record<string, number>;
    /** Validation bits per byte from packages/model-default/README.md, or null when it states none. */
    bitsPerByte: number | null;
  };
  export default info;
}

declare module 'virtual:image-model' {
  /** The built-in image model (models/image-tiny at build time, served under `models/image-tiny/`), or null. */
  const info: { version: string; sizes: Record<string, number> } | null;
  export default info;
}

declare module 'virtual:runtime-sizes' {
  /** Sizes in bytes of the runtimes' wasm binaries (vite.config.ts's RUNTIME_WASM). */
  const sizes: { ort: number; ortWebGpu: number; tfjs: number; tfjsSimd: number; tfjsThreadedSimd: number };
  export default sizes;
}

declare module 'virtual:service-worker' {
  /** The service worker's URL in a build (`./sw.js`), null in the dev server. */
  const url: string | null;
  export default url;
}
