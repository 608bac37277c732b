/** How many problems the message spells out; `.problems` always holds all of them. */
const MAX_LISTED_PROBLEMS = 20;

export interface CheckpointErrorOptions {
  /** What to do about it, appended to the message on its own line. */
  hint?: string;
  cause?: unknown;
}

/**
 * A checkpoint (config, safetensors weights or checkpoint directory) that cannot be read or written.
 * The message names every problem found, not only the first, so one run shows all that needs fixing.
 */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  /** Each problem found, as one line of text. */
  readonly problems: readonly string[];
  readonly hint: string | undefined;

  /** `context` says what was being done or read, e.g. `invalid safetensors file model.safetensors`. */
  constructor(context: string, problems: string | readonly string[], options: CheckpointErrorOptions = {}) {
    const list = typeof problems === 'string' ? [problems] : [...problems];
    super(formatMessage(context, list, options.hint), { cause: options.cause });
    this.problems = list;
    this.hint = options.hint;
  }
}

function formatMessage(context: string, problems: readonly string[], hint: string | undefined): string {
  let message: string;
  if (problems.length === 1) {
    message = `${context}: ${problems[0]}`;
  } else {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((problem) => `\n  - ${problem}`);
    const more = problems.length - listed.length;
    message = `${context}: ${problems.length} problems:${listed.join('')}`;
    if (more > 0) message += `\n  ... and ${more} more (see error.problems)`;
  }
  return hint === undefined ? message : `${message}\n${hint}`;
}
