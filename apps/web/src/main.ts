import './style.css';
import defaultModel from 'virtual:default-model';
import imageModel from 'virtual:image-model';
import serviceWorkerUrl from 'virtual:service-worker';
import {
  checkImageSize,
  type ImageLayout,
  imageByteLength,
  imageHeaderSize,
  type RgbImage,
  serializeImage,
} from '@megabyte/patching';
import { type ByteCell, byteCells, describeBytes } from './byte-cells.js';
import { drawChart, type Point } from './chart.js';
import { filesFromDrop, readNamedFiles } from './files.js';
import { completionPromptLength, describeLayout, fitRgba, imagePixels, sameLayout } from './images.js';
import type {
  BackendChoice,
  DownloadState,
  ModelInfo,
  NamedFile,
  Reply,
  Request,
  TaskName,
} from './protocol.js';

/** Bytes of a scored input shown in the heatmap (the bpb covers all of it). */
const HEATMAP_LIMIT = 20_000;
/** Surprisal at which the heatmap colour saturates, in bits. */
const HEATMAP_MAX_BITS = 12;
/**
 * Longest side an uploaded image is decoded at before patching's area resize: the browser shrinks
 * a camera photo first, so the page never holds hundreds of megabytes of pixels.
 */
const MAX_DECODE_SIDE = 1024;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
};
const input = (id: string) => $<HTMLInputElement>(id);
const chart = document.querySelector<SVGSVGElement>('#train-chart')!;
// Redrawn at its new width when the window or the tab changes it.
new ResizeObserver(() => drawChart(chart, trainPoints, evalPoints)).observe(chart);
const encoder = new TextEncoder();

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (request: Request, transfer: Transferable[] = []) => worker.postMessage(request, transfer);
// A worker that fails to load or throws outside a request would otherwise leave the page waiting.
worker.onerror = (event) => {
  event.preventDefault();
  showError('init', `the engine worker failed: ${event.message || 'it could not be loaded'}`);
  setBusy(undefined);
};

let model: ModelInfo | undefined;
let busy: TaskName | undefined;

// ---- state of the running task ---------------------------------------------------------------

/** Everything shown in the generate view: prompt and output bytes, and how far they are drawn. */
const generation = { bytes: new Uint8Array(0), length: 0, promptLength: 0, drawn: 0 };
let scoreBytes = new Uint8Array(0);
let trainFiles: File[] = [];
let trainPoints: Point[] = [];
let evalPoints: Point[] = [];
/** The image being generated: its bytes in scan order, how many are known, and how many were the prompt. */
const picture = {
  layout: undefined as ImageLayout | undefined,
  bytes: new Uint8Array(0),
  known: 0,
  promptLength: 0,
};
/** The image file chosen to complete, and that image fitted to the loaded model's layout. */
let chosen: File | undefined;
let upload: { layout: ImageLayout; image: RgbImage } | undefined;

// ---- tabs ------------------------------------------------------------------------------------

const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role="tab"]')];
function selectTab(tab: HTMLButtonElement, focus = false): void {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute('aria-selected', String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute('aria-controls')!).hidden = !selected;
  }
  if (focus) tab.focus();
}
for (const [index, tab] of tabs.entries()) {
  tab.addEventListener('click', () => selectTab(tab));
  tab.addEventListener('keydown', (event) => {
    const moves: Record<string, number> = {
      ArrowRight: 1,
      ArrowLeft: -1,
      Home: -index,
      End: tabs.length - 1 - index,
    };
    const move = moves[event.key];
    if (move === undefined) return;
    event.preventDefault();
    // Hidden tabs (Images, until an image model is there) are skipped.
    const shown = tabs.filter((other) => !other.hidden);
    const at = shown.indexOf(tab);
    const target = event.key === 'Home' ? 0 : event.key === 'End' ? shown.length - 1 : at + Math.sign(move);
    selectTab(shown[(target + shown.length) % shown.length]!, true);
  });
}

// ---- busy state and errors -------------------------------------------------------------------

const modelButtons = ['generate', 'score', 'download', 'example-generate', 'example-score', 'example-file'];
const stopButtons: Partial<Record<TaskName, string>> = {
  generate: 'generate-stop',
  score: 'score-stop',
  image: 'image-stop',
  train: 'train-stop',
};

function setBusy(task: TaskName | undefined): void {
  busy = task;
  for (const id of modelButtons) input(id).disabled = task !== undefined || model === undefined;
  // Training from scratch and loading a model need no model.
  for (const id of ['train', 'reload-default', 'model-files', 'model-dir', 'image-builtin'])
    input(id).disabled = task !== undefined;
  input('image-generate').disabled = task !== undefined || model?.image === undefined;
  input('image-complete').disabled = task !== undefined || !sameLayout(upload?.layout, model?.image);
  for (const [name, id] of Object.entries(stopButtons)) input(id).disabled = name !== task;
  input('generate-copy').disabled = task === 'generate' || generation.length === 0;
}

