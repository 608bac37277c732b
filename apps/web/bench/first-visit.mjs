// A first visit over a slow line: how many bytes the built site sends and how long until the page
// is ready to generate, then until everything for offline use is cached, then the next visit. Between Chromium and
// `vite preview` sits a proxy that lets through at most RATE bits per second in total (all
// connections share it), so the workers' downloads are throttled as much as the page's.
//   Run: node apps/web/bench/first-visit.mjs [megabitsPerSecond=8] [backend=wasm]
// Prints a table and writes apps/web/out/first-visit.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { Transform } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';

const APP = fileURLToPath(new URL('..', import.meta.url));
const OUT = `${APP}out/`;
const megabits = Number(process.argv[2] ?? 8);
const backend = process.argv[3] ?? 'wasm';
const bytesPerSecond = (megabits * 1e6) / 8;

await build({ root: APP, logLevel: 'error', build: { outDir: `${OUT}bench-site`, emptyOutDir: true } });
const server = await preview({
  root: APP,
  logLevel: 'error',
  build: { outDir: `${OUT}bench-site` },
  preview: { host: '127.0.0.1', port: 4798, strictPort: true },
});

/** One shared budget: a chunk waits until the line has had time to carry the bytes before it. */
let lineFreeAt = 0;
let sent = 0;
function throttle() {
  return new Transform({
    transform(chunk, _encoding, done) {
      const now = performance.now();
      lineFreeAt = Math.max(lineFreeAt, now) + (chunk.length / bytesPerSecond) * 1000;
      sent += chunk.length;
      setTimeout(() => done(null, chunk), lineFreeAt - now);
    },
  });
}

const proxy = createServer((incoming, outgoing) => {
  const forward = request(
    { host: '127.0.0.1', port: 4798, path: incoming.url, method: incoming.method, headers: incoming.headers },
    (response) => {
      outgoing.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(throttle()).pipe(outgoing);
    },
  );
  incoming.pipe(forward);
});
await new Promise((resolve) => proxy.listen(4797, '127.0.0.1', resolve));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
const page = await browser.newPage();
const started = performance.now();
await page.goto(`http://127.0.0.1:4797/?backend=${backend}`);
const stated = await page
  .waitForFunction(() => {
    const text = document.querySelector('#download-summary')?.textContent ?? '';
    return /MB/.test(text) && text;
  })
  .then((handle) => handle.jsonValue());
await page.waitForSelector('body[data-model-ready]', { state: 'attached', timeout: 600_000 });
const ready = { seconds: (performance.now() - started) / 1000, bytes: sent };
await page.waitForSelector('body[data-offline="ready"]', { state: 'attached', timeout: 600_000 });
const offline = { seconds: (performance.now() - started) / 1000, bytes: sent };
const summary = await page.textContent('#download-summary');
// The next visit: the service worker and the caches answer, the network carries the page only.
const reloaded = performance.now();
const sentBefore = sent;
await page.reload();
await page.waitForSelector('body[data-model-ready]', { state: 'attached', timeout: 600_000 });
const again = { seconds: (performance.now() - reloaded) / 1000, bytes: sent - sentBefore };
await browser.close();
proxy.close();
server.httpServer.close();

const result = { megabitsPerSecond: megabits, backend, stated, ready, offline, summary, again };
console.log(`first visit at ${megabits} Mbit/s (${backend}); the page first said: ${stated}`);
console.log('| milestone | seconds | MB over the network |');
console.log('| --- | --- | --- |');
console.log(`| ready to generate | ${ready.seconds.toFixed(1)} | ${(ready.bytes / 1e6).toFixed(3)} |`);
console.log(
  `| everything cached for offline | ${offline.seconds.toFixed(1)} | ${(offline.bytes / 1e6).toFixed(3)} |`,
);
console.log(
  `| next visit: ready to generate | ${again.seconds.toFixed(1)} | ${(again.bytes / 1e6).toFixed(3)} |`,
);
mkdirSync(OUT, { recursive: true });
writeFileSync(`${OUT}first-visit.json`, `${JSON.stringify(result, null, 2)}\n`);
