// ONNX Runtime is optional for the CLI: onnxruntime-node is a native package of about 300 MB (whose
// install script may download more), onnxruntime-web 140 MB. The commands that need one import it
// here and say how to add it.
type OnnxruntimeNode = typeof import('onnxruntime-node');
type OnnxruntimeWeb = typeof import('onnxruntime-web');

const howToAdd = (name: string) =>
  `add it with \`npm install -g ${name}\` (beside a global megabyte) or \`npm install ${name}\` (in a project)`;

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
      `${purpose} needs the onnxruntime-node package, which did not load (${(error as Error).message}): ${howToAdd('onnxruntime-node')}`,
    );
  }
}

/** onnxruntime-web, or undefined when it is not installed. */
export async function tryOnnxruntimeWeb(): Promise<OnnxruntimeWeb | undefined> {
  try {
    return await import('onnxruntime-web');
  } catch {
    return undefined;
  }
}

/** onnxruntime-web for `purpose`; an error naming how to add it when it is not installed. */
export async function onnxruntimeWeb(purpose: string): Promise<OnnxruntimeWeb> {
  try {
    return await import('onnxruntime-web');
  } catch (error) {
    throw new Error(
      `${purpose} needs the onnxruntime-web package, which did not load (${(error as Error).message}): ${howToAdd('onnxruntime-web')}`,
    );
  }
}
