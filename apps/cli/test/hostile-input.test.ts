// tfjs-core first, fenced off by the side-effect import so that import sorting keeps it first:
// under vitest, importing @megabyte/core before it leaves two tfjs-core module instances.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import { createModel, decodeModel, encodeModel, encodeSafetensors } from '@megabyte/core';
import { readCheckpointDirectory } from '@megabyte/core/node';
import { microMegabyteConfig } from '@megabyte/core/testing';
import { encodeWav } from '@megabyte/patching';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The `megabyte` command against hostile files and faults, each run as a child process: corrupt
 * safetensors of every header and offset class, configs past each bound, PNG and WAV bombs and
 * lies, NaN weights, a full disk, a closed stdout, kill -9 during a checkpoint write and the resume
 * after it. Each case asserts the exit code, that the message names the problem, that the peak
 * resident memory stays under PEAK_BYTES (a bomb that got through would take gigabytes), and that
 * files written before are unchanged. ONNX manifests and graphs in the wrong role are covered in
 * packages/onnx/src/graph-check.test.ts (no command loads a foreign ONNX export).
 */

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(REPO, 'apps/cli/dist/megabyte.mjs');
/** What a failed command may peak at: node, tfjs and a micro model take about 100 MB. */
const PEAK_BYTES = 400 * 1024 ** 2;
const CONFIG = microMegabyteConfig();

let root: string;
let model: string; // a valid micro checkpoint directory
let weights: Uint8Array;
let configJson: string;
let text: string; // a text file to train and score on

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident set of the child, in bytes (undefined when it was killed). */
  peak: number | undefined;
}

/** Runs the built CLI; `onStart` sees the child (to close its stdout or kill it). */
async function megabyte(args: string[], onStart?: (child: ChildProcess) => void): Promise<Outcome> {
  const rssFile = join(root, `rss-${Math.random().toString(16).slice(2)}`);
  // The plain cpu backend: the same everywhere, and no probing of others.
  const backend = ['train', 'eval', 'generate'].includes(args[0]!) ? ['--backend', 'cpu'] : [];
  const child = spawn(
    process.execPath,
    ['--import', join(root, 'report-rss.mjs'), CLI, ...args, ...backend],
    {
      cwd: root,
      // Relative paths are the user's, from INIT_CWD when pnpm started the command (see userPath):
      // under `pnpm test` that is the repository, so the child is told it was started in root.
      env: { ...process.env, INIT_CWD: root, MEGABYTE_TEST_RSS: rssFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  onStart?.(child);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on('close', (c, s) => done([c, s])),
  );
  const peak = await readFile(rssFile, 'utf8').then(Number, () => undefined);
  return { code, signal, stdout, stderr: stderr.replace(/=+\nHi, looks like[^\n]*\n=+\n/, ''), peak };
}

/** A failure: exit code 1, the message matches, memory stayed bounded. */
function expectRefused(outcome: Outcome, message: RegExp | string): void {
  expect(outcome.stderr).toMatch(typeof message === 'string' ? new RegExp(escapeRegExp(message)) : message);
  expect(outcome.code).toBe(1);
  expect(outcome.stderr).not.toMatch(/\n\s+at .*\(/); // no stack trace
  expect(outcome.peak).toBeLessThan(PEAK_BYTES);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Hash of every file under a directory, to show a failed command changed nothing. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path] = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  }
  return out;
}

/** A checkpoint directory holding `configText` and `weightBytes`. */
async function checkpoint(name: string, configText: string, weightBytes: Uint8Array): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), configText);
  await writeFile(join(dir, 'model.safetensors'), weightBytes);
  return dir;
}

/** A safetensors file from a header object and data bytes, the header length as given or true. */
function safetensors(header: unknown, data: Uint8Array, length?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A real grey PNG of width x height black pixels: a decompression bomb when large (100 MB of pixels in ~100 KB). */
function greyPng(width: number, height: number, rows = height): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // grey
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(Buffer.alloc(rows * (width + 1)), { level: 9 })),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

