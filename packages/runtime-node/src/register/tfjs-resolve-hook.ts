import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * tfjs-core registers its gradients only from `dist/register_all_gradients.js`, an ES module
 * written for bundlers: its relative imports have no file extension, which Node's ESM loader
 * refuses. This resolve hook completes them (`./x` -> `./x.js`) for files inside tfjs packages,
 * so training works in plain Node. Everything else resolves as usual.
 */
interface ResolveContext {
  readonly parentURL?: string | undefined;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string }>;

export async function resolve(
  specifier: string,
  context: ResolveContext,
  nextResolve: NextResolve,
): Promise<{ url: string }> {
  const parent = context.parentURL;
  if (parent?.includes('/@tensorflow/') && specifier.startsWith('.') && !/\.[cm]?js$/.test(specifier)) {
    const candidate = new URL(`${specifier}.js`, parent);
    if (existsSync(fileURLToPath(candidate))) return nextResolve(candidate.href, context);
  }
  return nextResolve(specifier, context);
}
