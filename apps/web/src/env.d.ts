/// <reference types="vite/client" />

declare module 'virtual:default-model' {
  /** A hash of the shipped model's files (served under `models/default/`) and their total size. */
  const info: { version: string; bytes: number };
  export default info;
}