beforeAll(async () => {
  execFileSync(process.execPath, ['build.mjs'], { cwd: join(REPO, 'apps/cli'), stdio: 'ignore' });
  await tf.setBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'megabyte-hostile-'));
  await writeFile(
    join(root, 'report-rss.mjs'),
    "import { writeFileSync } from 'node:fs';\n" +
      "process.on('exit', () => writeFileSync(process.env.MEGABYTE_TEST_RSS, String(process.resourceUsage().maxRSS * 1024)));\n",
  );
  const built = createModel(CONFIG, { seed: 1 });
  ({ configJson, weights } = await encodeModel(built));
  built.dispose();
  model = await checkpoint('model', configJson, weights);
  text = join(root, 'text.txt');
  await writeFile(text, 'the jury said it did find that the city had been well run. '.repeat(200));
  await writeFile(join(root, 'micro.json'), JSON.stringify(CONFIG));
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('corrupt safetensors: every header and offset class is refused by name', () => {
  const header = () => {
    const length = Number(new DataView(weights.buffer, weights.byteOffset).getBigUint64(0, true));
    return JSON.parse(new TextDecoder().decode(weights.subarray(8, 8 + length))) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    >;
  };
  const data = () => {
    const length = Number(new DataView(weights.buffer, weights.byteOffset).getBigUint64(0, true));
    return weights.subarray(8 + length);
  };
  const firstTensor = () => Object.keys(header()).find((k) => k !== '__metadata__')!;
  const edit = (change: (h: ReturnType<typeof header>, name: string) => void) => {
    const h = header();
    change(h, firstTensor());
    return safetensors(h, data());
  };
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['an empty file', () => new Uint8Array(0), /file is 0 bytes, shorter than the 8-byte header length/],
    [
      'a file shorter than its length prefix',
      () => weights.subarray(0, 7),
      /file is 7 bytes, shorter than the 8-byte/,
    ],
    [
      'a header length past the end of the file',
      () => safetensors(header(), data(), 1n << 40n),
      /truncated: header says 1099511627776 bytes but file has \d+/,
    ],
    [
      'a header length of 2^63',
      () => safetensors(header(), data(), 1n << 63n),
      /header says 9223372036854775808 bytes/,
    ],
    ['a header that is not JSON', () => safetensors('{"a": [1, 2', data()), /header is not valid JSON/],
    [
      'a header that is a JSON array',
      () => safetensors('[1, 2, 3]', data()),
      /header must be a JSON object, got \[1,2,3\]/,
    ],
    [
      'a tensor without data_offsets',
      () => edit((h, n) => delete (h[n] as Partial<(typeof h)[string]>).data_offsets),
      /entry is missing "data_offsets"/,
    ],
    ['an unknown dtype', () => edit((h, n) => (h[n]!.dtype = 'F7')), /unknown dtype "F7"/],
    [
      'a negative dimension',
      () => edit((h, n) => (h[n]!.shape = [-1, ...h[n]!.shape.slice(1)])),
      /shape must be an array of non-negative integers, got \[-1,/,
    ],
    [
      'offsets past the end of the data',
      () => edit((h, n) => (h[n]!.data_offsets[1] += 1 << 20)),
      /data truncated: tensors need \d+ bytes after the header/,
    ],
    [
      'offsets in reverse order',
      () => edit((h, n) => (h[n]!.data_offsets = [h[n]!.data_offsets[1], h[n]!.data_offsets[0]])),
      /data_offsets must be \[begin, end\] with 0 <= begin <= end/,
    ],
    [
      'a shape that disagrees with the byte range',
      () => edit((h, n) => (h[n]!.shape = [...h[n]!.shape, 2])),
      /shape \[[\d,]+\] F32 needs \d+ bytes, offsets give \d+/,
    ],
    [
      'two tensors overlapping',
      () =>
        edit((h, n) => {
          const other = Object.keys(h).find((k) => k !== n && k !== '__metadata__')!;
          h[other]!.data_offsets = [...h[n]!.data_offsets];
          h[other]!.shape = [...h[n]!.shape];
        }),
      /\[0, \d+\) overlap/,
    ],
    [
      'data cut short',
      () => weights.subarray(0, weights.length - 100),
      /data truncated: tensors need \d+ bytes after the header but the file has \d+/,
    ],
    [
      'a parameter stored as I32',
      () => edit((h, n) => (h[n]!.dtype = 'I32')),
      /is I32, but parameters must be F32, F16, BF16 or F64/,
    ],
  ];

  it.each(cases)('%s', async (_, make, message) => {
    const dir = await checkpoint(`corrupt-${Math.random().toString(16).slice(2)}`, configJson, make());
    const before = await snapshot(dir);
    const outcome = await megabyte(['info', '--model', dir]);
    expectRefused(outcome, message);
    expect(outcome.stderr).toContain(join(dir, 'model.safetensors'));
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe('configs past each bound are refused before anything is allocated', () => {
  const { global, local } = CONFIG;
  it.each([
    [
      'global.layers',
      { global: { ...global, layers: 1_000_000 } },
      'global.layers: 1000000 is more than the limit of 1024',
    ],
    [
      'global.byteDim',
      { global: { ...global, byteDim: 1_000_000 } },
      "global.byteDim: the level's width 4 x 1000000",
    ],
    ['vocabSize', { vocabSize: 1e9 }, 'vocabSize: 1000000000 is more than the limit of 65536'],
    [
      'contextLength',
      { contextLength: 2 ** 30 },
      'contextLength: 1073741824 is more than the limit of 16777216',
    ],
    ['patchSize', { patchSize: 1e9 }, 'must be a multiple of patchSize 1000000000'],
    [
      'local.dim',
      { local: { ...local, dim: 1_000_000 } },
      "local.dim: the level's width 1000000 is more than the limit of 65536",
    ],
    ['mlpRatio', { mlpRatio: 1e4 }, 'mlpRatio: 10000 is more than the limit of 64'],
    [
      'local.heads',
      { local: { ...local, heads: 4096, dim: 4096 } },
      'local.heads: 4096 is more than the limit of 1024',
    ],
  ])('%s', async (_, change, message) => {
    const dir = await checkpoint(
      `bound-${Math.random().toString(16).slice(2)}`,
      JSON.stringify({ ...CONFIG, ...change }),
      weights,
    );
    const outcome = await megabyte(['info', '--model', dir]);
    expectRefused(outcome, message);
    expect(outcome.stderr).toContain(dir);
  });

  it('a config at the layer bound whose weights do not match is refused from the header, unbuilt', async () => {
    const atBound = { ...CONFIG, global: { ...global, layers: 1024 } };
    const dir = await checkpoint('at-bound', JSON.stringify(atBound), weights);
    const outcome = await megabyte(['info', '--model', dir]);
    expectRefused(
      outcome,
      /its tensors do not fit config\.json \(the model needs \d+ parameters in 10262 tensors, the file holds \d+ in 32\)/,
    );
    expect(outcome.stderr).toContain(join(dir, 'model.safetensors'));
  });

  it('a header whose shapes differ from config.json is refused by tensor and shape, naming the file and the fix', async () => {
    // The same global width (2 x 8 = 4 x 4) in patches of 2 bytes: the file's shapes, not its size, tell.
    const other = { ...CONFIG, patchSize: 2, global: { ...global, byteDim: 8 } };
    const dir = await checkpoint('other-shapes', JSON.stringify(other), weights);
    const outcome = await megabyte(['info', '--model', dir]);
    expectRefused(
      outcome,
      `cannot load ${join(dir, 'model.safetensors')}: its tensors do not fit config.json`,
    );
    expect(outcome.stderr).toContain('global.embed.bytes.weight: expected [258,8], file has [258,4]');
    expect(outcome.stderr).toContain('local.embed.positions: expected [2,8], file has [4,8]');
    expect(outcome.stderr).toContain('load the weights with the config.json saved next to them');
  });

  it('a training batch whose activations cannot fit is refused, naming --batch and a batch that fits', async () => {
    const out = join(root, 'batch-run');
    const outcome = await megabyte([
      'train',
      '--preset',
      'micro.json',
      '--data',
      text,
      '--batch',
      '100000000',
      '--out',
      out,
    ]);
    expectRefused(
      outcome,
      /--batch 100000000: a training step over 100000000 windows needs about [\d.]+ (GiB|MiB) .* use --batch \d+ or less/,
    );
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
    const scoring = await megabyte(['eval', '--model', model, '--data', text, '--batch', '100000000']);
    expectRefused(
      scoring,
      /--batch 100000000: scoring 100000000 windows at once needs about .* use --batch \d+ or less/,
    );
  });
});

describe('image and audio bombs and lies', () => {
  it('a 10000 x 10000 PNG of 100 KB is refused from its header, not decoded', async () => {
    const dir = join(root, 'bomb');
    await mkdir(dir);
    const bomb = greyPng(10_000, 10_000);
    expect(bomb.length).toBeLessThan(200_000);
    await writeFile(join(dir, 'bomb.png'), bomb);
    const outcome = await megabyte([
      'train',
      '--modality',
      'image',
      '--data',
      dir,
      '--out',
      join(root, 'bomb-run'),
    ]);
    expectRefused(
      outcome,
      `${join(dir, 'bomb.png')}: decodePng: the image declares 10000 x 10000 = 100000000 pixels, more than the limit of 67108864`,
    );
  });

  it('a PNG whose pixels fall short of its header is named as corrupt', async () => {
    const dir = join(root, 'short-png');
    await mkdir(dir);
    await writeFile(join(dir, 'short.png'), greyPng(64, 64, 8));
    const outcome = await megabyte([
      'train',
      '--modality',
      'image',
      '--data',
      dir,
      '--out',
      join(root, 'short-run'),
    ]);
    expectRefused(outcome, /short\.png: decodePng: corrupt PNG/);
  });

  it.each([
    ['4294967295 Hz', 4294967295, 800, /sample rate of 4294967295 Hz, outside 1000\.\.768000 Hz/],
    ['1 Hz (a one-second clip would become 8000 x longer)', 1, 800, /sample rate of 1 Hz/],
    ['0 samples', 8000, 0, /the data chunk holds no samples \(a 0-second clip\)/],
  ])('a WAV declaring %s is refused', async (_, rate, bytes, message) => {
    const dir = join(root, `wav-${rate}-${bytes}`);
    await mkdir(dir);
    const wav = encodeWav({
      sampleRate: 8000,
      channels: 1,
      bitsPerSample: 8,
      data: new Uint8Array(bytes).fill(128),
    });
    new DataView(wav.buffer).setUint32(24, rate, true); // the header lies about the rate
    await writeFile(join(dir, 'clip.wav'), wav);
    const outcome = await megabyte([
      'train',
      '--modality',
      'audio',
      '--data',
      dir,
      '--out',
      join(root, `wav-run-${rate}`),
    ]);
    expectRefused(outcome, message);
    expect(outcome.stderr).toContain(join(dir, 'clip.wav'));
  });

  it('--prompt-file naming a directory says so', async () => {
    const outcome = await megabyte(['generate', '--model', model, '--prompt-file', root]);
    expectRefused(outcome, `--prompt-file ${root}: is a directory; give a file`);
  });
});

describe('NaN weights', () => {
  let nanModel: string;
  beforeAll(async () => {
    const built = createModel(CONFIG, { seed: 1 });
    const tensors = new Map(
      await Promise.all(
        built.parameters().map(async (p) => {
          const values = (await p.variable.data()) as Float32Array;
          if (p.name === 'local.head.weight') values[5] = Number.NaN;
          return [p.name, { dtype: 'F32' as const, shape: p.variable.shape, data: values }] as const;
        }),
      ),
    );
    built.dispose();
    nanModel = await checkpoint('nan', configJson, encodeSafetensors(tensors));
  });
  const named =
    /cannot load .*nan\/model\.safetensors: its weights are not finite: tensor local\.head\.weight \[8,258\] has 1 NaN or infinite value/;

  it.each([['info'], ['eval']])('%s refuses them, naming the tensor', async (command) => {
    const extra = command === 'eval' ? ['--data', text, '--split', 'all'] : [];
    expectRefused(await megabyte([command, '--model', nanModel, ...extra]), named);
  });

  it('export refuses them and writes nothing', async () => {
    const out = join(root, 'export-out');
    await mkdir(out);
    await writeFile(join(out, 'keep.txt'), 'written before');
    const before = await snapshot(out);
    expectRefused(await megabyte(['export', '--model', nanModel, '--out', join(out, 'm.onnx')]), named);
    expect(await snapshot(out)).toEqual(before);
  });
});

describe('faults', () => {
  it('a closed stdout ends generation quietly, with success (the reader chose to stop)', async () => {
    const outcome = await megabyte(
      ['generate', '--model', model, '--prompt', 'ab', '--max-bytes', '100000'],
      (child) => child.stdout!.destroy(),
    );
    expect(outcome.code).toBe(0);
    expect(outcome.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(outcome.peak).toBeLessThan(PEAK_BYTES);
  });

  it('a full disk fails the checkpoint by name and keeps the checkpoints written before', async (context) => {
    const mount = join(root, 'full');
    await mkdir(mount);
    try {
      // One micro checkpoint (weights and two AdamW moments, ~90 KB) fits; the disk fills during the second.
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160k', 'tmpfs', mount], { stdio: 'ignore' });
    } catch {
      context.skip('mounting a small tmpfs needs root (CAP_SYS_ADMIN): the full-disk case is skipped');
    }
    try {
      const run = join(mount, 'run');
      const outcome = await megabyte([
        'train',
        '--preset',
        'micro.json',
        '--data',
        text,
        '--steps',
        '40',
        '--batch',
        '2',
        '--eval-every',
        '0',
        '--eval-windows',
        '1',
        '--checkpoint-every',
        '1',
        '--keep',
        '100',
        '--out',
        run,
      ]);
      expectRefused(outcome, /no space left on (the )?device|ENOSPC/i);
      const steps = (await readdir(join(run, 'checkpoints'))).sort();
      expect(steps.length).toBeGreaterThan(0);
      expect(steps.every((name) => /^step-\d+$/.test(name))).toBe(true); // no half-written leftovers
      for (const name of steps) {
        const loaded = await readCheckpointDirectory(join(run, 'checkpoints', name));
        decodeModel(loaded, loaded.dir).dispose();
      }
    } finally {
      execFileSync('umount', [mount]);
    }
  });

  it('kill -9 during a checkpoint write leaves only whole checkpoints; resume tidies up and finishes the same run', async () => {
    const run = join(root, 'killed');
    const args = [
      'train',
      '--preset',
      'micro.json',
      '--data',
      text,
      '--steps',
      '30',
      '--batch',
      '2',
      '--eval-every',
      '0',
      '--eval-windows',
      '1',
      '--checkpoint-every',
      '1',
      '--keep',
      '3',
      '--out',
      run,
    ];
    let watcher: FSWatcher | undefined;
    const writes = new Set<string>();
    const outcome = await megabyte(args, (child) => {
      // Kill the moment the fifth checkpoint's temporary directory appears: mid-write, with whole
      // checkpoints before it to resume from.
      const arm = setInterval(() => {
        try {
          watcher = watch(join(run, 'checkpoints'), (_, name) => {
            if (!String(name).includes('.tmp-') || writes.has(String(name))) return;
            writes.add(String(name));
            if (writes.size === 5) child.kill('SIGKILL');
          });
          clearInterval(arm);
        } catch {
          // Not created yet.
        }
      }, 2);
      child.on('close', () => clearInterval(arm));
    });
    watcher?.close();
    expect(outcome.signal).toBe('SIGKILL');
    const steps = (await readdir(join(run, 'checkpoints'))).filter((n) => /^step-\d+$/.test(n));
    for (const name of steps) {
      const loaded = await readCheckpointDirectory(join(run, 'checkpoints', name));
      decodeModel(loaded, loaded.dir).dispose();
    }
    const before = await snapshot(join(run, 'checkpoints'));

    // Resuming without flags continues the same 30-step run: not 600, not a new schedule.
    const resumed = await megabyte(['train', '--resume', run]);
    expect(resumed.stderr).not.toMatch(/changed:/);
    expect(resumed.code).toBe(0);
    expect(resumed.peak).toBeLessThan(PEAK_BYTES);
    expect(resumed.stderr).toMatch(/done: 30 steps/);
    const left = await readdir(join(run, 'checkpoints'));
    expect(left.filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
    const summary = JSON.parse(await readFile(join(run, 'summary.json'), 'utf8')) as { steps: number };
    expect(summary.steps).toBe(30);
    // Whole checkpoints written before the kill were kept or pruned as --keep says, never altered.
    for (const [path, hash] of Object.entries(before)) {
      const now = await readFile(path).then(
        (bytes) => createHash('sha256').update(bytes).digest('hex'),
        () => undefined,
      );
      if (now !== undefined) expect(now).toBe(hash);
    }

    // Flags given with --resume change the run, and say so; --init starts a fresh run from its weights.
    const extended = await megabyte(['train', '--resume', run, '--steps', '34', '--lr', '0.001']);
    expect(extended.stderr).toContain('changed: steps 30 -> 34\nchanged: lr 0.002 -> 0.001\n');
    expect(extended.stderr).toMatch(/done: 34 steps/);
    expect(extended.code).toBe(0);
    const tuned = join(root, 'fine-tuned');
    const init = await megabyte([
      'train',
      '--init',
      run,
      '--data',
      text,
      '--steps',
      '2',
      '--batch',
      '2',
      '--eval-windows',
      '1',
      '--out',
      tuned,
    ]);
    expect(init.stderr).toMatch(/fine-tuning .*killed\/best/);
    expect(init.code).toBe(0);
    const fresh = JSON.parse(
      await readFile(join(tuned, 'checkpoints', 'step-0000002', 'trainer.json'), 'utf8'),
    ) as { step: number; optimizerStep: number; options: { steps: number } };
    expect([fresh.step, fresh.optimizerStep, fresh.options.steps]).toEqual([2, 2, 2]);

    // A trainer.json whose step lies past the run is refused by name.
    const lying = join(root, 'lying');
    await cp(run, lying, { recursive: true });
    const newest = join(lying, 'checkpoints', (await readdir(join(lying, 'checkpoints'))).sort().at(-1)!);
    const state = JSON.parse(await readFile(join(newest, 'trainer.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(newest, 'trainer.json'), JSON.stringify({ ...state, step: 1e20 }));
    expectRefused(
      await megabyte(['train', '--resume', lying]),
      'trainer.json: step: expected an integer in 0..9007199254740991, got 100000000000000000000',
    );
  });
});
