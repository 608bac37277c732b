import { cpus, loadavg } from 'node:os';
import { exportModel, OnnxModel } from '@megabyte/onnx';
import { Command } from 'commander';
import { onnxruntimeNode } from '../onnxruntime.js';
import { integer, userPath } from '../options.js';
import { startRuntime } from '../runtime.js';
import { LOAD_TEST_PROMPTS, type LoadTestResult, loadTest, referenceAnswers } from '../serve/load-test.js';
import { DEFAULT_SERVE_OPTIONS, MegabyteServer } from '../serve/server.js';
import { list, publishReport, renderTable } from './bench-harness.js';
import { defaultModelDirectory } from './generate.js';
import { loadModelArgument } from './model-loading.js';

interface ServeBenchFlags {
  model?: string;
  clients: number[];
  requests: number;
  seconds: number;
  bytes: number;
  maxBatch: number;
  ortThreads: number;
  out: string;
  json: boolean;
}

const PROMPTS = LOAD_TEST_PROMPTS;

export function serveBenchCommand(): Command {
  return new Command('serve')
    .description(
      'load test of `megabyte serve` on 127.0.0.1: requests/s and p50/p99 latency per client count',
    )
    .option('--model <dir>', 'checkpoint or run directory (default: the shipped @megabyte/model-default)')
    .option('--clients <list>', 'concurrent clients, comma-separated', clientList, [1, 8, 32])
    .option('--requests <n>', 'most requests per client count', integer(1), 64)
    .option('--seconds <n>', 'most seconds per client count (no request starts later)', integer(1), 60)
    .option('--bytes <n>', 'bytes generated per request (greedy)', integer(1), 32)
    .option('--max-batch <n>', "the server's --max-batch", integer(1), DEFAULT_SERVE_OPTIONS.maxBatch)
    .option('--ort-threads <n>', 'intra-op threads of onnxruntime-node', integer(1), 1)
    .option('--out <file.json>', 'where to write the results', 'bench-results/serve.json')
    .option('--json', 'print the results as JSON on stdout instead of the table', false)
    .addHelpText(
      'after',
      `
The server runs in this process on 127.0.0.1 (any free port), with a queue as long as the largest
client count. Each client sends greedy requests one after another; every answer is compared with
its prompt's answer asked alone, so "mismatched" counts lost, cut or mixed-up responses.`,
    )
    .action(async (flags: ServeBenchFlags) => {
      await benchServe(flags);
    });
}

function clientList(value: string): number[] {
  return list(value).map((item) => integer(1)(item));
}

async function benchServe(flags: ServeBenchFlags): Promise<void> {
  const modelPath = flags.model ?? defaultModelDirectory();
  await startRuntime('cpu', false);
  const { model: tfModel } = await loadModelArgument(modelPath);
  const exported = exportModel(tfModel);
  tfModel.dispose();
  const ort = await onnxruntimeNode('megabyte bench serve');
  const model = await OnnxModel.load(ort, exported, {
    sessionOptions: { intraOpNumThreads: flags.ortThreads },
  });
  const server = new MegabyteServer(model, {
    ...DEFAULT_SERVE_OPTIONS,
    maxBatch: flags.maxBatch,
    maxQueue: Math.max(...flags.clients),
  });
  const url = await server.listen(0);
  const rows: (LoadTestResult & { meanBatch: number })[] = [];
  try {
    const expected = await referenceAnswers(url, PROMPTS, flags.bytes);
    for (const clients of flags.clients) {
      process.stderr.write(`${clients} client(s)\n`);
      const before = { ...server.scheduler.stats };
      const result = await loadTest(url, expected, {
        clients,
        requests: flags.requests,
        timeLimitMs: flags.seconds * 1000,
        maxBytes: flags.bytes,
        prompts: PROMPTS,
      });
      const batches = server.scheduler.stats.batches - before.batches;
      const sequences = server.scheduler.stats.sequences - before.sequences;
      rows.push({ ...result, meanBatch: batches > 0 ? sequences / batches : 0 });
    }
  } finally {
    await server.close();
    await model.release();
  }
  const report = {
    benchmark: 'serve',
    createdAt: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    loadAverage: loadavg(),
    options: { model: userPath(modelPath), ...flags, prompts: PROMPTS, temperature: 0 },
    rows,
  };
  const errors = rows.map((row) =>
    row.mismatches > 0 ? { error: `${row.mismatches} mismatched answer(s) at ${row.clients} clients` } : {},
  );
  await publishReport(flags, report, errors, () => {
    const table = renderTable(
      ['clients', 'requests', 'req/s', 'bytes/s', 'p50 ms', 'p99 ms', 'mean batch', 'refused', 'mismatched'],
      rows.map((r) => [
        String(r.clients),
        String(r.requests),
        r.requestsPerSecond.toFixed(2),
        r.bytesPerSecond.toFixed(0),
        r.p50Ms.toFixed(0),
        r.p99Ms.toFixed(0),
        r.meanBatch.toFixed(1),
        String(r.refused),
        String(r.mismatches),
      ]),
    );
    return `${table}(load average at the end: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(', ')} on ${cpus().length} cores)\n`;
  });
}