function run(task: TaskName, request: Request, transfer: Transferable[] = []): void {
  clearErrors();
  setBusy(task);
  send(request, transfer);
}

const errorTargets: Record<TaskName | 'init', string> = {
  init: 'load-error',
  load: 'model-error',
  generate: 'generate-error',
  image: 'image-error',
  score: 'score-error',
  train: 'train-error',
  export: 'train-error',
};

function showError(task: TaskName | 'init', message: string): void {
  const target = model === undefined && task === 'load' ? $('load-error') : $(errorTargets[task]);
  target.textContent = message;
  target.hidden = false;
}

function clearErrors(): void {
  for (const id of new Set(Object.values(errorTargets))) $(id).hidden = true;
  $('model-ok').textContent = '';
}

// ---- worker replies --------------------------------------------------------------------------

worker.onmessage = (event: MessageEvent<Reply>) => {
  const reply = event.data;
  switch (reply.type) {
    case 'backend':
      showBackend(reply.inference, reply.training);
      document.body.dataset.backend = reply.name;
      break;
    case 'progress':
      showProgress(reply.task, reply.done, reply.total);
      break;
    case 'download':
      showDownload(reply);
      break;
    case 'model':
      showModel(reply.info);
      if (busy === 'load') setBusy(undefined);
      drawDownloads();
      break;
    case 'bytes':
      if (busy === 'image') appendImage(reply.bytes, reply.position, reply.elapsedMs);
      else appendGenerated(reply.bytes, reply.elapsedMs);
      break;
    case 'generated':
      if (busy === 'image') {
        finishImage(reply.bytes, reply.elapsedMs, reply.stopped);
        break;
      }
      drawGenerated(true);
      $('generate-stats').textContent =
        `${reply.bytes} bytes in ${(reply.elapsedMs / 1000).toFixed(1)} s, ${rate(reply.bytes, reply.elapsedMs)} bytes/s` +
        (reply.stopped ? ' (stopped)' : '');
      document.body.dataset.generated = String(reply.bytes);
      setBusy(undefined);
      break;
    case 'scored':
      showScore(reply);
      setBusy(undefined);
      break;
    case 'train-step':
      trainPoints.push({ x: reply.step, y: reply.bitsPerByte });
      $('train-stats').textContent =
        `step ${reply.step} / ${reply.steps}: ${reply.bitsPerByte.toFixed(3)} bpb, ${Math.round(reply.bytesPerSecond)} bytes/s`;
      drawChart(chart, trainPoints, evalPoints);
      break;
    case 'train-eval':
      evalPoints.push({ x: reply.step, y: reply.bitsPerByte });
      drawChart(chart, trainPoints, evalPoints);
      break;
    case 'trained':
      $('train-stats').textContent =
        `${reply.stopped ? 'stopped' : 'done'} after ${reply.step} steps` +
        (reply.validation === undefined ? '' : `, validation ${reply.validation.toFixed(3)} bpb`);
      setBusy(undefined);
      break;
    case 'checkpoint':
      download('config.json', new Blob([reply.configJson], { type: 'application/json' }));
      download(
        'model.safetensors',
        new Blob([reply.weights as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }),
      );
      setBusy(undefined);
      break;
    case 'error':
      showError(reply.task, reply.message);
      if (reply.task === 'generate') drawGenerated(true);
      if (reply.task === 'image') $('image-stats').textContent = '';
      if (reply.task === 'train') $('train-stats').textContent = '';
      if (reply.task === 'score') $('score-progress').hidden = true;
      if (reply.task === 'init' && model === undefined) $('backend-info').textContent = 'failed to start';
      setBusy(undefined);
      break;
  }
};

function rate(bytes: number, ms: number): string {
  if (ms <= 0) return '–';
  const perSecond = bytes / (ms / 1000);
  return perSecond.toFixed(perSecond < 10 ? 1 : 0);
}

/** Scoring progress (the only task besides downloads that reports any). */
function showProgress(task: TaskName, done: number, total: number): void {
  if (task !== 'score') return;
  const progress = $<HTMLProgressElement>('score-bar');
  progress.max = Math.max(total, 1);
  progress.value = done;
  $('score-progress-text').textContent = `${done.toLocaleString('en')} / ${total.toLocaleString('en')} bytes`;
}

