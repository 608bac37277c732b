#!/usr/bin/env node
// The pack check before `changeset publish`: every publishable package is packed as npm would
// upload it, then linted with publint (package.json against the files) and checked with
// are-the-types-wrong (types resolve for ESM consumers under node16 and bundler resolution).
//   node scripts/release-check.mjs      (after `pnpm build`; `pnpm release` runs both)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAll, publishableFolders } from './consumer/pack.mjs';

const out = mkdtempSync(join(tmpdir(), 'megabyte-release-'));
const failures = [];
try {
  const tarballs = packAll(out);
  for (const { folder, name } of publishableFolders()) {
    const checks = [
      ['publint', ['exec', 'publint', '--strict', folder]],
      [
        'attw',
        ['exec', 'attw', '--profile', 'esm-only', '--no-emoji', '--format', 'table-flipped', tarballs[name]],
      ],
    ];
    for (const [tool, args] of checks) {
      const result = spawnSync('pnpm', args, { encoding: 'utf8' });
      const ok = result.status === 0;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${tool.padEnd(7)} ${name}`);
      if (!ok) failures.push(`${tool} ${name}:\n${result.stdout}${result.stderr}`);
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.error(`\n${failures.join('\n')}`);
  process.exit(1);
}
