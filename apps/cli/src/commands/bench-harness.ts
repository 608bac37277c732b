import { writeFileAtomic } from '@megabyte/patching/node';
import { createRuntime, type NodeRuntime, RuntimeUnavailableError } from '@megabyte/runtime-node';
import { InvalidArgumentError } from 'commander';
import { BACKENDS, userPath } from '../options.js';
import { commandCandidates } from '../runtime.js';

// What every benchmark shares (the runtime per backend, list flags, the table, the JSON report),
// apart from the `bench` command that lists them, so that benchmarks import it without a circle.

/** The runtime for one backend of a benchmark; undefined, with the reason given to `skip`, when it cannot load here. */
export async function benchRuntime(
  backend: string,
  skip: (reason: string) => void,
): Promise<NodeRuntime | undefined> {
  try {
    // Models are built after the switch and disposed before the next one: no tensor crosses backends.
    const runtime = await createRuntime({ backend, candidates: await commandCandidates(backend) });
    process.stderr.write(`backend: ${runtime.description}\n`);
    return runtime;
  } catch (error) {
    // WebGPU's WebGpuUnavailableError is one too.
    if (!(error instanceof RuntimeUnavailableError)) throw error;
    skip(error.message);
    return undefined;
  }
}

/** Text columns left-aligned, numeric ones right-aligned, two spaces apart, with a rule under the header. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map(
    (_, i) =>
      rows.length > 0 &&
      rows.every((r) => /^[\d.,]+[KM*]?$|^\d+ x \d+$|^-$|^failed$|^skipped$/.test(r[i] ?? '')),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')}\n`;
}

/**
 * Writes a benchmark's JSON report, prints it (`--json`) or its text form, and fails the command
 * when any row failed.
 */
export async function publishReport(
  flags: { out: string; json: boolean },
  report: unknown,
  rows: ReadonlyArray<{ error?: string | undefined }>,
  text: () => string,
): Promise<void> {
  const out = userPath(flags.out);
  await writeJson(out, report);
  process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : text());
  process.stderr.write(`results: ${out}\n`);
  if (rows.some((row) => row.error !== undefined)) process.exitCode = 1;
}

/** Writes a benchmark's JSON report atomically: never a half-written file. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A `--flag a,b,c` value as its items; an empty list is an error. */
export function list(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new InvalidArgumentError(`expected a comma-separated list, got "${value}"`);
  return items;
}

/** A `--backends` value: each item must be one of `BACKENDS`. */
export function backendList(value: string): string[] {
  const items = list(value);
  for (const item of items) {
    if (!(BACKENDS as readonly string[]).includes(item))
      throw new InvalidArgumentError(`unknown backend "${item}": expected one of ${BACKENDS.join(', ')}`);
  }
  return items;
}
