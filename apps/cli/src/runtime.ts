import type { Runtime } from '@megabyte/core';
import { createRuntime } from '@megabyte/runtime-node';

/** The tfjs runtime for a command, with tfjs's own console chatter kept off stdout. */
export async function startRuntime(backend: string, verbose = true): Promise<Runtime> {
  const runtime = await createRuntime({ backend });
  if (verbose) process.stderr.write(`backend: ${runtime.description}\n`);
  return runtime;
}
