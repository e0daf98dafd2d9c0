// Running `qwen-lsp models pull [NAME]` and reading its progress, without VS Code: the
// extension wraps this in a progress notification, and `node --test` runs it against a
// stand-in executable.
import { spawn } from 'node:child_process';
import { parsePullProgress, type ServerLaunch } from './core';
import type { Status } from './protocol';

export interface PullProgress {
  message: string;
  /** Percentage points gained since the last report (for VS Code's progress bar). */
  increment?: number;
}

export interface PullOutcome {
  ok: boolean;
  /** The process's exit code; null when it could not start or was killed. */
  code: number | null;
  /** Its last progress or error line: what to show when it failed. */
  lastMessage: string;
}

/** Something that can ask to stop (a vscode.CancellationToken fits). */
export interface Cancellation {
  isCancellationRequested: boolean;
  onCancellationRequested(listener: () => unknown): unknown;
}

export function pullArgs(name?: string): string[] {
  return ['models', 'pull', ...(name ? [name] : [])];
}

export interface PullOptions {
  onProgress?: (p: PullProgress) => void;
  /** What the command prints on stdout (the model's path when it succeeds). */
  onStdout?: (text: string) => void;
  cancel?: Cancellation;
  /** The environment the server's own variables are added to (default: this process's). */
  baseEnv?: NodeJS.ProcessEnv;
}

/**
 * Run the pull with the server's command and environment. Resolves when it ends (never
 * rejects); a cancellation sends SIGINT, after which the command removes what it started.
 */
export function runPull(
  launch: ServerLaunch,
  name: string | undefined,
  options: PullOptions = {},
): Promise<PullOutcome> {
  const { onProgress = () => undefined, onStdout, cancel, baseEnv = process.env } = options;
  return new Promise<PullOutcome>((resolve) => {
    let lastMessage = '';
    let settled = false;
    const finish = (code: number | null): void => {
      if (!settled) {
        settled = true;
        resolve({ ok: code === 0, code, lastMessage });
      }
    };
    const child = spawn(launch.command, pullArgs(name), {
      env: { ...baseEnv, ...launch.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (cancel) {
      if (cancel.isCancellationRequested) {
        child.kill('SIGINT');
      }
      cancel.onCancellationRequested(() => child.kill('SIGINT'));
    }
    let lastPercent = 0;
    let buffer = '';
    const take = (line: string): void => {
      const p = parsePullProgress(line);
      if (!p.message) {
        return;
      }
      lastMessage = p.message;
      let increment: number | undefined;
      if (p.percent !== undefined) {
        increment = p.percent > lastPercent ? p.percent - lastPercent : undefined;
        lastPercent = Math.max(lastPercent, p.percent);
      }
      onProgress({ message: p.message, increment });
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      // A terminal-style progress line ends in \r; a finished one in \n.
      buffer += chunk;
      const lines = buffer.split(/[\r\n]/);
      buffer = lines.pop() ?? '';
      lines.forEach(take);
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => onStdout?.(text));
    child.on('error', (err) => {
      lastMessage = err.message;
      finish(null);
    });
    child.on('close', (code) => {
      take(buffer);
      buffer = '';
      finish(code);
    });
  });
}

export const PULL_BUTTON = 'Pull Model';
export const SETTINGS_BUTTON = 'Open Settings';

/**
 * The buttons of the notification for a server message: when the server reports (in its
 * status) a model error that downloading a registry model fixes, and the message is that
 * error, it offers to run the download.
 */
export function messageActions(message: string, status: Status | undefined): { buttons: string[]; target?: string } {
  const error = status?.state === 'error' ? status.error : null;
  if (!error?.pullModel || !message.includes(error.message)) {
    return { buttons: [] };
  }
  return { buttons: [PULL_BUTTON, SETTINGS_BUTTON], target: error.pullModel };
}
