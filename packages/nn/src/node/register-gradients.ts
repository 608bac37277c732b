// tfjs-core's gradients exist only as the ES modules of its `dist/` tree, written for bundlers:
// their relative imports have no `.js` extension, which Node's ES loader rejects. Here a resolve
// hook, scoped to relative imports inside tfjs-core's `dist/`, adds the extension, then the
// registration module is loaded. tfjs keeps its kernel and gradient registries on the global
// object, so gradients registered from that tree serve the `@tensorflow/tfjs-core` the caller
// imported; the check first keeps it to one registration per process.
import { register } from 'node:module';
import { getGradient, RealDiv } from '@tensorflow/tfjs-core';

/** The resolve hook, as module source: hooks run in the loader, apart from this module. */
export const TFJS_DIST_RESOLVE_HOOK = `
export async function resolve(specifier, context, nextResolve) {
  if (${needsExtension.toString()}(specifier, context.parentURL)) return nextResolve(specifier + '.js', context);
  return nextResolve(specifier, context);
}`;

/** True for an extensionless relative import made by a file of tfjs-core's `dist/` tree. */
export function needsExtension(specifier: string, parentURL: string | undefined): boolean {
  return (
    parentURL !== undefined &&
    /\/@tensorflow\/tfjs-core\/dist\//.test(parentURL) &&
    /^\.\.?\//.test(specifier) &&
    !/\.(?:m?js|json)$/.test(specifier)
  );
}

if (getGradient(RealDiv) === undefined) {
  register(`data:text/javascript,${encodeURIComponent(TFJS_DIST_RESOLVE_HOOK)}`);
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
}