/** The engines in one short line; the reasons for them in the details below it. */
function showBackend(inference: string, training: string): void {
  // The worker's texts are "what; why": the what goes in the line, the why in the details.
  const [what = inference, ...why] = inference.split('; ');
  const [trainingWhat = training, ...trainingWhy] = training.split('; ');
  $('backend-info').textContent = `${sentence(what)} Training: ${trainingWhat}`;
  $('backend-why').textContent = [
    `Inference: ${sentence(why.join('; ') || (backend === 'auto' ? 'auto took the fastest engine that works here' : 'as asked'))}`,
    `Training: ${sentence(trainingWhy.join('; ') || trainingWhat)}`,
    'Choose another engine above to override auto (the page reloads).',
  ].join(' ');
}

/** Ends a message with one full stop (messages from libraries often bring their own). */
function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

// ---- downloads ---------------------------------------------------------------------------------

/** Every download of the page by name: planned ones at 0, then as bytes arrive. */
const downloads = new Map<string, DownloadState>();

function showDownload(reply: Extract<Reply, { type: 'download' }>): void {
  for (const item of reply.items) downloads.set(item.name, item);
  drawDownloads();
}

function drawDownloads(): void {
  const all = [...downloads.values()];
  const now = all.filter((item) => !item.background);
  const later = all.filter((item) => item.background);
  const sum = (items: typeof all, key: 'done' | 'total') =>
    items.reduce((total, item) => total + item[key], 0);
  const [done, total] = [sum(now, 'done'), sum(now, 'total')];
  const ready = model !== undefined && busy !== 'load';
  const bar = $<HTMLProgressElement>('load-bar');
  // The bar is full only when the model is ready: the last 2% stand for starting the engine.
  bar.max = Math.max(total, 1) * 1.02;
  bar.value = ready ? bar.max : done;
  const laterDone = sum(later, 'done');
  const laterTotal = sum(later, 'total');
  const parts = [
    ready
      ? `Ready: ${megabytes(total)} MB ${now.every((item) => item.cached) ? 'read from the browser cache' : 'downloaded'}`
      : done < total
        ? `Downloading ${megabytes(done)} / ${megabytes(total)} MB (${percent(done, total)})`
        : `Downloaded ${megabytes(total)} MB, starting the engine…`,
  ];
  if (laterTotal > 0) {
    parts.push(
      laterDone < laterTotal
        ? `then in the background ${megabytes(laterDone)} / ${megabytes(laterTotal)} MB (${percent(laterDone, laterTotal)}) for Score and training offline`
        : `and ${megabytes(laterTotal)} MB for Score and training offline`,
    );
  }
  $('download-summary').textContent = parts.join(', ');
  $('download-files').textContent = `Files (${all.length})`;
  $('download-list').replaceChildren(...all.map(downloadRow));
  const finished = all.every((item) => item.done >= item.total);
  $('downloads').classList.toggle('finished', ready && finished);
  if (ready && finished) document.body.dataset.downloaded = String(sum(all, 'total'));
  showOffline();
}

function downloadRow(item: DownloadState): HTMLLIElement {
  const row = document.createElement('li');
  const state = item.cached
    ? 'from the browser cache'
    : item.done >= item.total
      ? 'downloaded'
      : `${megabytes(item.done)} / ${megabytes(item.total)} MB (${percent(item.done, item.total)})`;
  row.textContent = `${item.name}: ${megabytes(item.total)} MB, ${state}${item.background ? ' (background)' : ''}`;
  return row;
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function percent(done: number, total: number): string {
  return `${Math.floor((done / Math.max(total, 1)) * 100)}%`;
}

/** Says when a reload would work offline: the service worker holds the app, every download is cached. */
function showOffline(): void {
  const complete = [...downloads.values()].every((item) => item.done >= item.total);
  if (!offlineReady || !complete || downloads.size === 0 || model === undefined || busy === 'load') return;
  $('offline-status').textContent =
    'Ready to work offline: the app, its engines and the default model are kept in this browser.';
  document.body.dataset.offline = 'ready';
}

function showModel(info: ModelInfo): void {
  model = info;
  const kind =
    info.kind === 'megabyte'
      ? `MEGABYTE, patches of ${info.patchSize} bytes`
      : 'baseline transformer (no patches)';
  $('model-info').textContent =
    `${info.source}: ${kind}, ${info.parameters.toLocaleString('en')} parameters, ` +
    `context ${info.contextLength} bytes, on ${info.engine}`;
  $('patch-legend').textContent =
    info.patchSize > 1
      ? `Shading alternates per patch of ${info.patchSize} bytes: the global model runs once per patch, the local model once per byte. The prompt is in grey.`
      : 'This model has no patches (a plain byte-level transformer): shading alternates per byte.';
  document.body.dataset.modelReady = 'true';
  $('model-ok').textContent = `Loaded: ${info.source}.`;
  showImageModel(info);
}

// ---- generate --------------------------------------------------------------------------------

$('generate-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (busy) return;
  const prompt = $<HTMLTextAreaElement>('prompt').value;
  const promptBytes = encoder.encode(prompt);
  const maxBytes = integer('max-bytes', 1, 8192);
  generation.bytes = new Uint8Array(promptBytes.length + maxBytes);
  generation.bytes.set(promptBytes);
  generation.length = promptBytes.length;
  generation.promptLength = promptBytes.length;
  generation.drawn = 0;
  $('generate-output').replaceChildren();
  $('generate-stats').textContent = 'starting…';
  delete document.body.dataset.generated;
  drawGenerated(false);
  run('generate', {
    type: 'generate',
    request: {
      prompt,
      maxBytes,
      temperature: number('temperature', 0, 2),
      topP: number('top-p', 0.01, 1),
      seed: integer('seed', 0, 2 ** 31 - 1),
    },
  });
});
$('generate-stop').addEventListener('click', () => send({ type: 'stop' }));
$('generate-copy').addEventListener('click', async () => {
  const text = new TextDecoder().decode(generation.bytes.subarray(0, generation.length));
  try {
    await navigator.clipboard.writeText(text);
    $('generate-stats').textContent = `copied ${generation.length.toLocaleString('en')} bytes of text`;
  } catch (error) {
    showError(
      'generate',
      `the browser did not allow copying: ${error instanceof Error ? error.message : error}`,
    );
  }
});

