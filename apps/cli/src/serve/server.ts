import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateSamplingOptions } from '@megabyte/core';
import { encodeText, Utf8StreamDecoder } from '@megabyte/patching';
import { type BatchOptions, type Refusal, Scheduler, type ServedModel } from './scheduler.js';

export interface ServeOptions {
  /** Most generation requests decoded together. */
  readonly maxBatch: number;
  /** Most requests waiting for the model; more get 429. */
  readonly maxQueue: number;
  /** Largest request body in bytes; larger gets 413. */
  readonly maxBody: number;
  /** Largest `maxBytes` a generation request may ask for. */
  readonly maxNewBytes: number;
}

export const DEFAULT_SERVE_OPTIONS: ServeOptions = {
  maxBatch: 8,
  maxQueue: 64,
  maxBody: 1 << 20,
  maxNewBytes: 4096,
};

/** A request the server refuses, with the HTTP status that says why. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const REFUSALS: Record<Refusal, HttpError> = {
  'queue-full': new HttpError(429, 'too many requests are waiting: retry later'),
  'shutting-down': new HttpError(503, 'the server is shutting down'),
};

/** The numeric sampling options a generate request may set. */
const SAMPLING_FIELDS = [
  'temperature',
  'topK',
  'topP',
  'minP',
  'repetitionPenalty',
  'repetitionWindow',
  'seed',
] as const;
const GENERATE_FIELDS = ['prompt', 'maxBytes', ...SAMPLING_FIELDS, 'stop', 'stream'] as const;
const SCORE_FIELDS = ['text', 'surprisal'] as const;

/**
 * `megabyte serve`'s HTTP API over one model:
 *   POST /v1/generate {prompt, maxBytes?, temperature?, topK?, topP?, minP?, repetitionPenalty?,
 *                      repetitionWindow?, seed?, stop?: string[], stream?: boolean}
 *     -> {text, bytes}; with stream: server-sent events `data: {"text": ...}` then `data: {"done": true, "bytes": n}`
 *   POST /v1/score {text, surprisal?: boolean} -> {bitsPerByte, bytes, surprisal?}
 *   GET /health -> {status, model, waiting, busy}
 * Bad requests get 400 (naming the field), oversized bodies 413, a full queue 429, and requests
 * after shutdown began 503; an error never takes the server down.
 */
export class MegabyteServer {
  readonly scheduler: Scheduler;
  readonly http: Server;
  private shuttingDown = false;

