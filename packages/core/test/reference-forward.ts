import type { NamedParameter } from '@megabyte/nn';
import type { LegacyMegabyteConfig, TransformerConfig } from '../src/config.js';

/**
 * A plain-JavaScript forward pass written straight from the paper's equations (loops over
 * numbers, no tfjs), reading the weights of a built model by name. Tests compare the tfjs model
 * against it.
 */
type Matrix = number[][];

export function referenceLogits(
  config: LegacyMegabyteConfig | TransformerConfig,
  parameters: NamedParameter[],
  ids: number[],
): Matrix {
  const weights = new Map(
    parameters.map((p) => [p.name, { shape: p.variable.shape, data: Array.from(p.variable.dataSync()) }]),
  );
  const get = (name: string): Matrix => {
    const w = weights.get(name);
    if (!w) throw new Error(`reference: no parameter ${name}`);
    const cols = w.shape.length === 1 ? w.shape[0]! : w.shape[1]!;
    const rows = w.data.length / cols;
    return Array.from({ length: rows }, (_, r) => w.data.slice(r * cols, (r + 1) * cols));
  };
  const vector = (name: string) => get(name)[0]!;
  return config.kind === 'megabyte'
    ? megabyte(config, get, vector, ids)
    : transformer(config, get, vector, ids);
}

type Getter = (name: string) => Matrix;
type VectorGetter = (name: string) => number[];

function megabyte(config: LegacyMegabyteConfig, get: Getter, vector: VectorGetter, ids: number[]): Matrix {
  const P = config.patchSize;
  const K = Math.ceil(ids.length / P);
  const padded = [...ids, ...Array(K * P - ids.length).fill(256)];
  const levels = [
    { prefix: 'global', ...config.global, patchSize: P },
    ...(config.middle ?? []).map((level, i) => ({ prefix: `middle.${i}`, ...level })),
  ];

  /** Logits of the bytes of one span: the whole sequence at the global level, one patch of the level above below it. */
  const run = (index: number, bytes: number[], parentOut?: number[], parentByteDim = 0): Matrix => {
    const level = levels[index];
    if (!level) return local(bytes, parentOut!, parentByteDim);
    const { prefix, patchSize, byteDim } = level;
    const byteEmbed = get(`${prefix}.embed.bytes.weight`);
    const positions = get(`${prefix}.embed.positions`);
    // 1. embed each byte (positions count from the start of the span), convolve, concatenate each patch
    let embedded = bytes.map((id, t) => add(byteEmbed[id]!, positions[t]!));
    const kernels = index === 0 ? (config.global.convKernels ?? []) : [];
    kernels.forEach((kernelSize, i) => {
      const weight = get(`${prefix}.embed.conv.${i}.weight`); // [k*D, D]: block j weighs the input j back
      embedded = embedded.map((row, t) => {
        const out = new Array<number>(byteDim).fill(0);
        for (let j = 0; j < kernelSize && j <= t; j++) {
          embedded[t - j]!.forEach((x, c) => {
            for (let o = 0; o < byteDim; o++) out[o]! += x * weight[j * byteDim + c]![o]!;
          });
        }
        return row.map((x, o) => x + gelu(out[o]!));
      });
    });
    const patches: Matrix = [];
    for (let k = 0; k < bytes.length / patchSize; k++) {
      patches.push(embedded.slice(k * patchSize, (k + 1) * patchSize).flat());
    }
    // 2. shift by one patch behind the pad
    const input = [vector(`${prefix}.pad`), ...patches.slice(0, -1)];
    // a middle level: plus the parent's per-byte slices, projected and grouped like the patches
    if (parentOut) {
      for (let k = 0; k < input.length; k++) {
        const conditioning: number[] = [];
        for (let p = 0; p < patchSize; p++) {
          const t = k * patchSize + p;
          const slice = parentOut.slice(t * parentByteDim, (t + 1) * parentByteDim);
          conditioning.push(...linear(get, `${prefix}.project`, [slice], config.bias)[0]!);
        }
        input[k] = add(input[k]!, conditioning);
      }
    }
    // 3. the level's transformer, then each patch's bytes one level down
    const out = stack(config, get, vector, prefix, level.layers, level.heads, input);
    return out.flatMap((patchOut, k) =>
      run(index + 1, bytes.slice(k * patchSize, (k + 1) * patchSize), patchOut, byteDim),
    );
  };

  // 4-6. one local patch: project slices, add previous-byte embedding (pad at p = 0) and positions, local transformer
  const local = (bytes: number[], parentOut: number[], parentByteDim: number): Matrix => {
    const localEmbed = get('local.embed.bytes.weight');
    const localPositions = get('local.embed.positions');
    const localIn = bytes.map((_, p) => {
      const slice = parentOut.slice(p * parentByteDim, (p + 1) * parentByteDim);
      const projected = linear(get, 'local.project', [slice], config.bias)[0]!;
      const previous = p === 0 ? vector('local.pad') : localEmbed[bytes[p - 1]!]!;
      return add(add(projected, previous), localPositions[p]!);
    });
    const record: Matrix[] = [];
    const localOut = stack(
      config,
      get,
      vector,
      'local',
      config.local.layers,
      config.local.heads,
      localIn,
      { before: previousPatch, record },
      // Cross-patch attention turns queries and keys unless the level says rotary: false.
      config.local.rotary ?? (config.local.crossPatch ?? 0) > 0,
    );
    const keep = config.local.crossPatch ?? 0;
    previousPatch = keep > 0 ? record.map((rows) => rows.slice(-keep)) : undefined;
    return head(config, get, 'local', localOut);
  };
  /** Each local layer's attention input at the last positions of the previous patch (cross-patch attention). */
  let previousPatch: Matrix[] | undefined;

  return run(0, padded).slice(0, ids.length);
}

