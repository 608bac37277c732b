// The built site in headless Chromium (Debian's /usr/bin/chromium, no GPU), driven by playwright-core.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
// tfjs-core and its backend before any @megabyte/* import, so they share one tfjs instance.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createModel, encodeModel } from '@megabyte/core';
import { microMegabyteConfig } from '@megabyte/core/testing';
import { encodePng } from '@megabyte/patching/node';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build, type PreviewServer, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD, swiftShaderMissing } from '../../../packages/runtime-webgpu/test/helpers.js';

const APP = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOTS = join(APP, 'out/screenshots');
const CHROMIUM = '/usr/bin/chromium';
/** The site is built with a built-in image model when models/image-tiny has one. */
const IMAGE_MODEL_SHIPPED = existsSync(join(APP, '../../models/image-tiny/media.json'));

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

/**
 * Presses Tab from the focused tab until focus leaves the tab's panel: the panel's enabled, shown
 * controls (`wanted`) and those that got focus (`reached`), by id (or name, or tag).
 */
async function tabThroughPanel(
  page: Page,
  name: string,
): Promise<{ wanted: string[]; reached: Set<string> }> {
  const wanted = await page.$$eval(
    `#view-${name} :is(button, input, textarea, select, [tabindex="0"])`,
    (all) =>
      all
        .filter(
          (element) => !(element as HTMLButtonElement).disabled && (element as HTMLElement).offsetParent,
        )
        .map((element) => element.id || element.getAttribute('name') || element.tagName),
  );
  const reached = new Set<string>();
  for (let presses = 0; presses < 40; presses++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const element = document.activeElement as HTMLElement | null;
      const inPanel = element?.closest('[role="tabpanel"]');
      return inPanel ? element!.id || element!.getAttribute('name') || element!.tagName : null;
    });
    if (focused === null) break;
    reached.add(focused);
  }
  return { wanted, reached };
}

