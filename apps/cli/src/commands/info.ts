import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  flopsPerByte,
  levelScope,
  type ModelConfig,
  modelGeometry,
  parameterBreakdown,
} from '@megabyte/core';
import { loadModel } from '@megabyte/core/node';
import { resolveModelDirectory } from '@megabyte/trainer/node';
import { Command } from 'commander';
import { formatBytes, formatCount, userPath } from '../options.js';
import { startRuntime } from '../runtime.js';

export function infoCommand(): Command {
  return new Command('info')
    .description("a model's config, parameter counts, FLOPs per byte and training history")
    .requiredOption('--model <dir>', 'checkpoint or run directory')
    .option('--json', 'print as JSON', false)
    .addHelpText('after', '\nExample:\n  megabyte info --model packages/model-default')
    .action(async (flags: { model: string; json: boolean }) => {
      const dir = await resolveModelDirectory(userPath(flags.model));
      // The checkpoint is loaded, so every check of a load (config bounds, tensor names and shapes
      // against the config, finite weights) runs: a summary of a checkpoint that cannot load misleads.
      await startRuntime('cpu', false);
      const model = await loadModel(dir);
      const config = model.config;
      model.dispose();
      const weights = await stat(join(dir, 'model.safetensors'));
      const history = await trainingHistory(dir);
      const report = {
        checkpoint: dir,
        config,
        parameters: parameterBreakdown(config),
        flopsPerByte: flopsPerByte(config),
        weightsFileBytes: weights.size,
        training: history,
      };
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        describe(report.config, report.parameters, report.flopsPerByte, dir, weights.size, history),
      );
    });
}

function describe(
  config: ModelConfig,
  parts: ReturnType<typeof parameterBreakdown>,
  flops: number,
  dir: string,
  fileBytes: number,
  history: Record<string, unknown> | undefined,
): string {
  const lines = [`checkpoint: ${dir} (weights ${formatBytes(fileBytes)})`];
  if (config.kind === 'megabyte') {
    const geometry = modelGeometry(config);
    const P = geometry.stepBytes;
    lines.push(
      `model: MEGABYTE, patch ${P} bytes, context ${config.contextLength} bytes (${config.contextLength / P} patches)`,
      ...geometry.levels.map((level, i) => {
        const name = levelScope(i, geometry.levels.length).replace('.', ' ');
        const width =
          level.bytesPerPosition > 1
            ? `${level.width} (${level.bytesPerPosition} x ${level.width / level.bytesPerPosition})`
            : `${level.width}`;
        const patches =
          i > 0 && level.bytesPerPosition > 1 ? `patches of ${level.bytesPerPosition} bytes, ` : '';
        return `  ${`${name}:`.padEnd(7)} ${patches}${level.layers} layers x width ${width}, ${level.heads} heads`;
      }),
    );
  } else {
    lines.push(
      `model: baseline transformer, ${config.layers} layers x width ${config.dim}, ${config.heads} heads, context ${config.contextLength} bytes`,
    );
  }
  lines.push(
    `  ${config.norm}, ${config.activation}, mlp x${config.mlpRatio}, dropout ${config.dropout}, ${config.tieHead ? 'tied' : 'separate'} head`,
    `parameters: ${formatCount(parts.total)} total = global ${formatCount(parts.global)}${parts.middle > 0 ? ` + middle ${formatCount(parts.middle)}` : ''} + local ${formatCount(parts.local)} + embeddings ${formatCount(parts.embeddings)}`,
    `forward FLOPs per byte: ${formatCount(flops)} (2 x (m_global / P + m_local))`,
  );
  if (history) lines.push(`training: ${JSON.stringify(history)}`);
  return `${lines.join('\n')}\n`;
}

/** What the run directory around a checkpoint says about its training, if anything. */
async function trainingHistory(checkpoint: string): Promise<Record<string, unknown> | undefined> {
  for (const dir of [checkpoint, dirname(checkpoint), dirname(dirname(checkpoint))]) {
    const summary = await readFile(join(dir, 'summary.json'), 'utf8').catch(() => undefined);
    const trainer = await readFile(join(checkpoint, 'trainer.json'), 'utf8').catch(() => undefined);
    if (summary) return JSON.parse(summary) as Record<string, unknown>;
    if (trainer) {
      const state = JSON.parse(trainer) as {
        step: number;
        bestValidationBitsPerByte: number | null;
        savedAt: string;
      };
      return {
        step: state.step,
        bestValidationBitsPerByte: state.bestValidationBitsPerByte,
        savedAt: state.savedAt,
      };
    }
  }
  return undefined;
}
