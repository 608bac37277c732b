/// <reference types="vite/client" />

declare module 'virtual:default-model' {
  /** A hash of the shipped model's files (served under `models/default/`) and their sizes by name. */
  const info: { version: string; sizes: Record<string, number> };
  export default info;
}

declare module 'virtual:image-model' {
  /** The built-in image model (models/image-tiny at build time, served under `models/image-tiny/`), or null. */
  const info: { version: string; sizes: Record<string, number> } | null;
  export default info;
}
