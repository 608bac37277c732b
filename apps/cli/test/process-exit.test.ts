// How the built command ends: --version, a reader that closes the pipe, Ctrl-C, and no Dawn
// warnings on a machine without a GPU.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { commandCandidates, gpuDevicePresent } from '../src/runtime.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'megabyte.mjs');
const DAWN_NOISE = /Vulkan|XDG_RUNTIME_DIR|Dawn/;

beforeAll(async () => {
  await run('node', [join(import.meta.dirname, '..', 'build.mjs')]);
});

/** Runs the CLI; `stop` decides, from the stdout so far, when to act on the child. */
function cli(
  args: string[],
  act: (child: ReturnType<typeof spawn>, stdout: string) => boolean,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let acted = false;
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      if (!acted) acted = act(child, stdout);
    });
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('megabyte, as installed', () => {
  it('prints its version', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
    const { stdout } = await run('node', [CLI, '--version']);
    expect(stdout.trim()).toBe(version);
  });

  it('ends quietly with 0 when the reader closes the pipe (generate | head)', async () => {
    const result = await cli(['generate', '--max-bytes', '100000', '--seed', '1'], (child, stdout) => {
      if (stdout.length < 20) return false;
      child.stdout!.destroy();
      return true;
    });
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.stderr).not.toMatch(/EPIPE|Error/);
  });

  it('exits 130 on Ctrl-C during generate, without an error message', async () => {
    const result = await cli(['generate', '--max-bytes', '100000', '--seed', '1'], (child, stdout) => {
      if (stdout.length < 20) return false;
      child.kill('SIGINT');
      return true;
    });
    expect(result).toMatchObject({ code: 130, signal: null });
    expect(result.stderr).not.toMatch(/aborted|Error/);
  });

  it('exits 130 on Ctrl-C in a command without its own handling (eval)', async () => {
    const result = await cli(['eval', '--data', 'brown', '--split', 'all'], () => false);
    expect(result.code).toBe(1); // --model is required: the handler must not swallow real errors
    const child = spawn(
      'node',
      [
        CLI,
        'eval',
        '--model',
        join(import.meta.dirname, '..', '..', '..', 'packages', 'model-default'),
        '--data',
        'brown',
        '--split',
        'all',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const code = await new Promise<number | null>((resolve) => {
      child.stderr!.once('data', () => setTimeout(() => child.kill('SIGINT'), 200));
      child.on('exit', (exitCode) => resolve(exitCode));
    });
    expect(code).toBe(130);
  });

  it('starts no Dawn (and prints no Vulkan warnings) unless WebGPU is asked for or a GPU shows', async () => {
    expect((await commandCandidates('wasm')).map((c) => c.name)).not.toContain('webgpu');
    expect((await commandCandidates('webgpu')).map((c) => c.name)).toContain('webgpu');
    expect((await commandCandidates('auto')).some((c) => c.name === 'webgpu')).toBe(gpuDevicePresent());
    if (!gpuDevicePresent()) {
      const { stderr } = await run('node', [CLI, 'generate', '--max-bytes', '8', '--seed', '1']);
      expect(stderr).not.toMatch(DAWN_NOISE);
    }
    // nor tfjs's banner about tfjs-node: the command's own backend line says it
    const { stderr } = await run('node', [
      CLI,
      'info',
      '--model',
      join(import.meta.dirname, '..', '..', '..', 'packages', 'model-default'),
    ]);
    expect(stderr).not.toMatch(/Hi, looks like you are running TensorFlow\.js/);
  });
});