/** Waits for the model to be loaded; on a timeout the error says what the page shows instead. */
async function waitForModel(page: Page, timeout = 90_000): Promise<void> {
  try {
    await page.waitForSelector('body[data-model-ready]', { state: 'attached', timeout });
  } catch (error) {
    const shown = await page.evaluate(() =>
      ['#model-info', '#backend-info', '#download-summary', '#load-error'].map(
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
      permissions: ['clipboard-read', 'clipboard-write'],
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
      /^default model, downloaded: MEGABYTE, patches of 4 bytes, 3,679,968 parameters, context 256 bytes, on onnxruntime-web \(wasm\)$/,
    );
    // One short line; the reason in the details under it; the picker shows the choice.
    expect(await page.textContent('#backend-info')).toMatch(
      /^onnxruntime-web 1\.30\.0, wasm, \d+ threads?\. Training: tfjs/,
    );
    expect(await page.textContent('#backend-why')).toMatch(
      /^Inference: wasm was asked for \(\?backend=wasm\)\. /,
    );
    expect(await page.inputValue('#engine')).toBe('wasm');
    // The honest line about the built-in model quotes its measured bits per byte (packages/model-default/README.md).
    expect(await page.textContent('#model-about')).toMatch(
      /^The built-in model is small: 3\.7 million parameters, .* It scores 2\.19 bits per byte on held-out Brown text/,
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

  it('copies the generated text, and Ctrl+Enter generates', async () => {
    await page.click('#generate-copy');
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied.startsWith('The jury said')).toBe(true);
    expect(new TextEncoder().encode(copied).length).toBeGreaterThanOrEqual(200);
    expect(await page.textContent('#generate-stats')).toMatch(/^copied \d+ bytes of text$/);

    await page.fill('#max-bytes', '8');
    await page.focus('#prompt');
    await page.keyboard.press('Control+Enter');
    await page.waitForSelector('body[data-generated="8"]', { state: 'attached', timeout: 60_000 });
  });

  it('one-click examples: a prompt, English vs. random text, and a file', async () => {
    await page.fill('#max-bytes', '12');
    await page.click('#example-generate');
    await page.waitForSelector('body[data-generated="12"]', { state: 'attached', timeout: 60_000 });
    expect(await page.inputValue('#prompt')).toBe('The jury said');

    await page.click('#example-score');
    expect(await page.getAttribute('#tab-score', 'aria-selected')).toBe('true');
    await page.waitForSelector('body[data-scored]', { state: 'attached', timeout: 60_000 });
    // The first line is English, the second random letters: the model is far less surprised by the first.
    const lines = await page.$$eval('#heatmap', ([map]) => {
      const bits = (span: Element) => Number(/: ([\d.]+) bits$/.exec(span.getAttribute('title') ?? '')?.[1]);
      const spans = [...map!.children];
      const newline = spans.findIndex((span) => span.tagName === 'BR');
      const mean = (list: Element[]) => {
        const cells = list.filter((span) => span.tagName === 'SPAN');
        return cells.reduce((sum, span) => sum + bits(span), 0) / cells.length;
      };
      return [mean(spans.slice(0, newline)), mean(spans.slice(newline + 1))];
    });
    expect(lines[0]).toBeLessThan(lines[1]! - 1);

    const chooser = page.waitForEvent('filechooser');
    await page.click('#example-file');
    await (await chooser).setFiles({
      name: 'hello.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(PARAGRAPH),
    });
    await page.waitForFunction(
      (length) =>
        document.querySelector('#score-bytes')?.textContent === length && document.body.dataset.scored,
      String(PARAGRAPH.length),
      { timeout: 60_000 },
    );
    expect(await page.textContent('#score-drop span')).toBe('File: hello.txt');
  });

  it('Stop on Score says where it stopped and keeps the partial bits per byte; nothing stale stays', async () => {
    await page.click('#tab-score');
    // Editing the text forgets the chosen file, and the drop zone stops naming it.
    await page.fill('#score-text', 'x');
    expect(await page.textContent('#score-drop span')).toBe('Or drop any file here (or choose one)');
    expect(await page.$eval('#score-file', (file: HTMLInputElement) => file.files?.length)).toBe(0);
    // 64 chunks of 8 windows: long enough to stop in the middle.
    await page.fill('#score-text', PARAGRAPH.repeat(400));
    await page.click('#score');
    // The previous result is gone as soon as a new score starts.
    expect(await page.isHidden('#score-result')).toBe(true);
    await page.waitForFunction(() => {
      const bar = document.querySelector<HTMLProgressElement>('#score-bar')!;
      return bar.value > 0;
    });
    await page.click('#score-stop');
    await page.waitForSelector('body[data-scored]', { state: 'attached', timeout: 60_000 });
    const status = (await page.textContent('#score-status')) ?? '';
    const [, done, total] = /^stopped at ([\d,]+) \/ ([\d,]+) bytes$/.exec(status) ?? [];
    expect(total).toBe((PARAGRAPH.length * 400).toLocaleString('en'));
    expect(Number(done!.replaceAll(',', ''))).toBeLessThan(PARAGRAPH.length * 400);
    expect(await page.textContent('#score-bytes')).toBe(`${done} of ${total}`);
    expect(Number(await page.textContent('#score-bpb'))).toBeGreaterThan(0.5);
    expect(await page.textContent('#score-note')).toMatch(/^Stopped: the numbers are for the first /);
    expect(await page.textContent('body')).not.toMatch(/signal is aborted|\.\.(?!\.)/);
    expect(await page.isHidden('#score-error')).toBe(true);
  });

  it('reads heatmap values by keyboard and by tap; prompt text on patch shading has contrast >= 4.5', async () => {
    await page.fill('#score-text', 'Hello there');
    await page.click('#score');
    await page.waitForSelector('body[data-scored]', { state: 'attached', timeout: 60_000 });
    await page.focus('#heatmap');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.textContent('#heat-readout')).toMatch(/^Character 2 of 11: "e" 0x65: [\d.]+ bits$/);
    await page.keyboard.press('End');
    expect(await page.textContent('#heat-readout')).toMatch(/^Character 11 of 11: "e"/);
    await page.click('#heatmap span:nth-child(5)');
    expect(await page.textContent('#heat-readout')).toMatch(/^Character 5 of 11: "o" 0x6f: [\d.]+ bits$/);

    await page.click('#tab-generate');
    const ratios = await page.$$eval('#generate-output span.prompt', (spans) => {
      const luminance = (css: string) => {
        const [r, g, b] = css
          .match(/[\d.]+/g)!
          .map(Number)
          .map((v) => v / 255);
        const linear = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
        return 0.2126 * linear(r!) + 0.7152 * linear(g!) + 0.0722 * linear(b!);
      };
      return spans.map((span) => {
        const style = getComputedStyle(span);
        const [a, b] = [luminance(style.color), luminance(style.backgroundColor)].sort((x, y) => y - x);
        return (a! + 0.05) / (b! + 0.05);
      });
    });
    expect(ratios.length).toBeGreaterThan(0);
    expect(Math.min(...ratios)).toBeGreaterThanOrEqual(4.5);
  });

  it('goes through every tab and its controls by keyboard, with the focus ring inside the tab strip', async () => {
    // The Images tab is in the strip when the site has a built-in image model.
    const views = ['generate', 'score', ...(IMAGE_MODEL_SHIPPED ? ['images'] : []), 'train', 'model'];
    for (const [index, name] of views.entries()) {
      // Into the tab strip by keyboard: Home, then ArrowRight to this tab.
      await page.focus('#tab-generate');
      await page.keyboard.press('Home');
      for (let step = 0; step < index; step++) await page.keyboard.press('ArrowRight');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe(`tab-${name}`);
      // The focus ring is drawn (keyboard focus) and stays inside the scrolling strip, which clips it.
      const ring = await page.$eval(`#tab-${name}`, (tab) => {
        const style = getComputedStyle(tab);
        const outside = Number.parseFloat(style.outlineWidth) + Number.parseFloat(style.outlineOffset);
        const box = tab.getBoundingClientRect();
        const strip = tab.parentElement!.getBoundingClientRect();
        return {
          visible: tab.matches(':focus-visible') && style.outlineStyle !== 'none',
          inside: box.top - outside >= strip.top && box.bottom + outside <= strip.bottom,
        };
      });
      expect(ring).toEqual({ visible: true, inside: true });
      // Tab from the tab into the panel reaches every enabled control in it.
      const { wanted, reached } = await tabThroughPanel(page, name);
      for (const id of wanted) expect(reached, `${id} in ${name}`).toContain(id);
    }
  });

  it('scores a pasted paragraph offline: bits per byte, compression and a per-byte heatmap', async () => {
    // Once loaded, the page needs no network: the scoring graph was cached in the background.
    await page.waitForSelector('body[data-offline="ready"]', { state: 'attached', timeout: 90_000 });
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
      /^default model, from the browser cache \(trained in this page, 1 steps\): MEGABYTE, patches of 4 bytes, 3,679,968 parameters, context 256 bytes, on tfjs \(wasm\)$/,
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
    // The training engine's description is on the page now: still no double full stops.
    expect(await page.textContent('body')).not.toMatch(/[^.]\.\.(?!\.)/);
    // On a phone the chart's labels keep a readable size (the drawing follows the chart's width).
    await page.setViewportSize({ width: 390, height: 844 });
    await expect
      .poll(() =>
        page.$$eval('#train-chart .tick', (ticks) =>
          Math.min(...ticks.map((t) => t.getBoundingClientRect().height)),
        ),
      )
      .toBeGreaterThanOrEqual(12);
    await page.setViewportSize({ width: 1100, height: 900 });
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

  it('the engine picker reloads the page with the engine chosen', async () => {
    await Promise.all([page.waitForURL(site.url), page.selectOption('#engine', 'auto')]);
    await waitForModel(page);
    expect(await page.inputValue('#engine')).toBe('auto');
    // No GPU here (--disable-gpu): auto says why it took wasm.
    expect(await page.textContent('#backend-why')).toMatch(/^Inference: no WebGPU: /);
    await Promise.all([page.waitForURL(`${site.url}?backend=wasm`), page.selectOption('#engine', 'wasm')]);
    await waitForModel(page);
    expect(await page.textContent('#backend-info')).toMatch(/^onnxruntime-web 1\.30\.0, wasm, /);
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

/** What the download display showed at each change, recorded from the first paint on. */
interface Shown {
  summary: string;
  value: number;
  max: number;
  ready: boolean;
}

// A first visit to a server of its own, which then goes away: the reload must work from the browser alone.
describe.skipIf(!existsSync(CHROMIUM))('first visit, then offline, in Chromium on wasm', () => {
  let browser: Browser;
  let page: Page;
  let server: PreviewServer;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    server = await preview({
      root: APP,
      logLevel: 'warn',
      build: { outDir: site.outDir },
      preview: { host: '127.0.0.1', port, strictPort: true },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...HEADLESS, '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.addInitScript(() => {
      const shown: Shown[] = [];
      (window as unknown as { shown_: Shown[] }).shown_ = shown;
      document.addEventListener('DOMContentLoaded', () => {
        const record = () => {
          const bar = document.querySelector<HTMLProgressElement>('#load-bar')!;
          shown.push({
            summary: document.querySelector('#download-summary')!.textContent ?? '',
            value: bar.value,
            max: bar.max,
            ready: document.body.dataset.modelReady === 'true',
          });
        };
        record();
        new MutationObserver(record).observe(document.body, {
          subtree: true,
          childList: true,
          characterData: true,
          attributes: true,
        });
      });
    });
    await page.goto(`http://127.0.0.1:${port}/?backend=wasm`);
    await waitForModel(page);
  });

  afterAll(async () => {
    await browser?.close();
    if (server.httpServer.listening)
      await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
  });

  it('states the download size before the first byte, lists each file, and is full only when ready', async () => {
    await page.waitForSelector('body[data-offline="ready"]', { state: 'attached', timeout: 90_000 });
    const shown = await page.evaluate(() => (window as unknown as { shown_: Shown[] }).shown_);
    const stated = shown.find((state) => /MB/.test(state.summary));
    expect(stated?.summary).toMatch(/^Downloading 0\.0 \/ [\d.]+ MB \(0%\)$/);
    const notReady = shown.filter((state) => !state.ready);
    expect(notReady.length).toBeGreaterThan(2);
    for (const state of notReady) expect(state.value).toBeLessThan(state.max);
    expect(
      notReady.some((state) => /^Downloading [\d.]+ \/ [\d.]+ MB \([1-9]\d?%\)/.test(state.summary)),
    ).toBe(true);
    const last = shown.at(-1)!;
    expect(last.ready && last.value === last.max).toBe(true);
    expect(last.summary).toMatch(
      /^Ready: [\d.]+ MB downloaded, and [\d.]+ MB for Score and training offline$/,
    );
    const rows = await page.$$eval('#download-list li', (items) => items.map((item) => item.textContent));
    expect(rows).toEqual([
      'onnxruntime-web (wasm): 14.2 MB, downloaded',
      'default model: generation graphs: 7.4 MB, downloaded',
      'default model: scoring graph (for Score): 7.4 MB, downloaded (background)',
      'default model: checkpoint (for fine-tuning): 7.4 MB, downloaded (background)',
      expect.stringMatching(/^tfjs wasm \(for training\): 0\.4 MB, downloaded \(background\)$/),
    ]);
    expect(await page.textContent('#offline-status')).toMatch(/^Ready to work offline/);
  });

  it('the static server sends types, compression and cache headers', async () => {
    const response = await fetch(new URL('models/default/default.onnx', page.url()), {
      headers: { 'Accept-Encoding': 'gzip' },
    });
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const ort = readdirSync(join(site.outDir, 'assets')).find((name) =>
      /^ort-wasm-simd-threaded-[\w-]+\.wasm$/.test(name),
    );
    const binary = await fetch(new URL(`assets/${ort}`, page.url()), {
      headers: { 'Accept-Encoding': 'gzip' },
    });
    expect(binary.headers.get('content-type')).toBe('application/wasm');
    expect(binary.headers.get('content-encoding')).toBe('gzip');
    expect(binary.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    // Less than a third of the 14.2 MB goes over the network.
    expect(Number(binary.headers.get('content-length'))).toBeLessThan(14.2e6 / 3);
    // The service worker got the build's list of app files and its version.
    const worker = await (await fetch(new URL('sw.js', page.url()))).text();
    expect(worker).not.toMatch(/__SHELL__|__VERSION__/);
    expect(worker).toMatch(/"[0-9a-f]{16}"/);
    expect(worker).toContain('"./"');
    expect(worker).toMatch(/"\.\/assets\/worker-[\w-]+\.js"/);
  });

  it('a new deploy replaces the app: new page at once, new service worker, old cache deleted', async () => {
    const appCaches = () =>
      page.evaluate(async () => (await caches.keys()).filter((name) => name.startsWith('megabyte-app-')));
    const [before] = await appCaches();
    expect(before).toMatch(/^megabyte-app-[0-9a-f]{16}$/);
    // A new version of the site: another page and another service worker (its version hash).
    const rewrite = (name: string, edit: (text: string) => string) => {
      const path = join(site.outDir, name);
      const text = edit(readFileSync(path, 'utf8'));
      writeFileSync(path, text);
      writeFileSync(`${path}.gz`, gzipSync(text));
    };
    const version = before!.slice('megabyte-app-'.length);
    rewrite('index.html', (html) => html.replace('</body>', '<p id="new-version">v2</p></body>'));
    rewrite('sw.js', (code) => code.replace(version, '0123456789abcdef'));
    await page.reload();
    await waitForModel(page);
    expect(await page.isVisible('#new-version')).toBe(true);
    await expect.poll(appCaches, { timeout: 60_000 }).toEqual(['megabyte-app-0123456789abcdef']);
    await page.waitForSelector('body[data-offline="ready"]', { state: 'attached', timeout: 90_000 });
  });

  it('reloads with the server gone, then generates, scores and trains', async () => {
    await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
    await page.reload();
    await waitForModel(page);
    expect(await page.textContent('#model-info')).toMatch(/^default model, from the browser cache/);
    expect(await page.textContent('#download-summary')).toMatch(
      /^Ready: [\d.]+ MB read from the browser cache/,
    );
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);

    await page.fill('#max-bytes', '16');
    await page.click('#generate');
    await page.waitForSelector('body[data-generated="16"]', { state: 'attached', timeout: 60_000 });
    await page.click('#example-score');
    await page.waitForSelector('body[data-scored]', { state: 'attached', timeout: 60_000 });

    await page.click('#tab-train');
    await page.fill('#train-text', PARAGRAPH.repeat(2));
    await page.fill('#train-steps', '2');
    await page.fill('#train-batch', '1');
    await page.click('#train');
    await page.waitForFunction(
      () => /^done after 2 steps/.test(document.querySelector('#train-stats')?.textContent ?? ''),
      undefined,
      { timeout: 90_000 },
    );
    expect(await page.isHidden('#train-error')).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'offline.png'), fullPage: true });
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
      expect(await page.textContent('#backend-info')).toMatch(/^onnxruntime-web 1\.30\.0, wasm, /);
      expect(await page.textContent('#backend-why')).toMatch(
        /^Inference: no WebGPU: google swiftshader is a software adapter, slower than wasm on the same CPU \(\?backend=webgpu uses it anyway\)/,
      );
      expect(await page.inputValue('#engine')).toBe('auto');
      // Messages from libraries bring their own full stops: never two in a row on the page.
      expect(await page.textContent('body')).not.toMatch(/[^.]\.\.(?!\.)/);
      await page.close();
    });

    it('?backend=webgpu generates on the WebGPU execution provider', async () => {
      const page = await browser.newPage();
      await page.goto(`${site.url}?backend=webgpu`);
      await waitForModel(page, 180_000);
      expect(await page.textContent('#backend-info')).toMatch(
        /^onnxruntime-web 1\.30\.0, WebGPU \(google swiftshader/,
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

/** 8 x 8 RGB in patch scan with 2 x 2 blocks: 192 bytes per image, model patches of 12 bytes. */
const IMAGE_BYTES = 8 * 8 * 3;

/**
 * A random untrained `size` x `size` image model (patch scan, 2 x 2 blocks) as `megabyte train
 * --modality image` would leave it in a run directory.
 */
async function tinyImageModel(size = 8): Promise<{ name: string; mimeType: string; buffer: Buffer }[]> {
  await tf.setBackend('cpu');
  const config = microMegabyteConfig({ patchSize: 12, contextLength: size * size * 3 });
  const model = createModel(config, { seed: 0 });
  try {
    const { configJson, weights } = await encodeModel(model);
    const layout = { size, scan: 'patch', patch: 2 };
    const media = { modality: 'image', layout, data: 'test', validationFraction: 0 };
    return [
      { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(configJson) },
      { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(weights) },
      { name: 'media.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(media)) },
    ];
  } finally {
    model.dispose();
  }
}

/** RGBA of a canvas on the page, as an array. */
async function canvasPixels(page: Page, selector: string): Promise<number[]> {
  return page.$eval(selector, (canvas: HTMLCanvasElement) =>
    Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data),
  );
}

/** RGB of pixels [from, to) of RGBA data. */
const rgbOf = (rgba: number[], from: number, to: number) =>
  rgba.slice(from * 4, to * 4).filter((_, i) => i % 4 !== 3);

describe.skipIf(!existsSync(CHROMIUM))('Images view in Chromium on wasm', () => {
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...HEADLESS, '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${site.url}?backend=wasm`);
    await waitForModel(page);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('shows the Images tab only when it can draw: with an image model loaded or built in', async () => {
    // A built-in image model is offered exactly when the site was built with models/image-tiny.
    const shipped = IMAGE_MODEL_SHIPPED;
    expect(await page.isVisible('#tab-images')).toBe(shipped);
    // The Model tab says how an image model opens it (as markup, no literal backticks).
    expect(await page.textContent('#view-model')).toMatch(
      /media\.json beside it .*megabyte train --modality image/,
    );
    expect(await page.textContent('body')).not.toContain('`');
    if (!shipped) return;
    await page.click('#tab-images');
    expect(await page.textContent('#image-model')).toMatch(
      /^The loaded model \(default model, downloaded\) is a text model\. Use the built-in image model, or train one with megabyte train --modality image and drop its run directory/,
    );
    expect(await page.isDisabled('#image-generate')).toBe(true);
    expect(await page.isVisible('#image-builtin')).toBe(true);
  });

  it('an image model without a layout is an error that says so', async () => {
    await page.click('#tab-model');
    const [config, weights] = await tinyImageModel();
    await page.setInputFiles('#model-files', [
      config!,
      weights!,
      { name: 'media.json', mimeType: 'application/json', buffer: Buffer.from('{"modality":"image"}') },
    ]);
    await page.waitForSelector('#model-error:not([hidden])', { timeout: 60_000 });
    expect(await page.textContent('#model-error')).toMatch(
      /^media\.json is for an image model but has no layout/,
    );
    expect(await page.textContent('#model-info')).toMatch(/^default model/);
  });

  it('loads an image checkpoint with its media.json and generates a whole image, patch by patch', async () => {
    await page.setInputFiles('#model-files', await tinyImageModel());
    await page.waitForSelector('body[data-image-model^="8 x 8"]', { state: 'attached', timeout: 60_000 });
    expect(await page.textContent('#model-info')).toMatch(
      /MEGABYTE, patches of 12 bytes, .* on tfjs \(wasm\)$/,
    );
    await page.click('#tab-images');
    expect(await page.textContent('#image-model')).toMatch(
      /^Image model: config\.json \(from disk\), 8 x 8 RGB, patch scan \(2 x 2 blocks\), 192 bytes per image\./,
    );
    // The tab is in the keyboard path now, and so is every control of its view.
    await page.focus('#tab-images');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-images');
    const { wanted, reached } = await tabThroughPanel(page, 'images');
    expect(wanted).toContain('image-generate');
    for (const id of wanted) expect(reached, id).toContain(id);
    const placeholder = await canvasPixels(page, '#image-output');
    expect(placeholder).toHaveLength(8 * 8 * 4);
    expect(new Set(placeholder.filter((_, i) => i % 4 !== 3))).toEqual(new Set([205, 225]));

    // Every redraw while bytes stream in: how many bytes the stats line counts, and the canvas then.
    await page.evaluate(() => {
      const frames: { text: string; pixels: number[] }[] = [];
      (window as unknown as { frames_: typeof frames }).frames_ = frames;
      const canvas = document.querySelector<HTMLCanvasElement>('#image-output')!;
      new MutationObserver(() =>
        frames.push({
          text: document.querySelector('#image-stats')!.textContent ?? '',
          pixels: Array.from(canvas.getContext('2d')!.getImageData(0, 0, 8, 8).data),
        }),
      ).observe(document.querySelector('#image-stats')!, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await page.fill('#image-seed', '5');
    await page.click('#image-generate');
    await page.waitForSelector('body[data-image-bytes]', { state: 'attached', timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-image-bytes')).toBe(String(IMAGE_BYTES));
    expect(await page.textContent('#image-stats')).toMatch(/^192 bytes in [\d.]+ s, [\d.]+ bytes\/s$/);
    const drawn = await canvasPixels(page, '#image-output');
    // An untrained model samples nearly uniform bytes: no pixel is left as the checker.
    for (let pixel = 0; pixel < 64; pixel++) {
      expect(rgbOf(drawn, pixel, pixel + 1)).not.toEqual(rgbOf(placeholder, pixel, pixel + 1));
    }
    // While streaming, the image fills in: a pixel is drawn once its three bytes are known.
    const frames = await page.evaluate(
      () => (window as unknown as { frames_: { text: string; pixels: number[] }[] }).frames_,
    );
    const partial = frames
      .map(({ text, pixels }) => ({ known: Number(/^(\d+) \/ 192 bytes, /.exec(text)?.[1]), pixels }))
      .filter(({ known }) => known > 0 && known < IMAGE_BYTES);
    expect(partial.length).toBeGreaterThan(0);
    for (const { known, pixels } of partial) {
      const changed = Array.from({ length: 64 }, (_, p) => p).filter(
        (p) => rgbOf(pixels, p, p + 1).join() !== rgbOf(placeholder, p, p + 1).join(),
      );
      expect(changed).toHaveLength(Math.floor(known / 3));
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'images-generate.png'), fullPage: true });
  });

  it('completes an uploaded PNG: the top half is the input, exactly', async () => {
    const data = Uint8Array.from({ length: IMAGE_BYTES }, (_, i) => (i * 97 + 13) % 256);
    const png = Buffer.from(encodePng({ width: 8, height: 8, data }));
    await page.setInputFiles('#image-file', { name: 'stripes.png', mimeType: 'image/png', buffer: png });
    await page.waitForSelector('#image-original-figure:not([hidden])');
    expect(rgbOf(await canvasPixels(page, '#image-original'), 0, 64)).toEqual([...data]);

    await page.click('#image-complete');
    await page.waitForSelector('body[data-image-bytes]', { state: 'attached', timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-image-bytes')).toBe(String(IMAGE_BYTES));
    // 96 prompt bytes (the first two of four rows of 2 x 2 blocks), 96 generated.
    expect(await page.textContent('#image-stats')).toMatch(/^96 bytes in /);
    const completion = await canvasPixels(page, '#image-output');
    expect(rgbOf(completion, 0, 32)).toEqual([...data.subarray(0, 96)]);
    expect(rgbOf(completion, 32, 64)).not.toEqual([...data.subarray(96)]);
    expect(new Set(rgbOf(completion, 32, 64)).size).toBeGreaterThan(2);
    await page.screenshot({ path: join(SCREENSHOTS, 'images-complete.png'), fullPage: true });
  });

  it('a file that is not an image gives a visible error, and generation still works', async () => {
    await page.setInputFiles('#image-file', {
      name: 'notes.png',
      mimeType: 'image/png',
      buffer: Buffer.from('this is text, not a PNG'),
    });
    await page.waitForSelector('#image-error:not([hidden])');
    expect(await page.textContent('#image-error')).toBe(
      'notes.png is not an image this browser can decode: choose a PNG or JPEG file',
    );
    expect(await page.isDisabled('#image-complete')).toBe(true);
    expect(await page.isHidden('#image-original-figure')).toBe(true);
    await page.click('#image-generate');
    await page.waitForSelector('body[data-image-bytes]', { state: 'attached', timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-image-bytes')).toBe(String(IMAGE_BYTES));
  });

  it('Stop ends an image generation, and the partial image stays', async () => {
    await page.click('#tab-model');
    await page.setInputFiles('#model-files', await tinyImageModel(24));
    await page.waitForSelector('body[data-image-model^="24 x 24"]', { state: 'attached', timeout: 60_000 });
    await page.click('#tab-images');
    await page.click('#image-generate');
    await page.waitForFunction(() =>
      /^\d+ \/ 1728 bytes/.test(document.querySelector('#image-stats')?.textContent ?? ''),
    );
    await page.click('#image-stop');
    await page.waitForSelector('body[data-image-bytes]', { state: 'attached', timeout: 60_000 });
    const known = Number(await page.getAttribute('body', 'data-image-bytes'));
    expect(known).toBeGreaterThan(0);
    expect(known).toBeLessThan(24 * 24 * 3);
    expect(await page.textContent('#image-stats')).toMatch(/ bytes\/s \(stopped\)$/);
    const checker = (await canvasPixels(page, '#image-output')).filter(
      (value, i) => i % 4 !== 3 && (value === 205 || value === 225),
    );
    // The pixels not generated are still the checker (an untrained model hardly ever samples 205 or 225 thrice).
    expect(checker.length).toBeGreaterThanOrEqual((24 * 24 - Math.floor(known / 3)) * 3);
    expect(await page.isEnabled('#image-generate')).toBe(true);
  });

  it.skipIf(!IMAGE_MODEL_SHIPPED)(
    'the built-in image model loads from the Images tab and draws',
    async () => {
      await page.click('#tab-images');
      await page.click('#image-builtin');
      await page.waitForSelector('body[data-image-model^="32 x 32"]', { state: 'attached', timeout: 90_000 });
      expect(await page.textContent('#model-info')).toMatch(
        /^built-in image model, downloaded: MEGABYTE, patches of 48 bytes, [\d,]+ parameters, context 3072 bytes, on tfjs \(wasm\)$/,
      );
      expect(await page.textContent('#download-list')).toMatch(/built-in image model: \d\.\d MB, downloaded/);
      await page.click('#image-generate');
      // Two patches (two 4 x 4 blocks) are enough to see it draw; Stop ends it.
      await page.waitForFunction(
        () =>
          Number(
            /^(\d+) \/ 3072 bytes/.exec(document.querySelector('#image-stats')?.textContent ?? '')?.[1],
          ) >= 96,
        undefined,
        { timeout: 120_000 },
      );
      await page.click('#image-stop');
      await page.waitForSelector('body[data-image-bytes]', { state: 'attached', timeout: 60_000 });
      expect(Number(await page.getAttribute('body', 'data-image-bytes'))).toBeGreaterThanOrEqual(96);
      await page.screenshot({ path: join(SCREENSHOTS, 'images-builtin.png'), fullPage: true });
    },
  );

  it('fits a phone', async () => {
    await page.setInputFiles('#image-file', {
      name: 'again.png',
      mimeType: 'image/png',
      buffer: Buffer.from(encodePng({ width: 8, height: 8, data: new Uint8Array(IMAGE_BYTES).fill(90) })),
    });
    await page.waitForSelector('#image-original-figure:not([hidden])');
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'images-phone.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
