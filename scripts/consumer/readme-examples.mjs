#!/usr/bin/env node
// Every TypeScript example in the READMEs, checked from a consumer project that installed the
// packed packages: all are typechecked together (tsc --noEmit against the packed types), then each
// is run in plain Node. A README marks an example with an HTML comment on the line before it:
//   <!-- example: continues -->              the previous example's code comes first (same README)
//   <!-- example: typecheck-only: REASON --> typechecked, not run (REASON says why it cannot run here)
//   node scripts/consumer/readme-examples.mjs --project DIR [--json out.json] [--only core]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '../..');
const esbuild = createRequire(join(root, 'apps/cli/package.json'))('esbuild');
const MARKER = /^<!--\s*example:\s*(continues|typecheck-only)(?::\s*(.*?))?\s*-->$/;

export function readmeFiles() {
  const files = [join(root, 'README.md')];
  for (const parent of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, parent)).sort()) {
      const file = join(root, parent, name, 'README.md');
      if (existsSync(file)) files.push(file);
    }
  }
  return files;
}

/** The ```ts blocks of one README, with their markers; `code` includes continued examples. */
export function extractExamples(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const examples = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(ts|typescript)\s*$/.exec(lines[i]);
    if (!fence) continue;
    let previous = i - 1;
    while (previous >= 0 && lines[previous].trim() === '') previous--;
    const marker = MARKER.exec(lines[previous]?.trim() ?? '');
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code block`);
    const own = lines.slice(i + 1, end).join('\n');
    const continues = marker?.[1] === 'continues';
    if (continues && examples.length === 0)
      throw new Error(`${file}:${i + 1}: "continues" on the first example`);
    const before = continues ? examples[examples.length - 1] : undefined;
    examples.push({
      file: relative(root, file),
      line: i + 1,
      code: before ? mergeExamples(before.code, own) : own,
      runnable: marker?.[1] !== 'typecheck-only' && before?.runnable !== false,
      reason: marker?.[1] === 'typecheck-only' ? marker[2] : before?.reason,
    });
    i = end;
  }
  return examples;
}

/** The earlier example then the later one, imports first and each imported name once. */
function mergeExamples(first, second) {
  const a = splitImports(first);
  const b = splitImports(second);
  const seen = new Set(a.imports.flatMap(importedNames));
  const kept = b.imports.flatMap((statement) => {
    const names = importedNames(statement);
    const fresh = names.filter((name) => !seen.has(name));
    for (const name of fresh) seen.add(name);
    if (fresh.length === names.length) return [statement];
    if (fresh.length === 0) return [];
    const from = /from\s+'[^']+';/.exec(statement)[0];
    return [`import { ${fresh.join(', ')} } ${from}`];
  });
  return [...a.imports, ...kept, a.body, b.body].join('\n');
}

const IMPORT = /^import\s[^;]*;\n?/;

/** The leading import statements (each possibly over several lines) and the rest. */
function splitImports(code) {
  const imports = [];
  let rest = code;
  for (;;) {
    rest = rest.replace(/^(\s*\/\/[^\n]*\n|\s*\n)+/, (comments) => (comments.trim() === '' ? '' : comments));
    const match = IMPORT.exec(rest);
    if (!match) break;
    imports.push(match[0].trim());
    rest = rest.slice(match[0].length);
  }
  return { imports, body: rest };
}

/** What an import statement binds: named imports, a namespace or default, or the module itself. */
function importedNames(statement) {
  const named = /\{([^}]*)\}/.exec(statement);
  if (named) {
    return named[1]
      .split(',')
      .map((part) => part.trim().replace(/^type\s+/, ''))
      .filter(Boolean)
      .map((part) => part.split(/\s+as\s+/).pop());
  }
  const binding = /^import\s+(?:\*\s+as\s+)?(\w+)\s+from/.exec(statement);
  return [binding ? binding[1] : statement];
}

function run(command, args, options) {
  return spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
}

/** Typechecks all examples in one program; returns the tsc diagnostics per example file. */
function typecheck(project, files) {
  const tsconfig = {
    compilerOptions: {
      target: 'es2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      lib: ['es2022', 'dom'],
    },
    files,
  };
  writeFileSync(join(project, 'tsconfig.examples.json'), JSON.stringify(tsconfig, null, 2));
  const result = run(
    join(project, 'node_modules/.bin/tsc'),
    ['-p', 'tsconfig.examples.json', '--pretty', 'false'],
    { cwd: project },
  );
  const errors = new Map();
  for (const line of `${result.stdout}${result.stderr}`.split('\n')) {
    const match = /^(examples\/[^(]+)\(/.exec(line);
    if (match) errors.set(match[1], [...(errors.get(match[1]) ?? []), line]);
  }
  return errors;
}

export function checkExamples(project, { only, timeoutMs = 300_000 } = {}) {
  const dir = join(project, 'examples');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const examples = readmeFiles()
    .flatMap(extractExamples)
    .filter((example) => !only || example.file.includes(only));
  examples.forEach((example, index) => {
    example.name = `examples/${example.file.replace(/\/README\.md$/, '').replace(/\W+/g, '-')}-${index}.ts`;
    writeFileSync(join(project, example.name), `${example.code}\nexport {};\n`);
  });
  const errors = typecheck(
    project,
    examples.map((example) => example.name),
  );
  for (const example of examples) {
    example.typecheck = errors.has(example.name) ? errors.get(example.name).slice(0, 3).join(' | ') : 'ok';
    if (!example.runnable) {
      example.run = `typecheck only (${example.reason ?? 'no reason given'})`;
      continue;
    }
    const js = esbuild.transformSync(readFileSync(join(project, example.name), 'utf8'), {
      loader: 'ts',
      format: 'esm',
    }).code;
    const script = example.name.replace(/\.ts$/, '.mjs');
    writeFileSync(join(project, script), js);
    const started = Date.now();
    const result = run('node', [script], { cwd: project, timeout: timeoutMs });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const failure = result.error
      ? String(result.error.message)
      : (result.stderr.match(/^\w*Error\b.*$|^error TS.*$|Error: .*$/m) ?? [
          result.stderr.trim().split('\n').pop(),
        ])[0];
    example.run = result.status === 0 ? `ok (${seconds} s)` : `fails: ${failure}`;
    example.output = result.stdout.slice(0, 400);
  }
  return examples;
}

export function report(examples) {
  return examples.map((e) => `${e.file}:${e.line}  typecheck: ${e.typecheck}  run: ${e.run}`).join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { project: { type: 'string' }, json: { type: 'string' }, only: { type: 'string' } },
  });
  const examples = checkExamples(resolve(values.project), { only: values.only });
  console.log(report(examples));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(examples, null, 2)}\n`);
  const failed = examples.filter((e) => e.typecheck !== 'ok' || e.run.startsWith('fails'));
  if (failed.length > 0) {
    console.error(`${failed.length} of ${examples.length} README examples fail`);
    process.exitCode = 1;
  }
}
