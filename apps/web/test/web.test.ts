// The built site in headless Chromium (Debian's /usr/bin/chromium, no GPU), driven by playwright-core.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build, type PreviewServer, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD, swiftShaderMissing } from '../../../packages/runtime-webgpu/test/helpers.js';

const APP = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOTS = join(APP, 'out/screenshots');
const CHROMIUM = '/usr/bin/chromium';

const PARAGRAPH =
  'The jury further said in term-end presentments that the City Executive Committee, which had over-all ' +
  'charge of the election, deserves the praise and thanks of the City of Atlanta for the manner in which ' +
  'the election was conducted. Zqxj vbnk wrtp!';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Waits for the model to be loaded; on a timeout the error says what the page shows instead. */
async function waitForModel(page: Page, timeout = 90_000): Promise<void> {
  try {
    await page.waitForSelector('body[data-model-ready]', { state: 'attached', timeout });
  } catch (error) {
    const shown = await page.evaluate(() =>
      ['#model-info', '#backend-info', '#load-text', '#load-error'].map(
        (id) => `${id}: ${document.querySelector(id)?.textContent}`,
      ),
    );
    throw new Error(`the model did not load: ${shown.join('; ')}`, { cause: error });
  }
}

const HEADLESS = [
  '--headless',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The site built into a temporary directory and served by `vite preview` on a free port. */
const site = { url: '', outDir: '', server: undefined as PreviewServer | undefined };

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  site.outDir = mkdtempSync(join(tmpdir(), 'megabyte-web-'));
  mkdirSync(SCREENSHOTS, { recursive: true });
  await build({ root: APP, logLevel: 'error', build: { outDir: site.outDir, emptyOutDir: true } });
  const port = await freePort();
  site.server = await preview({
    root: APP,
    logLevel: 'warn',
    build: { outDir: site.outDir },
    preview: { host: '127.0.0.1', port, strictPort: true },
  });
  site.url = `http://127.0.0.1:${port}/`;
});

afterAll(async () => {
  const { server } = site;
  if (server) await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
  if (site.outDir) rmSync(site.outDir, { recursive: true, force: true });
});

