/**
 * A load test of `megabyte serve` over HTTP: `clients` concurrent clients each send greedy
 * generation requests one after another until `requests` have been sent or `timeLimitMs` has
 * passed. Greedy decoding makes each prompt's answer known in advance (from one request sent
 * alone first), so every response is checked: a lost, cut or mixed-up answer counts as a mismatch.
 */

/** Prompts whose greedy continuations differ under the default model, so that a mix-up between clients shows. */
export const LOAD_TEST_PROMPTS = ['The ', 'It was ', 'She said ', 'When ', 'A man ', 'They ', 'He ', 'Mr. '];

export interface LoadTestOptions {
  readonly clients: number;
  /** Requests sent in all (an upper bound: the time limit may stop it earlier). */
  readonly requests: number;
  /** No new request starts after this long. */
  readonly timeLimitMs: number;
  readonly maxBytes: number;
  /** Prompts, used in turn: distinct prompts make mixed-up answers visible. */
  readonly prompts: readonly string[];
}

export interface LoadTestResult {
  readonly clients: number;
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly bytesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses that were not 200 (e.g. 429 when the queue is full). */
  readonly refused: number;
  /** 200 responses whose text differs from the prompt's answer sent alone. */
  readonly mismatches: number;
}

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly bytes: number;
}

export async function postGenerate(url: string, prompt: string, maxBytes: number): Promise<Answer> {
  const response = await fetch(`${url}/v1/generate`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt, maxBytes, temperature: 0 }),
  });
  const body = (await response.json()) as { text?: string; bytes?: number };
  return { status: response.status, text: body.text ?? '', bytes: body.bytes ?? 0 };
}

/** Each prompt's greedy answer, asked one at a time. */
export async function referenceAnswers(
  url: string,
  prompts: readonly string[],
  maxBytes: number,
): Promise<Map<string, string>> {
  const answers = new Map<string, string>();
  for (const prompt of prompts) {
    const answer = await postGenerate(url, prompt, maxBytes);
    if (answer.status !== 200)
      throw new Error(`the reference request for ${JSON.stringify(prompt)} got ${answer.status}`);
    answers.set(prompt, answer.text);
  }
  return answers;
}

export async function loadTest(
  url: string,
  expected: ReadonlyMap<string, string>,
  options: LoadTestOptions,
): Promise<LoadTestResult> {
  const latencies: number[] = [];
  let sent = 0;
  let refused = 0;
  let mismatches = 0;
  let bytes = 0;
  const started = performance.now();
  const client = async () => {
    while (sent < options.requests && performance.now() - started < options.timeLimitMs) {
      const prompt = options.prompts[sent % options.prompts.length]!;
      sent++;
      const begin = performance.now();
      const answer = await postGenerate(url, prompt, options.maxBytes);
      if (answer.status !== 200) {
        refused++;
        continue;
      }
      latencies.push(performance.now() - begin);
      bytes += answer.bytes;
      if (answer.text !== expected.get(prompt)) mismatches++;
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    clients: options.clients,
    requests: latencies.length,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    bytesPerSecond: bytes / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    refused,
    mismatches,
  };
}

/** The nearest-rank percentile of sorted values (NaN for none). */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
