// onnxruntime-node is optional for the CLI (a native package of about 300 MB whose install script
// may download more): the commands that need it import it here and say how to add it.
type OnnxruntimeNode = typeof import('onnxruntime-node');

const HOW_TO_ADD =
  'add it with `npm install -g onnxruntime-node` (beside a global megabyte) or `npm install onnxruntime-node` (in a project)';

/** onnxruntime-node, or undefined when it is not installed. */
export async function tryOnnxruntimeNode(): Promise<OnnxruntimeNode | undefined> {
  try {
    return await import('onnxruntime-node');
  } catch {
    return undefined;
  }
}

/** onnxruntime-node for `purpose`; an error naming how to add it when it is not installed. */
export async function onnxruntimeNode(purpose: string): Promise<OnnxruntimeNode> {
  try {
    return await import('onnxruntime-node');
  } catch (error) {
    throw new Error(
      `${purpose} needs the onnxruntime-node package, which did not load (${(error as Error).message}): ${HOW_TO_ADD}`,
    );
  }
}