describe.skipIf(!existsSync(CHROMIUM))('web demo in Chromium on wasm', () => {
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...HEADLESS, '--disable-gpu'] });
    const context = await browser.newContext({
      viewport: { width: 1100, height: 900 },
      acceptDownloads: true,
    });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${site.url}?backend=wasm`);
    await waitForModel(page);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('loads the default model on onnxruntime-web wasm, with the backend and the reason shown', async () => {
    expect(await page.textContent('#model-info')).toMatch(
      /^default model, downloaded: MEGABYTE, patches of 4 bytes, 1,270,592 parameters, context 256 bytes, on onnxruntime-web \(wasm\)$/,
    );
    expect(await page.textContent('#backend-info')).toMatch(
      /^inference: onnxruntime-web 1\.30\.0, wasm, \d+ threads?; wasm was asked for \(\?backend=wasm\)\. Training: tfjs/,
    );
    // The preview server sends the COOP/COEP headers, so the wasm backends may use threads.
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('generates 200 bytes, streamed and shaded by patch', async () => {
    await page.fill('#prompt', 'The jury said');
    await page.fill('#max-bytes', '200');
    await page.fill('#seed', '3');
    await page.click('#generate');
    await page.waitForSelector('body[data-generated]', { timeout: 90_000 });
    expect(await page.getAttribute('body', 'data-generated')).toBe('200');
    const stats = await page.textContent('#generate-stats');
    expect(stats).toMatch(/^200 bytes in [\d.]+ s, [\d.]+ bytes\/s$/);
    const cells = await page.$$eval('#generate-output span', (spans) =>
      spans.map((span) => ({
        prompt: span.classList.contains('prompt'),
        even: span.classList.contains('patch-even'),
      })),
    );
    const generated = cells.filter((cell) => !cell.prompt);
    // 200 bytes of mostly ASCII: one cell per character, at most 4 bytes each.
    expect(generated.length).toBeGreaterThanOrEqual(50);
    expect(generated.some((cell) => cell.even) && generated.some((cell) => !cell.even)).toBe(true);
    expect(cells.filter((cell) => cell.prompt)).toHaveLength('The jury said'.length);
    await page.screenshot({ path: join(SCREENSHOTS, 'generate.png'), fullPage: true });
  });

  it('scores a pasted paragraph offline: bits per byte, compression and a per-byte heatmap', async () => {
    // Once loaded, the page needs no network: the scoring graph was cached in the background.
    await page.waitForFunction(
      async () => (await (await caches.open('megabyte-models')).keys()).length === 6,
    );
    await page.context().setOffline(true);
    await page.click('#tab-score');
    await page.fill('#score-text', PARAGRAPH);
    await page.click('#score');
    await page.waitForSelector('body[data-scored]', { timeout: 60_000 });
    const bpb = Number(await page.textContent('#score-bpb'));
    expect(bpb).toBeGreaterThan(0.5);
    expect(bpb).toBeLessThan(6);
    expect(await page.textContent('#score-ratio')).toMatch(/^\d+\.\d\d : 1/);
    const colours = await page.$$eval('#heatmap span', (spans) => spans.map((span) => span.style.background));
    expect(colours).toHaveLength(PARAGRAPH.length);
    expect(new Set(colours).size).toBeGreaterThan(5);
    await page.screenshot({ path: join(SCREENSHOTS, 'score.png'), fullPage: true });
    await page.context().setOffline(false);

    // Any file: every byte value three times (768 bytes, three windows): non-text bytes show as hex.
    const binary = Buffer.from(Array.from({ length: 768 }, (_, i) => i % 256));
    await page.setInputFiles('#score-file', {
      name: 'bytes.bin',
      mimeType: 'application/octet-stream',
      buffer: binary,
    });
    await page.click('#score');
    await page.waitForSelector('body[data-scored]', { state: 'attached', timeout: 60_000 });
    expect(await page.textContent('#score-progress-text')).toBe('768 / 768 bytes');
    expect(await page.textContent('#score-bytes')).toBe('768');
    expect(await page.$$eval('#heatmap span', (spans) => spans.length)).toBe(768);
    // 256 - 95 printable - tab and line feed = 159 hex cells per round.
    expect(await page.$$eval('#heatmap span.hex', (spans) => spans.length)).toBe(3 * 159);
    await page.screenshot({ path: join(SCREENSHOTS, 'score-binary.png'), fullPage: true });
  });

  it('stops a generation, and the tabs work from the keyboard', async () => {
    await page.click('#tab-generate');
    await page.fill('#max-bytes', '4000');
    await page.click('#generate');
    await page.waitForFunction(() =>
      /bytes\/s$/.test(document.querySelector('#generate-stats')?.textContent ?? ''),
    );
    await page.click('#generate-stop');
    await page.waitForSelector('body[data-generated]', { state: 'attached', timeout: 60_000 });
    expect(Number(await page.getAttribute('body', 'data-generated'))).toBeLessThan(4000);
    expect(await page.textContent('#generate-stats')).toMatch(/\(stopped\)$/);

    await page.focus('#tab-generate');
    await page.keyboard.press('ArrowRight');
    expect(await page.getAttribute('#tab-score', 'aria-selected')).toBe('true');
    expect(await page.isVisible('#view-score')).toBe(true);
    await page.keyboard.press('End');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-model');
    await page.keyboard.press('Home');
    expect(await page.isVisible('#view-generate')).toBe(true);
  });

  it('a file that is not a model gives a visible error, and the page keeps working', async () => {
    await page.click('#tab-model');
    await page.setInputFiles('#model-files', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('not a model at all'),
    });
    await page.waitForSelector('#model-error:not([hidden])');
    expect(await page.textContent('#model-error')).toMatch(
      /notes\.txt is not a model: a checkpoint is a directory/,
    );
    await page.setInputFiles('#model-files', [
      { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from('{"kind":"megabyte"}') },
      { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('garbage') },
    ]);
    await page.waitForFunction(() =>
      /not a valid model config/.test(document.querySelector('#model-error')?.textContent ?? ''),
    );
    // Dropped on the drop zone (a synthetic drop has no directory entries: its plain file list is read).
    const dropped = await page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['{"weights": []}'], 'weights.json'));
      return transfer;
    });
    await page.dispatchEvent('#model-drop', 'drop', { dataTransfer: dropped });
    await page.waitForFunction(() =>
      /^weights\.json is not a model/.test(document.querySelector('#model-error')?.textContent ?? ''),
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'bad-model.png'), fullPage: true });

    expect(await page.textContent('#model-info')).toMatch(/^default model/);

    // The build's own ONNX export of the default model, brought from disk as `megabyte export` writes it.
    const exported = ['default.json', 'default.global.onnx', 'default.local.onnx'].map((name) =>
      join(site.outDir, 'models/default', name),
    );
    await page.setInputFiles('#model-files', exported);
    await page.waitForFunction(() =>
      /^Loaded: default \(ONNX, from disk\)/.test(document.querySelector('#model-ok')?.textContent ?? ''),
    );
    expect(await page.isHidden('#model-error')).toBe(true);

    await page.click('#tab-generate');
    await page.fill('#max-bytes', '16');
    await page.click('#generate');
    await page.waitForSelector('body[data-generated="16"]', { timeout: 60_000 });
    expect(pageErrors).toEqual([]);
  });

  it('fine-tunes the default model from its checkpoint, then generates from it on tfjs', async () => {
    await page.click('#tab-model');
    await page.click('#reload-default');
    await page.waitForFunction(() =>
      /^Loaded: default model, from the browser cache\.$/.test(
        document.querySelector('#model-ok')?.textContent ?? '',
      ),
    );
    await page.click('#tab-train');
    await page.check('input[name="train-start"][value="fine-tune"]');
    await page.fill('#train-text', PARAGRAPH.repeat(6));
    await page.fill('#train-steps', '1');
    await page.fill('#train-batch', '1');
    await page.click('#train');
    await page.waitForFunction(
      () =>
        /^done after 1 steps, validation [\d.]+ bpb$/.test(
          document.querySelector('#train-stats')?.textContent ?? '',
        ),
      undefined,
      { timeout: 90_000 },
    );
    expect(await page.textContent('#model-info')).toMatch(
      /^default model, from the browser cache \(trained in this page, 1 steps\): MEGABYTE, patches of 4 bytes, 1,270,592 parameters, context 256 bytes, on tfjs \(wasm\)$/,
    );
    await page.click('#tab-generate');
    await page.fill('#max-bytes', '16');
    await page.click('#generate');
    await page.waitForSelector('body[data-generated="16"]', { state: 'attached', timeout: 60_000 });
  });

  it('trains a new tiny model for a few steps, charts it, and downloads the checkpoint', async () => {
    await page.click('#tab-train');
    await page.check('input[name="train-start"][value="scratch"]');
    await page.fill('#train-text', PARAGRAPH.repeat(4));
    await page.fill('#train-steps', '4');
    await page.fill('#train-batch', '2');
    await page.click('#train');
    await page.waitForFunction(
      () =>
        /^done after 4 steps, validation [\d.]+ bpb$/.test(
          document.querySelector('#train-stats')?.textContent ?? '',
        ),
      undefined,
      {
        timeout: 90_000,
      },
    );
    expect(await page.$$('#train-chart polyline')).toHaveLength(1);
    expect(await page.textContent('#model-info')).toMatch(
      /^new tiny model \(trained in this page, 4 steps\)/,
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'train.png'), fullPage: true });

    const downloads: string[] = [];
    page.on('download', (download) => downloads.push(download.suggestedFilename()));
    await page.click('#download');
    await page.waitForFunction(() => !(document.querySelector('#download') as HTMLButtonElement).disabled);
    await expect.poll(() => downloads.sort()).toEqual(['config.json', 'model.safetensors']);
  });

  it('reads the default model from the browser cache on the next visit, and fits a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await waitForModel(page);
    expect(await page.textContent('#model-info')).toMatch(/^default model, from the browser cache/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'phone.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});

// WebGPU on Chromium's software Vulkan driver, the path a browser with a GPU takes.
describe.skipIf(!existsSync(CHROMIUM) || swiftShaderMissing !== undefined)(
  `web demo in Chromium on WebGPU (SwiftShader)${swiftShaderMissing ? `: skipped, ${swiftShaderMissing}` : ''}`,
  () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          ...HEADLESS,
          '--enable-unsafe-webgpu',
          '--enable-features=Vulkan',
          '--use-vulkan=swiftshader',
          '--use-webgpu-adapter=swiftshader',
        ],
        env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD, VK_DRIVER_FILES: SWIFTSHADER_ICD },
      });
    });

    afterAll(async () => {
      await browser?.close();
    });

    it('auto passes over the software adapter for wasm, and says why', async () => {
      const page = await browser.newPage();
      await page.goto(site.url);
      await waitForModel(page);
      expect(await page.textContent('#backend-info')).toMatch(
        /^inference: onnxruntime-web 1\.30\.0, wasm, .*no WebGPU: the only WebGPU adapter is a software one \(google swiftshader\)/,
      );
      await page.close();
    });

    it('?backend=webgpu generates on the WebGPU execution provider', async () => {
      const page = await browser.newPage();
      await page.goto(`${site.url}?backend=webgpu`);
      await waitForModel(page, 180_000);
      expect(await page.textContent('#backend-info')).toMatch(
        /^inference: onnxruntime-web 1\.30\.0, WebGPU \(google swiftshader/,
      );
      expect(await page.textContent('#model-info')).toMatch(/on onnxruntime-web \(webgpu\)$/);
      await page.fill('#max-bytes', '8');
      await page.click('#generate');
      await page.waitForSelector('body[data-generated="8"]', { state: 'attached', timeout: 100_000 });
      expect(await page.isHidden('#generate-error')).toBe(true);
      await page.screenshot({ path: join(SCREENSHOTS, 'webgpu.png'), fullPage: true });
      await page.close();
    }, 300_000); // SwiftShader compiles every shader on the CPU: minutes on a busy machine
  },
);
