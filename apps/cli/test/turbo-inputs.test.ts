// turbo serves a cached build when none of a task's inputs changed, so every file a build reads
// must be an input: otherwise an edit to it leaves a stale dist/ behind.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');

function buildInputs(): Map<string, string[]> {
  const out = execFileSync(
    'pnpm',
    ['turbo', 'run', 'build', '--filter=@megabyte/web', '--filter=@megabyte/cli', '--dry=json'],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } },
  );
  const plan = JSON.parse(out.slice(out.indexOf('{'))) as {
    tasks: { taskId: string; inputs: Record<string, string> }[];
  };
  return new Map(plan.tasks.map((task) => [task.taskId, Object.keys(task.inputs)]));
}

describe('turbo build inputs', () => {
  const inputs = buildInputs();

  it('the web build depends on its page, vite config, build scripts and the models it ships', () => {
    const web = inputs.get('@megabyte/web#build')!;
    for (const file of ['index.html', 'vite.config.ts', 'build/export-onnx.ts', 'src/main.ts']) {
      expect(web).toContain(file);
    }
    for (const file of ['config.json', 'model.safetensors', 'README.md']) {
      expect(web).toContain(`../../packages/model-default/${file}`);
    }
    // the built-in image model, shipped when models/image-tiny is there
    if (existsSync(join(ROOT, 'models', 'image-tiny', 'config.json'))) {
      expect(web).toContain('../../models/image-tiny/config.json');
      expect(web).toContain('../../models/image-tiny/model.safetensors');
    }
  });

  it('the CLI bundle depends on its esbuild script', () => {
    expect(inputs.get('@megabyte/cli#build')).toContain('build.mjs');
  });
});