function transformer(config: TransformerConfig, get: Getter, vector: VectorGetter, ids: number[]): Matrix {
  const embed = get('embed.bytes.weight');
  const positions = get('embed.positions');
  const input = ids.map((_, t) => add(t === 0 ? vector('start') : embed[ids[t - 1]!]!, positions[t]!));
  const out = stack(config, get, vector, '', config.layers, config.heads, input);
  return head(config, get, '', out);
}

function head(
  config: LegacyMegabyteConfig | TransformerConfig,
  get: Getter,
  prefix: string,
  h: Matrix,
): Matrix {
  const name = (n: string) => (prefix ? `${prefix}.${n}` : n);
  if (config.tieHead) return matmul(h, transpose(get(name('embed.bytes.weight'))));
  return matmul(h, get(name('head.weight')));
}

function stack(
  config: LegacyMegabyteConfig | TransformerConfig,
  get: Getter,
  vector: VectorGetter,
  prefix: string,
  layers: number,
  heads: number,
  x: Matrix,
  crossPatch?: { readonly before: Matrix[] | undefined; readonly record: Matrix[] },
  rotary = false,
): Matrix {
  const name = (n: string) => (prefix ? `${prefix}.${n}` : n);
  const norm = (h: Matrix, n: string) =>
    h.map((row) =>
      normalise(
        config,
        row,
        vector(name(`${n}.weight`)),
        config.norm === 'layernorm' ? vector(name(`${n}.bias`)) : undefined,
      ),
    );
  let h = x;
  for (let l = 0; l < layers; l++) {
    const at = `layers.${l}`;
    const input = norm(h, `${at}.attn_norm`);
    // Cross-patch attention: keys and values also from the previous patch's last positions.
    crossPatch?.record.push(input);
    const a = attention(get, name(`${at}.attn`), input, heads, config.bias, crossPatch?.before?.[l], rotary);
    h = h.map((row, t) => add(row, a[t]!));
    const up = linear(get, name(`${at}.mlp.up`), norm(h, `${at}.mlp_norm`), config.bias).map((row) =>
      row.map((v) => (config.activation === 'gelu' ? gelu(v) : Math.max(0, v))),
    );
    const down = linear(get, name(`${at}.mlp.down`), up, config.bias);
    h = h.map((row, t) => add(row, down[t]!));
  }
  return norm(h, 'norm');
}

function attention(
  get: Getter,
  prefix: string,
  x: Matrix,
  heads: number,
  bias: boolean,
  before: Matrix = [],
  rotary = false,
): Matrix {
  const q = linear(get, `${prefix}.wq`, x, bias);
  const k = linear(get, `${prefix}.wk`, [...before, ...x], bias);
  const v = linear(get, `${prefix}.wv`, [...before, ...x], bias);
  const seen = before.length;
  const dim = q[0]!.length;
  const dh = dim / heads;
  const out: Matrix = x.map(() => Array(dim).fill(0));
  for (let head = 0; head < heads; head++) {
    const cols = (row: number[]) => row.slice(head * dh, (head + 1) * dh);
    // RoPE: the earlier patch's keys first, so key s sits at position s and query t at seen + t.
    const turn = (vector: number[], position: number) => (rotary ? turnPairs(vector, position) : vector);
    for (let t = 0; t < x.length; t++) {
      const scores = Array.from(
        { length: seen + t + 1 },
        (_, s) => dot(turn(cols(q[t]!), seen + t), turn(cols(k[s]!), s)) / Math.sqrt(dh),
      );
      const max = Math.max(...scores);
      const exp = scores.map((s) => Math.exp(s - max));
      const total = exp.reduce((a, b) => a + b, 0);
      for (let s = 0; s <= seen + t; s++) {
        const weight = exp[s]! / total;
        cols(v[s]!).forEach((value, d) => {
          out[t]![head * dh + d]! += weight * value;
        });
      }
    }
  }
  return linear(get, `${prefix}.wo`, out, bias);
}

/** Rotary embedding of one head's vector: pair (2i, 2i+1) turned by position * 10000^(-2i/d). */
function turnPairs(vector: number[], position: number): number[] {
  const out = [...vector];
  for (let i = 0; i + 1 < vector.length; i += 2) {
    const angle = position / 10000 ** (i / vector.length);
    const [a, b] = [vector[i]!, vector[i + 1]!];
    out[i] = a * Math.cos(angle) - b * Math.sin(angle);
    out[i + 1] = a * Math.sin(angle) + b * Math.cos(angle);
  }
  return out;
}

function linear(get: Getter, prefix: string, x: Matrix, bias: boolean): Matrix {
  const y = matmul(x, get(`${prefix}.weight`));
  if (!bias) return y;
  const b = get(`${prefix}.bias`)[0]!;
  return y.map((row) => add(row, b));
}

function normalise(
  config: { norm: string },
  row: number[],
  gain: number[],
  bias: number[] | undefined,
): number[] {
  const n = row.length;
  if (config.norm === 'rmsnorm') {
    const rms = Math.sqrt(row.reduce((a, v) => a + v * v, 0) / n + 1e-5);
    return row.map((v, i) => (v / rms) * gain[i]!);
  }
  const mean = row.reduce((a, v) => a + v, 0) / n;
  const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
  return row.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * gain[i]! + bias![i]!);
}

const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const add = (a: number[], b: number[]) => a.map((v, i) => v + b[i]!);
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
const transpose = (m: Matrix) => m[0]!.map((_, c) => m.map((row) => row[c]!));
const matmul = (a: Matrix, b: Matrix) =>
  a.map((row) => b[0]!.map((_, c) => row.reduce((s, v, i) => s + v * b[i]![c]!, 0)));
