// How the command ends when the reader of its output or the user stops it: `megabyte generate |
// head` ends quietly with success, and Ctrl-C exits 130 (128 + SIGINT) in every command.

/** The exit code after Ctrl-C, as shells report a process killed by SIGINT. */
export const EXIT_INTERRUPTED = 130;

/**
 * Installs the process-wide handlers. EPIPE on stdout (the reader closed the pipe) exits 0 at
 * once. A Ctrl-C that no command handles exits 130; commands that stop cleanly on Ctrl-C
 * (generate, train, serve) add their own listener and call `markInterrupted`.
 */
export function installExitHandlers(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  process.on('SIGINT', () => {
    if (process.listenerCount('SIGINT') === 1) process.exit(EXIT_INTERRUPTED);
  });
}

/** Records that the command is stopping because of Ctrl-C: it will exit 130, without an error message. */
export function markInterrupted(): void {
  process.exitCode = EXIT_INTERRUPTED;
}

/** Whether Ctrl-C stopped the command (the error it ended with is then the abort, not a failure). */
export function wasInterrupted(): boolean {
  return process.exitCode === EXIT_INTERRUPTED;
}