function appendGenerated(bytes: Uint8Array, elapsedMs: number): void {
  generation.bytes.set(bytes, generation.length);
  generation.length += bytes.length;
  const count = generation.length - generation.promptLength;
  $('generate-stats').textContent = `${count} bytes, ${rate(count, elapsedMs)} bytes/s`;
  drawGenerated(false);
}

function drawGenerated(final: boolean): void {
  const bytes = generation.bytes.subarray(0, generation.length);
  const { cells, end } = byteCells(bytes, generation.drawn, final);
  const patch = model?.patchSize ?? 1;
  const output = $('generate-output');
  const fragment = document.createDocumentFragment();
  for (const cell of cells) {
    const span = cellElement(cell);
    span.classList.add(Math.floor(cell.start / patch) % 2 === 0 ? 'patch-even' : 'patch-odd');
    if (cell.start < generation.promptLength) span.classList.add('prompt');
    span.title = `${describeBytes(bytes, cell)}, byte ${cell.start}, patch ${Math.floor(cell.start / patch)}`;
    fragment.append(span);
    if (cell.newline) fragment.append(document.createElement('br'));
  }
  output.append(fragment);
  generation.drawn = end;
}

function cellElement(cell: ByteCell): HTMLSpanElement {
  const span = document.createElement('span');
  span.textContent = cell.text;
  if (cell.hex) span.className = 'hex';
  return span;
}

// ---- images ----------------------------------------------------------------------------------

function showImageModel(info: ModelInfo): void {
  const { image } = info;
  // The Images tab is there when it can do something: an image model is loaded or built in.
  const imagesTab = $<HTMLButtonElement>('tab-images');
  imagesTab.hidden = image === undefined && imageModel === null;
  if (imagesTab.hidden && imagesTab.getAttribute('aria-selected') === 'true') selectTab(tabs[0]!);
  const code = (text: string) => Object.assign(document.createElement('code'), { textContent: text });
  $('image-model').replaceChildren(
    ...(image
      ? [
          `Image model: ${info.source}, ${describeLayout(image)}. Each image is generated byte by byte, R G B per pixel, in ${image.scan === 'patch' ? 'patch scan order: one model patch is one block, so it fills in a block at a time' : 'raster order: it fills in row by row'}.`,
        ]
      : [
          `The loaded model (${info.source}) is a text model. Use the built-in image model, or train one with `,
          code('megabyte train --modality image'),
          ' and drop its run directory (config.json, model.safetensors, media.json) on the Model tab.',
        ]),
  );
  // Offered while another model (text or image) is loaded.
  $('image-builtin-row').hidden = imageModel === null || info.source.startsWith('built-in image model');
  document.body.dataset.imageModel = image ? describeLayout(image) : 'none';
  if (image && !sameLayout(picture.layout, image)) resetPicture(image, 0);
  // A chosen image is fitted again to the new model's layout.
  if (image && chosen && !sameLayout(upload?.layout, image)) void prepareUpload(chosen);
}

function resetPicture(layout: ImageLayout, promptLength: number): void {
  picture.layout = layout;
  picture.bytes = new Uint8Array(imageByteLength(layout));
  picture.known = 0;
  picture.promptLength = promptLength;
  drawImage('image-output', picture.bytes, 0, layout);
}

