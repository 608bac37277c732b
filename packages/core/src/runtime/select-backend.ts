import {
  type BackendCandidate,
  type BackendChoice,
  type BackendStatus,
  type LoadedBackendInfo,
  RuntimeUnavailableError,
  UnknownBackendError,
} from './backend-candidate.js';

export interface SelectBackendOptions {
  /** A candidate's name, or `auto` (the default) for the first candidate that loads here. */
  readonly backend?: BackendChoice;
  /** Passed to the candidate's `load` (wasm's thread count). */
  readonly threads?: number;
  /** Receives one line per decision: what `auto` skipped and why. */
  readonly log?: (line: string) => void;
}

/** A candidate passed over by `auto`, and why. */
export interface SkippedBackend {
  readonly name: string;
  readonly why: string;
}

/** The candidate that runs, loaded, and why it was chosen. */
export interface BackendSelection<Loaded extends LoadedBackendInfo> {
  readonly candidate: BackendCandidate<Loaded>;
  readonly loaded: Loaded;
  /** Asked for by name, or what `auto` skipped before it. */
  readonly reason: string;
  /** What `auto` skipped before it, in order (empty when asked for by name). */
  readonly skipped: readonly SkippedBackend[];
  /** One line for people: name, package, version, details; reason. */
  readonly description: string;
}

/**
 * Loads the backend asked for by name, or with `auto` the first of `candidates` (fastest first)
 * that is available, not passed over (e.g. a software GPU adapter) and loads without throwing.
 */
export async function selectBackend<Loaded extends LoadedBackendInfo>(
  candidates: readonly BackendCandidate<Loaded>[],
  options: SelectBackendOptions = {},
): Promise<BackendSelection<Loaded>> {
  const { backend = 'auto', threads, log = () => {} } = options;
  return backend === 'auto'
    ? pickFirstThatLoads(candidates, threads, log)
    : loadNamed(backend, candidates, threads, log);
}

async function loadNamed<Loaded extends LoadedBackendInfo>(
  name: string,
  candidates: readonly BackendCandidate<Loaded>[],
  threads: number | undefined,
  log: (line: string) => void,
): Promise<BackendSelection<Loaded>> {
  const candidate = candidates.find((c) => c.name === name);
  if (!candidate) throw new UnknownBackendError(name, ['auto', ...candidates.map((c) => c.name)]);
  const loaded = await candidate.load({ ...(threads !== undefined && { threads }), log });
  return selection(candidate, loaded, 'asked for by name', []);
}

async function pickFirstThatLoads<Loaded extends LoadedBackendInfo>(
  candidates: readonly BackendCandidate<Loaded>[],
  threads: number | undefined,
  log: (line: string) => void,
): Promise<BackendSelection<Loaded>> {
  const skipped: SkippedBackend[] = [];
  const skip = (candidate: BackendCandidate<Loaded>, why: string) => {
    skipped.push({ name: candidate.name, why });
    log(`auto: skipping ${candidate.name}: ${why}`);
  };
  for (const candidate of candidates) {
    const status = await probeBackend(candidate);
    if (!status.available || status.passOver !== undefined) {
      skip(candidate, status.passOver ?? status.reason);
      continue;
    }
    try {
      const loaded = await candidate.load({ ...(threads !== undefined && { threads }), log });
      const reason =
        skipped.length === 0
          ? 'picked by auto: the fastest backend'
          : `picked by auto: the fastest that loads here (skipped ${listSkipped(skipped)})`;
      return selection(candidate, loaded, reason, skipped);
    } catch (error) {
      // Candidates from other packages throw their own error types; auto's job is to find one that works.
      skip(candidate, errorMessage(error));
    }
  }
  throw new RuntimeUnavailableError('auto', `No backend could be loaded: ${listSkipped(skipped)}.`);
}

function listSkipped(skipped: readonly SkippedBackend[]): string {
  return skipped.map(({ name, why }) => `${name}: ${why}`).join('; ');
}

function selection<Loaded extends LoadedBackendInfo>(
  candidate: BackendCandidate<Loaded>,
  loaded: Loaded,
  reason: string,
  skipped: readonly SkippedBackend[],
): BackendSelection<Loaded> {
  const engine = 'tf' in loaded ? 'tfjs backend' : 'backend';
  const label =
    loaded.backend === candidate.name ? candidate.name : `${candidate.name} (${engine} '${loaded.backend}')`;
  const description = `${label}: ${candidate.packageName} ${loaded.version}, ${loaded.details}; ${reason}`;
  return { candidate, loaded, reason, skipped, description };
}

/** The candidate's status; a probe that throws anyway counts as unavailable, with the error as the reason. */
export async function probeBackend(candidate: BackendCandidate<LoadedBackendInfo>): Promise<BackendStatus> {
  try {
    return await candidate.probe();
  } catch (error) {
    return { available: false, reason: `checking it failed: ${errorMessage(error)}` };
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
