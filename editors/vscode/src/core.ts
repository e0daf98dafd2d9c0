import { SERVER_SETTING_KEYS, SETTING_ENV, type Status } from './protocol';

// The parts of the extension that do not need VS Code: settings for the server, the
// status bar's text, reading `qwen-lsp models list --json`.
// Kept apart so that `node --test` can check them without an editor.

// Setting names, method names and the status payload come from the server's own
// declarations (generated into protocol.ts): a field renamed there fails this type check.
export { SECTION, SERVER_SETTING_KEYS, STATUS_METHOD } from './protocol';

/** Settings only the extension reads; changing one restarts the server. */
export const RESTART_SETTING_KEYS = ['server.command', 'server.args', 'server.env', 'languages'] as const;

/**
 * The server's part of the extension's settings. Keys the server does not know (the
 * extension's own) are left out: the server would warn about each of them.
 */
export function serverSettings(source: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (source === null || typeof source !== 'object') {
    return out;
  }
  const record = source as Record<string, unknown>;
  for (const key of SERVER_SETTING_KEYS) {
    const value = record[key];
    if (value !== undefined && value !== null) {
      out[key] = value;
    }
  }
  return out;
}

/**
 * Environment variables that give a model command (`qwen-lsp models pull|list`, run without
 * the server) the settings the server gets: the same model folder, hub and registry. Only
 * settings given a value (a non-empty string, a number, a boolean) are passed.
 */
export function modelCommandEnv(settings: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, variable] of Object.entries(SETTING_ENV)) {
    const value = settings[key];
    if ((typeof value === 'string' && value !== '') || typeof value === 'number' || typeof value === 'boolean') {
      env[variable] = String(value);
    }
  }
  return env;
}

export interface ServerLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** The server's command line from the settings; `${userHome}` and `~/` are expanded. */
export function serverLaunch(
  command: unknown,
  args: unknown,
  env: unknown,
  home: string,
): ServerLaunch {
  const expand = (s: string): string =>
    s.replace(/\$\{userHome\}/g, home).replace(/^~(?=\/|$)/, home);
  const cmd = typeof command === 'string' && command.trim() !== '' ? command.trim() : 'qwen-lsp';
  const argv = Array.isArray(args) ? args.filter((a): a is string => typeof a === 'string') : [];
  const vars: Record<string, string> = {};
  if (env !== null && typeof env === 'object' && !Array.isArray(env)) {
    for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
      if (typeof v === 'string') {
        vars[k] = expand(v);
      }
    }
  }
  return { command: expand(cmd), args: argv.map(expand), env: vars };
}

export interface DocumentFilter {
  scheme: string;
  language?: string;
}

/** Which documents the client attaches to: every file, or the listed language ids. */
export function documentSelector(languages: unknown): DocumentFilter[] {
  const ids = Array.isArray(languages)
    ? languages.filter((l): l is string => typeof l === 'string' && l.trim() !== '')
    : [];
  const schemes = ['file', 'untitled'];
  if (ids.length === 0) {
    return schemes.map((scheme) => ({ scheme }));
  }
  return schemes.flatMap((scheme) => ids.map((language) => ({ scheme, language: language.trim() })));
}

export type ServerStatus = Status;

export interface StatusView {
  text: string;
  tooltip: string;
  kind: 'normal' | 'warning' | 'error';
}

