import {
  type ByteScores,
  type DecoderOptions,
  type DecoderSource,
  type IncrementalDecoder,
  type ModelConfig,
  ModelGeometry,
  type ScoreOptions,
  scoreBytes,
  validateConfig,
  type WindowScorer,
} from '@megabyte/core/portable';
import { PAD_ID } from '@megabyte/patching';
import {
  cacheLayout,
  type DecodingRole,
  type GraphRole,
  MANIFEST_FORMAT,
  megabyteDecodingRoles,
  type OnnxManifest,
} from './export.js';
import { graphIoProblems, manifestGraphProblems } from './graph-check.js';
import { createOnnxDecoder } from './onnx-decoder.js';
import type { InferenceSession, OrtModule } from './ort-types.js';

/** `cpu`: onnxruntime-node. `wasm`, `webgpu`: onnxruntime-web (browser, or wasm in Node). */
export type ExecutionProvider = 'cpu' | 'wasm' | 'webgpu';

export interface OnnxModelFiles {
  /** The FILE.json manifest: parsed, as text, or as its bytes. */
  readonly manifest: OnnxManifest | string | Uint8Array;
  /**
   * The graphs' file contents by role (`manifest.graphs[role].file` names each file). Load
   * `scoring` for scoring and uncached generation, `global` + `local` (MEGABYTE) or `step` (the
   * baseline) for cached generation; leave out what you do not need.
   */
  readonly graphs: Readonly<Partial<Record<GraphRole, Uint8Array>>>;
}

export interface OnnxModelOptions {
  /** Default `cpu` (onnxruntime-node); `wasm` or `webgpu` with onnxruntime-web. */
  readonly executionProvider?: ExecutionProvider;
  /** Passed to every `InferenceSession.create` (after the execution provider). */
  readonly sessionOptions?: InferenceSession.SessionOptions;
}

/** Raised when a graph file or manifest cannot be used; says which file and what to do. */
export class OnnxModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxModelError';
  }
}

/**
 * An exported model on ONNX Runtime. Give it to @megabyte/core's `generate`, `generateText` or
 * `generateBatch` in place of a tfjs model: it makes the same incremental decoders.
 */
export class OnnxModel implements DecoderSource, WindowScorer {
  /** Patch sizes, step unit and padding of the model, as the tfjs model's `geometry`. */
  readonly geometry: ModelGeometry;

  private constructor(
    readonly ort: OrtModule,
    readonly manifest: OnnxManifest,
    readonly config: ModelConfig,
    readonly executionProvider: ExecutionProvider,
    private readonly sessions: Partial<Record<GraphRole, InferenceSession>>,
  ) {
    this.geometry = new ModelGeometry(config);
  }

  /** Creates a session for each graph given, from bytes (no file system needed). */
  static async load(
    ort: OrtModule,
    files: OnnxModelFiles,
    options: OnnxModelOptions = {},
  ): Promise<OnnxModel> {
    const manifest = parseManifest(files.manifest);
    let config: ModelConfig;
    try {
      config = validateConfig(manifest.config);
    } catch (error) {
      throw new OnnxModelError(
        `the ONNX manifest's config is not a valid model config: ${(error as Error).message}`,
      );
    }
    const executionProvider = options.executionProvider ?? 'cpu';
    const roles = Object.keys(files.graphs) as GraphRole[];
    if (roles.length === 0)
      throw new OnnxModelError('OnnxModel.load: no graphs given (files.graphs is empty)');
    const sessions: Partial<Record<GraphRole, InferenceSession>> = {};
    for (const role of roles) {
      const described = manifest.graphs[role];
      if (!described) {
        throw new OnnxModelError(
          `OnnxModel.load: the manifest has no "${role}" graph (it lists ${Object.keys(manifest.graphs).join(', ')})`,
        );
      }
      const session = await createSession(
        ort,
        config,
        role,
        described.file,
        files.graphs[role]!,
        executionProvider,
        options,
      );
      sessions[role] = session;
      const problems = graphIoProblems(config, role, described, session);
      if (problems.length > 0) {
        await Promise.all(Object.values(sessions).map((s) => s.release()));
        throw new OnnxModelError(
          `the ${role} graph ${described.file} does not fit its manifest:\n  - ${problems.join('\n  - ')}\nExport the model again with \`megabyte export\`, or load the files of one export together.`,
        );
      }
    }
    return new OnnxModel(ort, manifest, config, executionProvider, sessions);
  }

  /** An incremental decoder over the graphs (for @megabyte/core's generation loop). */
  createDecoder(options: DecoderOptions = {}): IncrementalDecoder {
    // A missing graph fails here, at the generate call, rather than at the first byte.
    const needed: GraphRole[] =
      options.cache === false
        ? ['scoring']
        : this.config.kind === 'megabyte'
          ? megabyteDecodingRoles(this.config)
          : ['step'];
    for (const role of needed) this.session(role);
    return createOnnxDecoder(
      { ort: this.ort, config: this.config, geometry: this.geometry, session: (role) => this.session(role) },
      options,
    );
  }

