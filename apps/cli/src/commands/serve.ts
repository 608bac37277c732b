import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { exportModel, type GraphRole, type OnnxManifest, OnnxModel } from '@megabyte/onnx';
import { Command } from 'commander';
import { onnxruntimeNode } from '../onnxruntime.js';
import { integer, userPath } from '../options.js';
import { markInterrupted } from '../process-exit.js';
import { startRuntime } from '../runtime.js';
import { DEFAULT_SERVE_OPTIONS, MegabyteServer } from '../serve/server.js';
import { defaultModelDirectory } from './generate.js';
import { loadModelArgument } from './model-loading.js';

interface ServeFlags {
  model?: string;
  onnx?: string;
  host: string;
  port: number;
  maxBatch: number;
  maxQueue: number;
  maxBody: number;
  maxBytes: number;
  ortThreads: number;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve a model over HTTP on onnxruntime-node: streaming generation and scoring, batched')
    .option(
      '--model <dir>',
      'checkpoint or run directory, exported to ONNX in memory (default: @megabyte/model-default)',
    )
    .option('--onnx <file.json>', 'an export of `megabyte export` (its manifest; the graphs lie next to it)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free one)', integer(0), 8080)
    .option(
      '--max-batch <n>',
      'generation requests decoded together',
      integer(1),
      DEFAULT_SERVE_OPTIONS.maxBatch,
    )
    .option('--max-queue <n>', 'requests waiting before 429', integer(0), DEFAULT_SERVE_OPTIONS.maxQueue)
    .option(
      '--max-body <bytes>',
      'largest request body before 413',
      integer(1),
      DEFAULT_SERVE_OPTIONS.maxBody,
    )
    .option(
      '--max-bytes <n>',
      'largest maxBytes of a generation request',
      integer(1),
      DEFAULT_SERVE_OPTIONS.maxNewBytes,
    )
    .option('--ort-threads <n>', 'intra-op threads of onnxruntime-node', integer(1), 1)
    .addHelpText(
      'after',
      `
Endpoints:
  POST /v1/generate  {"prompt": "The ", "maxBytes": 64, "temperature": 0.8, "stream": true}
                     -> {"text", "bytes"}, or with "stream": server-sent events data: {"text": ...}
                     ending with data: {"done": true, "bytes": n}. Also topK, topP, minP,
                     repetitionPenalty, repetitionWindow, seed, stop (a list of strings).
  POST /v1/score     {"text": "...", "surprisal": true} -> {"bitsPerByte", "bytes", "surprisal"}
  GET  /health       -> {"status", "model", "waiting", "busy"}
Concurrent generation requests with the same options are decoded as one batch (a seeded request
runs alone, so that its seed gives its own numbers). A body over --max-body gets 413, a bad field
400, a full queue 429, and requests after SIGINT/SIGTERM 503 while accepted ones finish.

Example:
  megabyte serve --port 8080 &
  curl -N localhost:8080/v1/generate -d '{"prompt": "The ", "maxBytes": 80, "stream": true}'`,
    )
    .action(async (flags: ServeFlags) => {
      await serve(flags);
    });
}

async function serve(flags: ServeFlags): Promise<void> {
  const ort = await onnxruntimeNode('megabyte serve');
  const sessionOptions = { intraOpNumThreads: flags.ortThreads };
  const model = flags.onnx
    ? await OnnxModel.load(ort, await readExport(userPath(flags.onnx)), { sessionOptions })
    : await OnnxModel.load(ort, await exportCheckpoint(flags.model ?? defaultModelDirectory()), {
        sessionOptions,
      });
  const server = new MegabyteServer(model, {
    maxBatch: flags.maxBatch,
    maxQueue: flags.maxQueue,
    maxBody: flags.maxBody,
    maxNewBytes: flags.maxBytes,
  });
  const url = await server.listen(flags.port, flags.host);
  process.stderr.write(`serving on ${url} (POST /v1/generate, POST /v1/score, GET /health); Ctrl-C stops\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      if (signal === 'SIGINT') markInterrupted();
      process.stderr.write(
        `${signal}: finishing ${server.scheduler.waiting} waiting request(s), refusing new ones\n`,
      );
      void server.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await model.release();
  process.stderr.write('stopped\n');
}

/** A checkpoint or run directory as ONNX graphs in memory (the weights are read on the cpu backend). */
async function exportCheckpoint(path: string) {
  await startRuntime('cpu', false);
  const { model } = await loadModelArgument(path);
  try {
    return exportModel(model);
  } finally {
    model.dispose();
  }
}

/** The manifest and the graphs it names, read from next to it. */
export async function readExport(manifestPath: string) {
  let manifest: OnnxManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as OnnxManifest;
  } catch (error) {
    throw new Error(`--onnx ${manifestPath}: cannot read the manifest (${(error as Error).message})`);
  }
  const graphs: Partial<Record<GraphRole, Uint8Array>> = {};
  for (const [role, graph] of Object.entries(manifest.graphs ?? {})) {
    const file = join(dirname(manifestPath), graph!.file);
    graphs[role as GraphRole] = await readFile(file).catch((error: Error) => {
      throw new Error(
        `--onnx: the ${role} graph ${file} cannot be read (${error.message}): export the model again`,
      );
    });
  }
  return { manifest, graphs };
}