/** What the status bar shows for the client's state and the server's last answer. */
export function statusView(
  clientState: 'starting' | 'running' | 'stopped' | 'failed',
  status: ServerStatus | undefined,
  enabled: boolean,
  startError?: string,
): StatusView {
  const name = '$(sparkle) Qwen';
  if (clientState === 'failed') {
    return {
      text: `$(error) Qwen`,
      tooltip: `qwen-lsp: the server could not start${startError ? `: ${startError}` : ''}.\nFix: set "qwenLsp.server.command" to the qwen-lsp executable (e.g. /path/to/qwen-lsp/.venv/bin/qwen-lsp), then run "qwen-lsp: Restart the server".`,
      kind: 'error',
    };
  }
  if (clientState === 'stopped') {
    return { text: `$(circle-slash) Qwen`, tooltip: 'qwen-lsp: the server is stopped. Click to restart it.', kind: 'warning' };
  }
  if (clientState === 'starting' || status === undefined) {
    return { text: `$(sync~spin) Qwen`, tooltip: 'qwen-lsp: starting the server…', kind: 'normal' };
  }
  const model = status.model || 'default';
  if (status.state !== 'ready' && status.state !== 'error') {
    // "loading", or "unloaded" before the first load starts.
    return { text: `$(sync~spin) Qwen: loading`, tooltip: `qwen-lsp: loading model ${model}…`, kind: 'normal' };
  }
  if (status.state === 'error') {
    const err = status.error;
    const lines = [`qwen-lsp: model ${model} is not available.`];
    if (err) {
      lines.push(err.message);
      if (err.fix) {
        lines.push(`Fix: ${err.fix}`);
      }
    }
    lines.push('Click for details.');
    return { text: `$(error) Qwen`, tooltip: lines.join('\n'), kind: 'error' };
  }
  const lines = [`qwen-lsp: model ${model} ready.`];
  const c = status.completions;
  lines.push(
    `${c.requests} requests, ${c.cacheHits} from the cache, ${c.generations} generations (${c.cancelledGenerations} cancelled)`,
  );
  const last = status.lastGeneration;
  if (last) {
    lines.push(
      `last: prompt ${last.promptTokens} tokens (${last.reusedTokens} reused) in ${last.promptSeconds.toFixed(2)} s, ` +
        `${last.generatedTokens} generated in ${last.generateSeconds.toFixed(2)} s, stop: ${last.stopReason}`,
    );
  }
  if (status.savedStateBytes > 0) {
    // Memory the model states kept for reuse hold (kvCacheBytes, checkpointBytes cap it).
    lines.push(`saved model states: ${(status.savedStateBytes / (1 << 20)).toFixed(0)} MB`);
  }
  if (!enabled) {
    lines.push('Inline completions are off (click to turn them on).');
    return { text: `$(circle-slash) Qwen`, tooltip: lines.join('\n'), kind: 'normal' };
  }
  lines.push('Click to turn inline completions off.');
  return { text: name, tooltip: lines.join('\n'), kind: 'normal' };
}

/** One model of `qwen-lsp models list --json` (its keys: qwen_lsp/cli.py ModelListEntry). */
export interface ModelEntry {
  name: string;
  file: string;
  size: number | null;
  sha256: string | null;
  description: string;
  source: string;
  architecture: string;
  /** "fim" (trained on fill-in-the-middle) or "chat" (asked through its chat template). */
  completionStyle: string;
  /** The GPU memory it needs (GB); null: a CPU-sized model. */
  gpuMemoryGb: number | null;
  isDefault: boolean;
  present: boolean;
  /** true: checked; false: known bad (wrong size); null: not checked yet. */
  verified: boolean | null;
  path: string;
}

/** The models in the output of `qwen-lsp models list --json` ([] when it is not that). */
export function parseModelList(output: string): ModelEntry[] {
  let document: unknown;
  try {
    document = JSON.parse(output);
  } catch {
    return [];
  }
  if (!Array.isArray(document)) {
    return [];
  }
  return document.filter(
    (m): m is ModelEntry => typeof m === 'object' && m !== null && typeof m.name === 'string',
  );
}

/** A model's cache state in words (the STATUS column of `qwen-lsp models list`). */
export function modelStatusText(model: ModelEntry): string {
  if (!model.present) {
    return 'not downloaded';
  }
  if (model.verified === true) {
    return 'verified';
  }
  return model.verified === false ? 'corrupt (wrong size)' : 'present (not verified yet)';
}

/** A model's line in the model picker: what it is, and what a user must know before a
 * multi-gigabyte download (the GPU it needs, a completion style other than FIM). */
export function modelDetail(model: ModelEntry): string {
  const parts = [model.description];
  if (typeof model.gpuMemoryGb === 'number' && model.gpuMemoryGb > 0) {
    parts.push(`needs a GPU with about ${model.gpuMemoryGb} GB`);
  }
  if (model.completionStyle === 'chat') {
    parts.push('asked through its chat template (not trained on fill-in-the-middle)');
  }
  return parts.join(' · ');
}

/** Seconds until the next status poll: fast while things change, slow when settled. */
export function pollDelayMs(status: ServerStatus | undefined, settledSeconds: number): number {
  if (status === undefined || (status.state !== 'ready' && status.state !== 'error')) {
    return 1000;
  }
  return Math.max(1, settledSeconds) * 1000;
}

/** One stderr line of `qwen-lsp models pull`: its text and, when it has one, its percentage. */
export function parsePullProgress(line: string): { message: string; percent?: number } {
  const message = line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\s+/g, ' ').trim();
  const m = /(\d+(?:\.\d+)?)%/.exec(message);
  if (!m) {
    return { message };
  }
  const percent = Math.min(100, Math.max(0, Number(m[1])));
  return { message, percent };
}
