/** A backend that cannot run in this process: not installed, failed to load, or failed to start. */
export class RuntimeUnavailableError extends Error {
  override readonly name = 'RuntimeUnavailableError';

  constructor(
    /** The backend name that was asked for, e.g. `tensorflow-gpu`. */
    readonly backend: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** `createRuntime` was given a backend name it does not know. */
export class UnknownBackendError extends Error {
  override readonly name = 'UnknownBackendError';

  constructor(
    readonly backend: string,
    readonly accepted: readonly string[],
  ) {
    super(`Unknown backend '${backend}': expected one of ${accepted.map((n) => `'${n}'`).join(', ')}.`);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
