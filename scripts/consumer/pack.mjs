#!/usr/bin/env node
// Packs every publishable workspace package (what `npm publish` would upload) into one folder and
// prints a JSON map { packageName: absoluteTarballPath }. Usage: node scripts/consumer/pack.mjs OUT_DIR
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** The folders of the packages a consumer can install: every workspace package that is not private. */
export function publishableFolders() {
  const folders = [];
  for (const parent of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, parent))) {
      const folder = join(root, parent, name);
      let manifest;
      try {
        manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      if (!manifest.private) folders.push({ folder, name: manifest.name, version: manifest.version });
    }
  }
  return folders;
}

/** Runs `pnpm pack` in each publishable folder; returns { name: tarball path }. */
export function packAll(outDir) {
  mkdirSync(outDir, { recursive: true });
  const tarballs = {};
  for (const { folder, name, version } of publishableFolders()) {
    execFileSync('pnpm', ['pack', '--pack-destination', outDir], { cwd: folder, stdio: 'ignore' });
    const file = `${name.replace('@', '').replace('/', '-')}-${version}.tgz`;
    tarballs[name] = join(outDir, file);
  }
  writeFileSync(join(outDir, 'tarballs.json'), `${JSON.stringify(tarballs, null, 2)}\n`);
  return tarballs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = resolve(process.argv[2] ?? 'packed');
  console.log(JSON.stringify(packAll(out), null, 2));
}