function drawImage(id: string, bytes: Uint8Array, known: number, layout: ImageLayout): void {
  const canvas = $<HTMLCanvasElement>(id);
  canvas.width = layout.size;
  canvas.height = layout.size;
  const pixels = imagePixels(bytes, known, layout) as Uint8ClampedArray<ArrayBuffer>;
  canvas.getContext('2d')!.putImageData(new ImageData(pixels, layout.size, layout.size), 0, 0);
}

function startImage(prompt: Uint8Array, layout: ImageLayout): void {
  resetPicture(layout, prompt.length);
  picture.bytes.set(prompt);
  picture.known = prompt.length;
  drawImage('image-output', picture.bytes, picture.known, layout);
  $('image-stats').textContent = 'starting…';
  delete document.body.dataset.imageBytes;
  const copy = prompt.slice();
  run(
    'image',
    {
      type: 'generate-image',
      request: {
        prompt: copy,
        temperature: number('image-temperature', 0, 2),
        seed: integer('image-seed', 0, 2 ** 31 - 1),
      },
    },
    [copy.buffer],
  );
}

function appendImage(bytes: Uint8Array, position: number, elapsedMs: number): void {
  const { layout } = picture;
  if (!layout) return;
  picture.bytes.set(bytes, position);
  picture.known = position + bytes.length;
  const generated = picture.known - picture.promptLength;
  $('image-stats').textContent =
    `${generated} / ${picture.bytes.length - picture.promptLength} bytes, ${rate(generated, elapsedMs)} bytes/s`;
  drawImage('image-output', picture.bytes, picture.known, layout);
}

function finishImage(generated: number, elapsedMs: number, stopped: boolean): void {
  $('image-stats').textContent =
    `${generated} bytes in ${(elapsedMs / 1000).toFixed(1)} s, ${rate(generated, elapsedMs)} bytes/s` +
    (stopped ? ' (stopped)' : '');
  document.body.dataset.imageBytes = String(picture.known);
  setBusy(undefined);
}

$('image-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const layout = model?.image;
  if (busy || !layout) return;
  $('image-original-figure').hidden = true;
  $('image-caption').textContent = `Generated from nothing (${describeLayout(layout)}).`;
  startImage(new Uint8Array(0), layout);
});

$('image-complete').addEventListener('click', () => {
  const layout = model?.image;
  if (busy || !layout || !upload || !sameLayout(upload.layout, layout)) return;
  const bytes = serializeImage(upload.image, layout);
  const prompt = bytes.subarray(0, completionPromptLength(layout));
  $('image-caption').textContent =
    `The model's completion: the top ${prompt.length.toLocaleString('en')} bytes are yours, the rest is generated.`;
  startImage(prompt, layout);
});
$('image-stop').addEventListener('click', () => send({ type: 'stop' }));

input('image-file').addEventListener('change', async () => {
  const file = input('image-file').files?.[0];
  if (file) await prepareUpload(file);
});
dropZone($('image-drop'), async (files) => {
  if (files[0]) await prepareUpload(files[0].file);
});

/** Decodes the chosen file with the browser and fits it to the model's layout (shown on the left). */
async function prepareUpload(file: File): Promise<void> {
  const error = $('image-error');
  error.hidden = true;
  chosen = file;
  upload = undefined;
  $('image-original-figure').hidden = true;
  $('image-drop').querySelector('span')!.textContent = `Image: ${file.name}`;
  const layout = model?.image;
  try {
    if (!layout) {
      throw new Error(
        `${file.name} is ready, but the loaded model is a text model: load an image model first (Model tab)`,
      );
    }
    const { rgba, width, height } = await decodeImage(file);
    const image = fitRgba(rgba, width, height, layout.size);
    upload = { layout, image };
    drawImage('image-original', serializeImage(image, layout), imageByteLength(layout), layout);
    $('image-original-caption').textContent =
      `${file.name}, fitted to ${layout.size} x ${layout.size} (the top half is the prompt)`;
    $('image-original-figure').hidden = false;
  } catch (failure) {
    error.textContent = failure instanceof Error ? failure.message : String(failure);
    error.hidden = false;
  }
  setBusy(busy);
}

interface DecodedImage {
  rgba: Uint8ClampedArray;
  width: number;
  height: number;
}

