import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

export interface ResolvedPackage {
  /** Absolute path of the file Node loads for a bare import of the package. */
  readonly entry: string;
  /** The package's directory. */
  readonly root: string;
  readonly version: string;
}

/**
 * Finds an installed package without loading it, or returns undefined when it is not installed.
 * Resolving from this package (by default) is what a pnpm install links optional peers for.
 */
export function resolvePackage(
  name: string,
  from: string | URL = import.meta.url,
): ResolvedPackage | undefined {
  const require = createRequire(from);
  let manifest: string;
  try {
    manifest = require.resolve(`${name}/package.json`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string };
  return { entry: require.resolve(name), root: dirname(manifest), version: version ?? 'unknown' };
}
