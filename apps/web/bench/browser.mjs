// Generation and scoring speed of the built site in headless Chromium, per engine: the default
// model on onnxruntime-web (wasm) and the same checkpoint on tfjs (wasm). Prints a table and
// writes apps/web/out/bench.json.   Run: node apps/web/bench/browser.mjs [generateBytes] [scoreBytes]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';

const APP = fileURLToPath(new URL('..', import.meta.url));
const OUT = `${APP}out/`;
const MODEL = fileURLToPath(new URL('../../../packages/model-default/', import.meta.url));
const generateBytes = Number(process.argv[2] ?? 400);
const scoreBytes = Number(process.argv[3] ?? 32_768);

await build({ root: APP, logLevel: 'error', build: { outDir: `${OUT}bench-site`, emptyOutDir: true } });
const server = await preview({
  root: APP,
  logLevel: 'error',
  build: { outDir: `${OUT}bench-site` },
  preview: { host: '127.0.0.1', port: 4799 },
});
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
// Brown-like English: the model's own README, repeated to the size asked for.
const text = readFileSync(`${MODEL}README.md`, 'utf8')
  .repeat(Math.ceil(scoreBytes / 2000))
  .slice(0, scoreBytes);

async function measure(engine) {
  const page = await browser.newPage();
  await page.goto('http://127.0.0.1:4799/?backend=wasm');
  await page.waitForSelector('body[data-model-ready]', { state: 'attached', timeout: 120_000 });
  if (engine === 'tfjs') {
    await page.click('#tab-model');
    await page.setInputFiles('#model-files', [`${MODEL}config.json`, `${MODEL}model.safetensors`]);
    await page.waitForFunction(() =>
      /on tfjs/.test(document.querySelector('#model-info')?.textContent ?? ''),
    );
    await page.click('#tab-generate');
  }
  await page.fill('#max-bytes', String(generateBytes));
  await page.click('#generate');
  await page.waitForSelector('body[data-generated]', { state: 'attached', timeout: 600_000 });
  const stats = await page.textContent('#generate-stats');
  const [, bytes, seconds] = /^(\d+) bytes in ([\d.]+) s/.exec(stats);
  await page.click('#tab-score');
  await page.fill('#score-text', text);
  const started = Date.now();
  await page.click('#score');
  await page.waitForSelector('body[data-scored]', { state: 'attached', timeout: 600_000 });
  const scoreSeconds = (Date.now() - started) / 1000;
  const row = {
    engine: (await page.textContent('#model-info')).replace(/.* on /, ''),
    backend: await page.textContent('#backend-info'),
    generatedBytes: Number(bytes),
    generateBytesPerSecond: Number(bytes) / Number(seconds),
    scoredBytes: text.length,
    scoreBytesPerSecond: text.length / scoreSeconds,
    bitsPerByte: Number(await page.textContent('#score-bpb')),
  };
  await page.close();
  return row;
}

const rows = [await measure('onnx'), await measure('tfjs')];
await browser.close();
server.httpServer.close();
console.table(
  rows.map((r) => ({
    engine: r.engine,
    'generate bytes/s': r.generateBytesPerSecond.toFixed(1),
    'score bytes/s': r.scoreBytesPerSecond.toFixed(0),
    bpb: r.bitsPerByte,
  })),
);
mkdirSync(OUT, { recursive: true });
const report = { date: new Date().toISOString(), cpus: cpus().length, loadavg: loadavg(), rows };
writeFileSync(`${OUT}bench.json`, `${JSON.stringify(report, null, 2)}\n`);
console.log(
  `wrote ${OUT}bench.json (load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')})`,
);