  constructor(
    readonly model: ServedModel,
    readonly options: ServeOptions = DEFAULT_SERVE_OPTIONS,
  ) {
    this.scheduler = new Scheduler(model, { maxBatch: options.maxBatch, maxQueue: options.maxQueue });
    this.http = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => this.fail(response, error));
    });
  }

  /** Listens on host:port (port 0: any free port) and resolves with the URL. */
  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const address = this.http.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${shown}:${address.port}`;
  }

  /**
   * Graceful shutdown: no new connections, new requests get 503, accepted ones finish (streams
   * included), then the server closes.
   */
  async close(): Promise<void> {
    this.shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    await this.scheduler.drain();
    this.http.closeIdleConnections();
    // A keep-alive client that neither sends nor hangs up must not hold the process open.
    const stragglers = setTimeout(() => this.http.closeAllConnections(), 2000);
    await closed;
    clearTimeout(stragglers);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (this.shuttingDown) response.setHeader('Connection', 'close');
    if (path === '/health') {
      expectMethod(request, 'GET');
      sendJson(response, this.shuttingDown ? 503 : 200, {
        status: this.shuttingDown ? 'shutting-down' : 'ok',
        model: this.model.config,
        waiting: this.scheduler.waiting,
        busy: this.scheduler.busy,
      });
      return;
    }
    if (path !== '/v1/generate' && path !== '/v1/score') {
      throw new HttpError(404, `no endpoint ${path}: use POST /v1/generate, POST /v1/score or GET /health`);
    }
    expectMethod(request, 'POST');
    if (this.shuttingDown) throw REFUSALS['shutting-down'];
    const body = await readJsonBody(request, this.options.maxBody);
    if (path === '/v1/generate') await this.generate(body, response);
    else await this.score(body, response);
  }

  private async generate(body: Record<string, unknown>, response: ServerResponse): Promise<void> {
    const { prompt, stream, options } = this.generateRequest(body);
    const text = new Utf8StreamDecoder();
    let count = 0;
    let streamed = '';
    const onByte = (byte: number) => {
      count++;
      const chunk = text.push(byte);
      if (!chunk) return;
      if (stream) response.write(`data: ${JSON.stringify({ text: chunk })}\n\n`);
      else streamed += chunk;
    };
    const job = { kind: 'generate' as const, prompt, options, onByte, cancelled: false };
    const submitted = this.scheduler.generate(job);
    if (!submitted.accepted) throw REFUSALS[submitted.reason];
    response.on('close', () => {
      if (!response.writableFinished) job.cancelled = true;
    });
    if (stream) {
      response.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
      });
      response.flushHeaders();
    }
    try {
      await submitted.done;
    } catch (error) {
      if (!stream) throw error;
      response.end(`data: ${JSON.stringify({ error: messageOf(error) })}\n\n`);
      return;
    }
    if (job.cancelled) return;
    const rest = text.flush();
    if (stream) {
      if (rest) response.write(`data: ${JSON.stringify({ text: rest })}\n\n`);
      response.end(`data: ${JSON.stringify({ done: true, bytes: count })}\n\n`);
    } else {
      sendJson(response, 200, { text: streamed + rest, bytes: count });
    }
  }

  private generateRequest(body: Record<string, unknown>): {
    prompt: Uint8Array;
    stream: boolean;
    options: BatchOptions;
  } {
    rejectUnknown(body, GENERATE_FIELDS);
    const prompt = body.prompt ?? '';
    if (typeof prompt !== 'string') throw badField('prompt', 'a string', prompt);
    const maxBytes = body.maxBytes ?? 256;
    if (
      !Number.isInteger(maxBytes) ||
      (maxBytes as number) < 1 ||
      (maxBytes as number) > this.options.maxNewBytes
    )
      throw badField('maxBytes', `an integer in 1..${this.options.maxNewBytes}`, maxBytes);
    const stop = body.stop ?? [];
    if (!Array.isArray(stop) || stop.length > 8 || stop.some((s) => typeof s !== 'string' || s.length === 0))
      throw badField('stop', 'a list of at most 8 non-empty strings', stop);
    if (body.stream !== undefined && typeof body.stream !== 'boolean')
      throw badField('stream', 'true or false', body.stream);
    const sampling: Record<string, number> = {};
    for (const name of SAMPLING_FIELDS) {
      const value = body[name];
      if (value === undefined) continue;
      if (typeof value !== 'number') throw badField(name, 'a number', value);
      sampling[name] = value;
    }
    try {
      validateSamplingOptions(sampling);
    } catch (error) {
      throw new HttpError(400, messageOf(error));
    }
    return {
      prompt: encodeText(prompt),
      stream: body.stream === true,
      options: { ...sampling, maxBytes: maxBytes as number, stop: stop as string[] },
    };
  }

  private async score(body: Record<string, unknown>, response: ServerResponse): Promise<void> {
    rejectUnknown(body, SCORE_FIELDS);
    if (typeof body.text !== 'string' || body.text.length === 0)
      throw badField('text', 'a non-empty string', body.text);
    if (body.surprisal !== undefined && typeof body.surprisal !== 'boolean')
      throw badField('surprisal', 'true or false', body.surprisal);
    const job = { kind: 'score' as const, bytes: encodeText(body.text), cancelled: false };
    const submitted = this.scheduler.score(job);
    if (!submitted.accepted) throw REFUSALS[submitted.reason];
    response.on('close', () => {
      if (!response.writableFinished) job.cancelled = true;
    });
    const scores = await submitted.done;
    if (job.cancelled) return;
    sendJson(response, 200, {
      bitsPerByte: scores.bitsPerByte,
      bytes: job.bytes.length,
      ...(body.surprisal === true && { surprisal: Array.from(scores.surprisal) }),
    });
  }

  private fail(response: ServerResponse, error: unknown): void {
    const status = error instanceof HttpError ? error.status : 500;
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (status === 429) response.setHeader('Retry-After', '1');
    sendJson(response, status, { error: messageOf(error) });
  }
}

function expectMethod(request: IncomingMessage, method: string): void {
  if (request.method !== method)
    throw new HttpError(405, `${request.method} is not allowed here: use ${method}`);
}

/** The body as a JSON object; 413 past `limit` bytes (without reading the rest), 400 when not JSON. */
async function readJsonBody(request: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    request.resume();
    throw new HttpError(413, `the request body of ${declared} bytes is over the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      request.resume();
      throw new HttpError(413, `the request body is over the limit of ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `the request body is not JSON: ${messageOf(error)}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function rejectUnknown(body: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(body).filter((key) => !known.includes(key));
  if (unknown.length > 0)
    throw new HttpError(
      400,
      `unknown field ${unknown.map((k) => `"${k}"`).join(', ')}: expected ${known.join(', ')}`,
    );
}

function badField(name: string, expected: string, value: unknown): HttpError {
  return new HttpError(400, `"${name}": expected ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(text);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