  /**
   * Logits [B, T, V] of ids [B, T] (row-major) through the scoring graph, like the tfjs model's
   * `forward`: T up to the context, padded inside to whole patches.
   */
  async forward(ids: ArrayLike<number>, batch: number): Promise<Float32Array> {
    const length = ids.length / batch;
    if (!Number.isInteger(length)) {
      throw new RangeError(`forward: ${ids.length} ids do not split into ${batch} rows of equal length`);
    }
    if (length > this.config.contextLength) {
      throw new RangeError(
        `forward: sequence of ${length} bytes is longer than the model's context of ${this.config.contextLength}: split it into windows`,
      );
    }
    const vocab = this.config.vocabSize;
    const padded = this.geometry.paddedLength(length);
    const input = new Int32Array(batch * padded).fill(PAD_ID);
    for (let row = 0; row < batch; row++) {
      for (let t = 0; t < length; t++) {
        const id = ids[row * length + t]!;
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new RangeError(
            `forward: id ${id} at row ${row}, index ${t} is outside the vocabulary 0..${vocab - 1}`,
          );
        }
        input[row * padded + t] = id;
      }
    }
    const { logits } = await this.session('scoring').run({
      bytes: new this.ort.Tensor('int32', input, [batch, padded]),
    });
    const all = (await logits!.getData()) as Float32Array;
    if (padded === length) return all;
    const out = new Float32Array(batch * length * vocab);
    for (let row = 0; row < batch; row++) {
      out.set(all.subarray(row * padded * vocab, (row * padded + length) * vocab), row * length * vocab);
    }
    return out;
  }

  /**
   * Per-byte surprisal (bits) and bits per byte of a byte sequence through the scoring graph, in
   * sliding windows of the context (see `ScoreOptions.stride`).
   */
  scoreBytes(bytes: ArrayLike<number>, options: ScoreOptions = {}): Promise<ByteScores> {
    return scoreBytes(this, bytes, options);
  }

  /** -log2 p of each byte of one window of at most the context (what `scoreBytes` slides). */
  async windowSurprisal(window: Int32Array): Promise<Float32Array> {
    const vocab = this.config.vocabSize;
    const logits = await this.forward(window, 1);
    return Float32Array.from(window, (byte, t) =>
      negativeLog2Softmax(logits.subarray(t * vocab, (t + 1) * vocab), byte),
    );
  }

  /** Releases every session. */
  async release(): Promise<void> {
    await Promise.all(Object.values(this.sessions).map((session) => session.release()));
  }

  private session(role: GraphRole): InferenceSession {
    const session = this.sessions[role];
    if (!session) {
      throw new OnnxModelError(
        `the "${role}" graph (${this.manifest.graphs[role]?.file ?? 'not in the manifest'}) was not loaded: pass it in OnnxModel.load's files.graphs.${role}`,
      );
    }
    return session;
  }
}

function negativeLog2Softmax(logits: Float32Array, target: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of logits) max = Math.max(max, value);
  let sum = 0;
  for (const value of logits) sum += Math.exp(value - max);
  return (Math.log(sum) + max - logits[target]!) / Math.LN2;
}

function parseManifest(input: OnnxManifest | string | Uint8Array): OnnxManifest {
  let manifest: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    try {
      manifest = JSON.parse(text);
    } catch (error) {
      throw new OnnxModelError(
        `the ONNX manifest (FILE.json) is not valid JSON (${(error as Error).message}): export the model again`,
      );
    }
  }
  const candidate = manifest as Partial<OnnxManifest> | null;
  if (candidate?.format !== MANIFEST_FORMAT || !candidate.config) {
    throw new OnnxModelError(
      `not a megabyte ONNX manifest: expected {"format": "${MANIFEST_FORMAT}", "config": ..., "graphs": ...} as written by \`megabyte export\``,
    );
  }
  const problems = manifestGraphProblems(candidate.graphs);
  if (problems.length > 0)
    throw new OnnxModelError(
      `the ONNX manifest (FILE.json) is broken: ${problems.join('; ')}; export the model again`,
    );
  return candidate as OnnxManifest;
}

async function createSession(
  ort: OrtModule,
  config: ModelConfig,
  role: GraphRole,
  file: string,
  bytes: Uint8Array,
  executionProvider: ExecutionProvider,
  options: OnnxModelOptions,
): Promise<InferenceSession> {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new OnnxModelError(
      `the ${role} graph ${file} is empty: export the model again with \`megabyte export\``,
    );
  }
  // On WebGPU the KV cache and the conditioning stay on the GPU between runs; logits come back.
  const onGpu =
    executionProvider === 'webgpu' && role !== 'scoring'
      ? { preferredOutputLocation: gpuOutputs(config, role) }
      : {};
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: [executionProvider],
      ...onGpu,
      ...options.sessionOptions,
    });
  } catch (error) {
    throw new OnnxModelError(
      `could not load the ${role} graph ${file} (${bytes.length} bytes) on the ${executionProvider} execution provider: ${(error as Error).message ?? String(error)}. A corrupt or truncated file fails this way: export the model again with \`megabyte export\` (and check that the whole file was downloaded)`,
    );
  }
}

/** The outputs fed back into the next run: the caches, and MEGABYTE's conditioning. */
function gpuOutputs(config: ModelConfig, role: DecodingRole): Record<string, 'gpu-buffer'> {
  const names = cacheLayout(config, role).names.map((info) => info.name.replace('past_', 'present_'));
  if (role !== 'local' && role !== 'step') names.push('conditioning');
  return Object.fromEntries(names.map((name) => [name, 'gpu-buffer' as const]));
}
