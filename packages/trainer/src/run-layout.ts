// Where `megabyte train` puts its checkpoints in a run directory, and which one a reader takes:
//   <run>/checkpoints/step-0000100/   a checkpoint every --checkpoint-every steps (the newest kept)
//   <run>/best/                       the checkpoint with the lowest validation bits per byte
//   <run>/media.json                  what the bytes are, for image and audio runs
// The writer (RunDirectory, Node) and every reader (the CLI's --model, its media.json lookup, the
// web demo's dropped folders) use these functions. Browser-safe: paths are strings, with '/' (or
// '\' on Windows) between names.

export const CHECKPOINTS_DIR = 'checkpoints';
export const BEST_DIR = 'best';

/** `step-0000100`: zero-padded so that the newest step is the last by name. */
export function stepDirectoryName(step: number): string {
  return `step-${String(step).padStart(7, '0')}`;
}

export function isStepDirectoryName(name: string): boolean {
  return /^step-\d+$/.test(name);
}

/**
 * The checkpoint to load of the directories given that hold one (e.g. `''` for the directory
 * itself, `best`, `checkpoints/step-0000200`, with or without a common prefix or a trailing
 * separator): the shallowest, then the last by name. So a checkpoint directory is itself, and a
 * run directory gives its `best/`, else its newest step. Undefined for none.
 */
export function pickRunCheckpoint<Dir extends string>(dirs: readonly Dir[]): Dir | undefined {
  const key = (dir: string) => {
    const names = trimSeparators(dir).split(/[\\/]/);
    return { depth: names[0] === '' ? 0 : names.length, name: trimSeparators(dir) };
  };
  return [...dirs].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x.depth - y.depth || (x.name < y.name ? 1 : x.name > y.name ? -1 : 0);
  })[0];
}

/**
 * The run directory a checkpoint directory belongs to: the parent of `best/`, two levels up from
 * `checkpoints/step-N/`, else the checkpoint directory itself (a converted or copied checkpoint).
 * A relative `best` or `checkpoints/step-N` gives `''`: the run is the directory they are in.
 */
export function runDirectoryOf(checkpointDir: string): string {
  const [parent, name] = splitLast(trimSeparators(checkpointDir));
  if (name === BEST_DIR) return parent;
  if (isStepDirectoryName(name)) {
    const [grandparent, parentName] = splitLast(parent);
    if (parentName === CHECKPOINTS_DIR) return grandparent;
  }
  return checkpointDir;
}

function trimSeparators(path: string): string {
  return path.length > 1 ? path.replace(/[\\/]+$/, '') : path;
}

/** [everything before the last separator ('' for a bare name, the root for a top-level one), the last name]. */
function splitLast(path: string): [string, string] {
  const at = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return at < 0 ? ['', path] : [path.slice(0, at) || path.slice(0, 1), path.slice(at + 1)];
}
