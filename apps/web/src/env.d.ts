/// <reference types="vite/client" />

declare module 'virtual:default-model' {
  /** A hash of the shipped model's files (served under `models/default/`) and their sizes by name. */
  const info: { version: string; sizes: Record<string, number> };
  export default info;
}
