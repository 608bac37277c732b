// tfjs-core first, fenced off by the side-effect import (see test/backends.test.ts).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { request } from 'node:http';
import { loadModel } from '@megabyte/core/node';
import { exportModel, OnnxModel } from '@megabyte/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModelDirectory } from '../commands/generate.js';
import { LOAD_TEST_PROMPTS, loadTest, postGenerate, referenceAnswers } from './load-test.js';
import { MegabyteServer, type ServeOptions } from './server.js';

let model: OnnxModel;
const servers: MegabyteServer[] = [];

beforeAll(async () => {
  await tf.setBackend('cpu');
  const tfModel = await loadModel(defaultModelDirectory());
  model = await OnnxModel.load(ort, exportModel(tfModel));
  tfModel.dispose();
});

afterAll(async () => {
  for (const server of servers) if (server.http.listening) await server.close();
  await model.release();
});

async function start(options: Partial<ServeOptions> = {}): Promise<{ server: MegabyteServer; url: string }> {
  const server = new MegabyteServer(model, {
    maxBatch: 8,
    maxQueue: 64,
    maxBody: 4096,
    maxNewBytes: 512,
    ...options,
  });
  servers.push(server);
  return { server, url: await server.listen(0) };
}

/** The fields any answer of the server may have. */
interface Reply {
  text?: string;
  bytes?: number;
  bitsPerByte?: number;
  surprisal?: number[];
  error?: string;
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: Reply }> {
  const response = await fetch(url + path, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Reply };
}

/** The server-sent events of a streaming generation, parsed. */
async function stream(
  url: string,
  body: object,
): Promise<Array<{ text?: string; done?: boolean; bytes?: number }>> {
  const response = await fetch(`${url}/v1/generate`, {
    method: 'POST',
    body: JSON.stringify({ ...body, stream: true }),
  });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => JSON.parse(event.slice('data: '.length)));
}

const PROMPTS = LOAD_TEST_PROMPTS;

describe('megabyte serve', () => {
  it('generates, streams the same bytes, and scores as the model does', async () => {
    const { url } = await start();
    const whole = await post(url, '/v1/generate', { prompt: 'The jury ', maxBytes: 40, temperature: 0 });
    expect(whole.status).toBe(200);
    expect(whole.json.bytes).toBe(40);
    const events = await stream(url, { prompt: 'The jury ', maxBytes: 40, temperature: 0 });
    expect(events.at(-1)).toEqual({ done: true, bytes: 40 });
    expect(events.length).toBeGreaterThan(2);
    expect(events.map((e) => e.text ?? '').join('')).toBe(whole.json.text);

    const text = 'The jury said it did find that the city had been well run.';
    const scored = await post(url, '/v1/score', { text, surprisal: true });
    const direct = await model.scoreBytes(new TextEncoder().encode(text));
    expect(scored.json.bitsPerByte!).toBeCloseTo(direct.bitsPerByte, 6);
    expect(scored.json.surprisal).toHaveLength(text.length);
  });

  it("batches concurrent clients and never gives one client another one's bytes", async () => {
    const { server, url } = await start({ maxBatch: 8 });
    const expected = await referenceAnswers(url, PROMPTS, 24);
    expect(new Set(expected.values()).size).toBe(PROMPTS.length);
    const before = { ...server.scheduler.stats };
    const result = await loadTest(url, expected, {
      clients: 8,
      requests: 24,
      timeLimitMs: 300_000,
      maxBytes: 24,
      prompts: PROMPTS,
    });
    expect(result).toMatchObject({ requests: 24, refused: 0, mismatches: 0 });
    const sequences = server.scheduler.stats.sequences - before.sequences;
    expect(sequences).toBe(24);
    expect(server.scheduler.stats.batches - before.batches).toBeLessThan(sequences); // some ran together
  });

  it('answers bad requests with 400, 404, 405 and 413, naming the problem', async () => {
    const { url } = await start();
    const cases: Array<[unknown, number, RegExp]> = [
      [{ prompt: 'a', temprature: 1 }, 400, /unknown field "temprature"/],
      [{ prompt: 'a', maxBytes: 513 }, 400, /"maxBytes": expected an integer in 1\.\.512, got 513/],
      [{ prompt: 'a', temperature: -1 }, 400, /temperature/],
      [{ prompt: 7 }, 400, /"prompt": expected a string, got 7/],
      [{ prompt: 'a', stop: [''] }, 400, /"stop"/],
      ['{"prompt": ', 400, /not JSON/],
      [[1, 2], 400, /must be a JSON object/],
      [{ prompt: 'x'.repeat(5000) }, 413, /over the limit of 4096/],
    ];
    for (const [body, status, message] of cases) {
      const answer = await post(url, '/v1/generate', body);
      expect([answer.status, answer.json.error]).toEqual([status, expect.stringMatching(message)]);
    }
    expect((await post(url, '/v1/score', { text: '' })).status).toBe(400);
    expect((await post(url, '/v2/chat', {})).status).toBe(404);
    expect((await fetch(`${url}/v1/generate`)).status).toBe(405);
    expect(((await (await fetch(`${url}/health`)).json()) as { status: string }).status).toBe('ok');
  });

  it('refuses requests beyond the queue with 429 and finishes every accepted one', async () => {
    const { url } = await start({ maxBatch: 1, maxQueue: 2 });
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => postGenerate(url, PROMPTS[i]!, 64)),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    for (const answer of answers.filter((a) => a.status === 200)) expect(answer.bytes).toBe(64);
    // The server is still there.
    expect((await postGenerate(url, 'The ', 4)).status).toBe(200);
  });

  it('shuts down gracefully: streams in flight finish, new requests get 503', async () => {
    const { server, url } = await start();
    const inFlight = stream(url, { prompt: 'The ', maxBytes: 200, temperature: 0 });
    // Wait until the request is running, then start the shutdown.
    while (!server.scheduler.busy) await new Promise((resolve) => setTimeout(resolve, 5));
    const closed = server.close();
    const refused = await new Promise<number>((resolve, reject) => {
      const req = request(`${url}/v1/generate`, { method: 'POST' }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      req.on('error', (error: NodeJS.ErrnoException) =>
        error.code === 'ECONNREFUSED' ? resolve(503) : reject(error),
      );
      req.end('{}');
    });
    expect(refused).toBe(503);
    const events = await inFlight;
    expect(events.at(-1)).toEqual({ done: true, bytes: 200 });
    await closed;
    expect(server.http.listening).toBe(false);
  });
});