async function decodeImage(file: File): Promise<DecodedImage> {
  // A PNG's or JPEG's size is read from its header first: the browser would decode a bomb whole.
  const declared = imageHeaderSize(new Uint8Array(await file.slice(0, 65536).arrayBuffer()));
  if (declared) checkImageSize(declared.width, declared.height, file.name);
  let bitmap: ImageBitmap;
  try {
    // The file's own pixel values, as patching's PNG decoder reads them: no colour management, no premultiplied alpha.
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new Error(`${file.name} is not an image this browser can decode: choose a PNG or JPEG file`);
  }
  const scale = Math.min(1, MAX_DECODE_SIDE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  return { rgba: context.getImageData(0, 0, width, height).data, width, height };
}

// ---- score -----------------------------------------------------------------------------------

const SCORE_DROP_TEXT = $('score-drop').querySelector('span')!.textContent;
const SCORE_PLACEHOLDER = $<HTMLTextAreaElement>('score-text').placeholder;
// Typing replaces a chosen file: the drop zone stops naming it.
$('score-text').addEventListener('input', () => {
  scoreBytes = new Uint8Array(0);
  input('score-file').value = '';
  $('score-drop').querySelector('span')!.textContent = SCORE_DROP_TEXT;
  $<HTMLTextAreaElement>('score-text').placeholder = SCORE_PLACEHOLDER;
});
input('score-file').addEventListener('change', async () => {
  const file = input('score-file').files?.[0];
  if (file) await takeScoreFile(file);
});
dropZone($('score-drop'), async (files) => {
  if (files[0]) await takeScoreFile(files[0].file);
});

/** Set by the "Score a file" example: the file it opens the chooser for is scored as soon as it is read. */
let scoreWhenChosen = false;

async function takeScoreFile(file: File): Promise<void> {
  scoreBytes = new Uint8Array(await file.arrayBuffer());
  $<HTMLTextAreaElement>('score-text').value = '';
  $<HTMLTextAreaElement>('score-text').placeholder =
    `${file.name} (${scoreBytes.length.toLocaleString('en')} bytes) is ready to score.`;
  $('score-drop').querySelector('span')!.textContent = `File: ${file.name}`;
  if (scoreWhenChosen) $<HTMLFormElement>('score-form').requestSubmit();
  scoreWhenChosen = false;
}

$('score-form').addEventListener('submit', (event) => {
  event.preventDefault();
  if (busy) return;
  const text = $<HTMLTextAreaElement>('score-text').value;
  const bytes = text.length > 0 ? encoder.encode(text) : scoreBytes;
  scoreBytes = bytes;
  delete document.body.dataset.scored;
  // The previous result goes at once: what is on screen is always about this input.
  $('score-result').hidden = true;
  $('heatmap').replaceChildren();
  $('score-status').textContent = '';
  $('score-progress').hidden = false;
  showProgress('score', 0, bytes.length);
  const copy = bytes.slice();
  run('score', { type: 'score', bytes: copy }, [copy.buffer]);
});
$('score-stop').addEventListener('click', () => send({ type: 'stop' }));

function showScore(result: Extract<Reply, { type: 'scored' }>): void {
  const { bitsPerByte, surprisal, windowLength, scoredBytes, totalBytes } = result;
  const stopped = scoredBytes < totalBytes;
  $('score-progress').hidden = true;
  $('score-status').textContent = stopped
    ? `stopped at ${scoredBytes.toLocaleString('en')} / ${totalBytes.toLocaleString('en')} bytes`
    : '';
  $('score-result').hidden = false;
  $('score-bpb').textContent = bitsPerByte.toFixed(3);
  $('score-ratio').textContent =
    `${(8 / bitsPerByte).toFixed(2)} : 1 (${((bitsPerByte / 8) * 100).toFixed(1)}% of the size)`;
  $('score-bytes').textContent = stopped
    ? `${scoredBytes.toLocaleString('en')} of ${totalBytes.toLocaleString('en')}`
    : totalBytes.toLocaleString('en');
  const shown = Math.min(scoredBytes, HEATMAP_LIMIT);
  $('score-note').textContent = [
    stopped ? `Stopped: the numbers are for the first ${scoredBytes.toLocaleString('en')} bytes.` : '',
    `Scored in sliding windows of ${windowLength} bytes: after the first ${windowLength}, every byte is predicted from at least ${windowLength / 2} bytes before it.`,
    shown < scoredBytes ? `The heatmap shows the first ${shown.toLocaleString('en')} bytes.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const bytes = scoreBytes.subarray(0, shown);
  const { cells } = byteCells(bytes);
  const fragment = document.createDocumentFragment();
  for (const cell of cells) {
    const span = cellElement(cell);
    const bits = Array.from(surprisal.subarray(cell.start, cell.start + cell.length));
    span.style.background = heatBackground(bits);
    if (Math.max(...bits) > HEATMAP_MAX_BITS * 0.6) span.classList.add('hot');
    span.title = `${describeBytes(bytes, cell)}: ${bits.map((b) => b.toFixed(2)).join(' + ')} bits`;
    fragment.append(span);
    if (cell.newline) fragment.append(document.createElement('br'));
  }
  $('heatmap').replaceChildren(fragment);
  heatIndex = -1;
  $('heat-readout').textContent = HEAT_READOUT_HINT;
  document.body.dataset.scored = bitsPerByte.toFixed(4);
}

// The heatmap's values by keyboard (arrow keys, Home, End move between characters) and by tap.
const HEAT_READOUT_HINT = $('heat-readout').textContent;
let heatIndex = -1;

function readHeatCell(index: number): void {
  const cells = $('heatmap').querySelectorAll('span');
  if (cells.length === 0) return;
  heatIndex = Math.min(Math.max(index, 0), cells.length - 1);
  $('heatmap').querySelector('.current')?.classList.remove('current');
  const cell = cells[heatIndex]!;
  cell.classList.add('current');
  cell.scrollIntoView({ block: 'nearest' });
  $('heat-readout').textContent = `Character ${heatIndex + 1} of ${cells.length}: ${cell.title}`;
}

$('heatmap').addEventListener('click', (event) => {
  const cell = (event.target as Element).closest('#heatmap span');
  if (!cell) return;
  readHeatCell([...$('heatmap').querySelectorAll('span')].indexOf(cell as HTMLSpanElement));
});
$('heatmap').addEventListener('keydown', (event) => {
  const count = $('heatmap').querySelectorAll('span').length;
  const next: Record<string, number> = {
    ArrowRight: heatIndex + 1,
    ArrowLeft: heatIndex - 1,
    Home: 0,
    End: count - 1,
  };
  const target = next[event.key];
  if (target === undefined || count === 0) return;
  event.preventDefault();
  readHeatCell(target);
});

function heatColour(bits: number): string {
  const t = Math.min(Math.max(bits / HEATMAP_MAX_BITS, 0), 1);
  return `hsl(${Math.round(55 - 55 * t)} 95% ${Math.round(96 - 58 * t)}%)`;
}

/** One colour per byte: a character of several bytes is split into equal vertical bands. */
function heatBackground(bits: number[]): string {
  if (bits.length === 1) return heatColour(bits[0]!);
  const stops = bits.map((b, i) => {
    const from = (i / bits.length) * 100;
    const to = ((i + 1) / bits.length) * 100;
    return `${heatColour(b)} ${from}% ${to}%`;
  });
  return `linear-gradient(90deg, ${stops.join(', ')})`;
}

// ---- train -----------------------------------------------------------------------------------

input('train-files').addEventListener('change', () => setTrainFiles([...(input('train-files').files ?? [])]));
dropZone($('train-drop'), (files) => setTrainFiles(files.map((f) => f.file)));

function setTrainFiles(files: File[]): void {
  trainFiles = files;
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const list = $('train-files-list');
  list.hidden = files.length === 0;
  list.textContent = `${files.length} file(s), ${total.toLocaleString('en')} bytes: ${files.map((f) => f.name).join(', ')}`;
}

$('train-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (busy) return;
  const text = $<HTMLTextAreaElement>('train-text').value;
  const documents = [
    encoder.encode(text),
    ...(await Promise.all(trainFiles.map(async (f) => new Uint8Array(await f.arrayBuffer())))),
  ];
  const start = (document.querySelector<HTMLInputElement>('input[name="train-start"]:checked')?.value ??
    'scratch') as 'scratch' | 'fine-tune';
  trainPoints = [];
  evalPoints = [];
  drawChart(chart, trainPoints, evalPoints);
  $('train-stats').textContent = 'starting…';
  run(
    'train',
    {
      type: 'train',
      request: {
        documents,
        start,
        steps: integer('train-steps', 1, 100_000),
        batchSize: integer('train-batch', 1, 64),
        lr: number('train-lr', 1e-5, 0.1),
      },
    },
    documents.map((d) => d.buffer),
  );
});
$('train-stop').addEventListener('click', () => send({ type: 'stop' }));
$('download').addEventListener('click', () => run('export', { type: 'export' }));

function download(name: string, blob: Blob): void {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// ---- bring a model ---------------------------------------------------------------------------

async function loadModelFiles(files: NamedFile[]): Promise<void> {
  run(
    'load',
    { type: 'load-files', files },
    files.map((file) => file.bytes.buffer),
  );
}
for (const id of ['model-files', 'model-dir']) {
  input(id).addEventListener('change', async () => {
    const files = [...(input(id).files ?? [])].map((file) => ({
      file,
      path: file.webkitRelativePath || file.name,
    }));
    input(id).value = '';
    await loadModelFiles(await readNamedFiles(files));
  });
}
dropZone($('model-drop'), async (files) => loadModelFiles(await readNamedFiles(files)));
$('reload-default').addEventListener('click', () => run('load', { type: 'load-default' }));
$('image-builtin').addEventListener('click', () => run('load', { type: 'load-image-default' }));

/** Makes an element accept dropped files and directories (directories are read recursively). */
function dropZone(zone: HTMLElement, onFiles: (files: { file: File; path: string }[]) => unknown): void {
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    if (busy || !event.dataTransfer) return;
    await onFiles(await filesFromDrop(event.dataTransfer));
  });
}

// ---- form values -----------------------------------------------------------------------------

function number(id: string, min: number, max: number): number {
  const value = Number(input(id).value);
  return Number.isFinite(value) ? Math.min(Math.max(value, min), max) : min;
}

function integer(id: string, min: number, max: number): number {
  return Math.round(number(id, min, max));
}

// ---- first visit: examples, shortcuts, engine -------------------------------------------------

const ENGLISH =
  'The jury further said in term-end presentments that the City Executive Committee, which had over-all ' +
  'charge of the election, deserves the praise and thanks of the City of Atlanta for the manner in which ' +
  'the election was conducted.';

/** Random letters and spaces, as long as the English sentence: what a model of English cannot predict. */
function randomText(length: number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz     ';
  const values = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(values, (value) => letters[value % letters.length]).join('');
}

$('example-generate').addEventListener('click', () => {
  selectTab($<HTMLButtonElement>('tab-generate'));
  $<HTMLTextAreaElement>('prompt').value = 'The jury said';
  $<HTMLFormElement>('generate-form').requestSubmit();
});
$('example-score').addEventListener('click', () => {
  selectTab($<HTMLButtonElement>('tab-score'));
  const text = $<HTMLTextAreaElement>('score-text');
  text.value = `${ENGLISH}\n${randomText(ENGLISH.length)}`;
  text.dispatchEvent(new Event('input'));
  $<HTMLFormElement>('score-form').requestSubmit();
});
$('example-file').addEventListener('click', () => {
  selectTab($<HTMLButtonElement>('tab-score'));
  scoreWhenChosen = true;
  input('score-file').click();
});

// Ctrl+Enter (⌘+Enter) in a form's text area submits it.
for (const id of ['generate-form', 'score-form', 'train-form']) {
  $(id).addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    $<HTMLFormElement>(id).requestSubmit();
  });
}

/** The engine picker reloads the page with `?backend=`: the worker picks its engines once. */
function setupEnginePicker(choice: BackendChoice): void {
  const picker = $<HTMLSelectElement>('engine');
  picker.value = choice;
  picker.addEventListener('change', () => {
    const url = new URL(location.href);
    if (picker.value === 'auto') url.searchParams.delete('backend');
    else url.searchParams.set('backend', picker.value);
    location.assign(url.href);
  });
}

/** One honest line about the built-in model, with its measured bits per byte. */
function describeBuiltInModel(): void {
  const measured =
    defaultModel.bitsPerByte === null
      ? ''
      : ` It scores ${defaultModel.bitsPerByte.toFixed(2)} bits per byte on held-out Brown text (plain byte frequencies: about 4.5).`;
  $('model-about').textContent =
    'The built-in model is small: 3.7 million parameters, trained for 24 minutes on two CPU cores on the Brown corpus ' +
    `(American English of 1961), so it writes English-like text: mostly real words and punctuation, little meaning.${measured}`;
}

// ---- offline -----------------------------------------------------------------------------------

/** True once the service worker holds the app's files (it is active). */
let offlineReady = false;

/** The service worker keeps the app for offline reloads (not in the dev server, which has none). */
async function registerServiceWorker(): Promise<void> {
  if (serviceWorkerUrl === null || !('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register(serviceWorkerUrl);
    await navigator.serviceWorker.ready;
    offlineReady = true;
    showOffline();
  } catch (error) {
    $('offline-status').textContent =
      `This browser will not keep the app for offline use: ${error instanceof Error ? error.message : error}`;
  }
}

// ---- start -----------------------------------------------------------------------------------

const wanted = new URLSearchParams(location.search).get('backend');
const backend: BackendChoice = wanted === 'wasm' || wanted === 'webgpu' ? wanted : 'auto';
setupEnginePicker(backend);
describeBuiltInModel();
void registerServiceWorker();
setBusy('load');
const served = (directory: string, info: { version: string; sizes: Record<string, number> }) => ({
  urls: Object.fromEntries(
    Object.keys(info.sizes).map((file) => [
      file,
      new URL(`models/${directory}/${file}?v=${info.version}`, document.baseURI).href,
    ]),
  ),
  sizes: info.sizes,
});
send({
  type: 'init',
  backend,
  defaultModel: served('default', defaultModel),
  imageModel: imageModel ? served('image-tiny', imageModel) : undefined,
});
send({ type: 'load-default' });
