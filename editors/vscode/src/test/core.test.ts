import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as core from '../core';
import { INTERNAL_SETTING_KEYS } from '../protocol';
import { statusWith as status } from './status';

test('serverSettings keeps only the keys the server knows', () => {
  const out = core.serverSettings({
    model: 'qwen2.5-coder-1.5b-instruct',
    multiline: false,
    maxSeconds: 2.5,
    disabledLanguages: ['markdown'],
    enable: true,
    server: { command: 'x' },
    languages: ['python'],
    actions: [{ title: 't', prompt: 'p' }],
    customActions: [{ title: 'Translate', prompt: 'p' }],
    actionMaxSeconds: 600,
    threads: null,
    gpuLayers: undefined,
  });
  assert.deepEqual(out, {
    model: 'qwen2.5-coder-1.5b-instruct',
    multiline: false,
    maxSeconds: 2.5,
    disabledLanguages: ['markdown'],
    customActions: [{ title: 'Translate', prompt: 'p' }],
    actionMaxSeconds: 600,
  });
  assert.deepEqual(core.serverSettings(null), {});
  assert.deepEqual(core.serverSettings('x'), {});
});

test('every server setting but the internal switches is contributed in package.json, and nothing unknown is sent', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const props = Object.keys(pkg.contributes.configuration.properties).map((k) => k.replace(/^qwenLsp\./, ''));
  const internal: readonly string[] = INTERNAL_SETTING_KEYS;
  for (const key of core.SERVER_SETTING_KEYS) {
    assert.equal(props.includes(key), !internal.includes(key), `package.json and qwenLsp.${key}`);
  }
  for (const key of core.RESTART_SETTING_KEYS) {
    assert.ok(props.includes(key), `package.json lacks qwenLsp.${key}`);
  }
  const extensionOnly = props.filter((p) => !(core.SERVER_SETTING_KEYS as readonly string[]).includes(p));
  const backends: string[] = pkg.contributes.configuration.properties['qwenLsp.backend'].enum;
  assert.ok(backends.includes('openai') && !backends.includes('fake'), 'the fake backend is not offered in the Settings UI');
  assert.deepEqual(extensionOnly.sort(), ['enable', 'languages', 'server.args', 'server.command', 'server.env', 'statusPollSeconds']);
  for (const cmd of ['qwenLsp.pullModel', 'qwenLsp.restartServer', 'qwenLsp.toggleCompletions', 'qwenLsp.showStatus']) {
    assert.ok(pkg.contributes.commands.some((c: { command: string }) => c.command === cmd), cmd);
  }
});

test('serverLaunch: defaults, home expansion, junk ignored', () => {
  assert.deepEqual(core.serverLaunch(undefined, undefined, undefined, '/home/u'), {
    command: 'qwen-lsp',
    args: [],
    env: {},
  });
  assert.deepEqual(
    core.serverLaunch('~/qwen/.venv/bin/qwen-lsp', ['--log-file', '${userHome}/q.log', 3], { A: '~/x', B: 1 }, '/home/u'),
    { command: '/home/u/qwen/.venv/bin/qwen-lsp', args: ['--log-file', '/home/u/q.log'], env: { A: '/home/u/x' } },
  );
  assert.equal(core.serverLaunch('  ', [], {}, '/h').command, 'qwen-lsp');
  assert.equal(core.serverLaunch('/opt/~x', [], {}, '/h').command, '/opt/~x');
});

test('documentSelector: all files, or the listed languages', () => {
  assert.deepEqual(core.documentSelector([]), [{ scheme: 'file' }, { scheme: 'untitled' }]);
  assert.deepEqual(core.documentSelector(undefined), [{ scheme: 'file' }, { scheme: 'untitled' }]);
  assert.deepEqual(core.documentSelector(['python', ' go ', '']), [
    { scheme: 'file', language: 'python' },
    { scheme: 'file', language: 'go' },
    { scheme: 'untitled', language: 'python' },
    { scheme: 'untitled', language: 'go' },
  ]);
});

test('statusView: loading, ready, error with the fix, off, start failure', () => {
  const loading = core.statusView('running', status({ state: 'loading', model: 'm' }), true);
  assert.match(loading.text, /loading/);
  assert.equal(loading.kind, 'normal');
  assert.match(core.statusView('running', status({ state: 'unloaded', model: 'm' }), true).text, /loading/);

  const ready = core.statusView(
    'running',
    status({
      state: 'ready',
      model: 'default',
      completions: { ...status({}).completions, requests: 3, cacheHits: 1, generations: 2 },
      lastGeneration: {
        text: 'return 1',
        promptTokens: 120,
        reusedTokens: 100,
        generatedTokens: 7,
        promptSeconds: 0.2,
        generateSeconds: 0.35,
        stopReason: 'stop_token',
        draftedTokens: 0,
        acceptedTokens: 0,
        threads: 2,
        tokenEnds: [6, 8],
        tokenChances: [0.9, 0.7],
      },
    }),
    true,
  );
  assert.equal(ready.text, '$(sparkle) Qwen');
  assert.match(ready.tooltip, /model default ready/);
  assert.match(ready.tooltip, /3 requests, 1 from the cache, 2 generations/);
  assert.match(ready.tooltip, /prompt 120 tokens \(100 reused\) in 0\.20 s/);
  assert.match(ready.tooltip, /7 generated in 0\.35 s/);
  assert.doesNotMatch(ready.tooltip, /saved model states/); // none kept: nothing to say
  const holding = core.statusView('running', status({ state: 'ready', savedStateBytes: 54 << 20 }), true);
  assert.match(holding.tooltip, /saved model states: 54 MB/);

  const error = core.statusView(
    'running',
    status({ state: 'error', model: 'x', error: { message: 'model file missing', fix: 'qwen-lsp models pull x', pullModel: 'x' } }),
    true,
  );
  assert.equal(error.kind, 'error');
  assert.match(error.tooltip, /model file missing/);
  assert.match(error.tooltip, /Fix: qwen-lsp models pull x/);

  const off = core.statusView('running', status({ state: 'ready', model: 'm' }), false);
  assert.match(off.text, /circle-slash/);
  assert.match(off.tooltip, /off/);

  const failed = core.statusView('failed', undefined, true, 'spawn qwen-lsp ENOENT');
  assert.equal(failed.kind, 'error');
  assert.match(failed.tooltip, /ENOENT/);
  assert.match(failed.tooltip, /qwenLsp\.server\.command/);

  assert.match(core.statusView('starting', undefined, true).text, /sync~spin/);
  assert.equal(core.statusView('stopped', undefined, true).kind, 'warning');
});

test('parseModelList reads `qwen-lsp models list --json`', () => {
  const entry = (name: string, isDefault: boolean, present: boolean, verified: boolean | null) => ({
    name,
    file: `${name}.gguf`,
    size: 491400064,
    sha256: null,
    description: `${name} description`,
    source: 'pypi',
    architecture: 'qwen2',
    completionStyle: 'fim',
    gpuMemoryGb: null,
    isDefault,
    present,
    verified,
    path: `/root/.cache/qwen-lsp/models/${name}.gguf`,
  });
  const out = JSON.stringify(
    [
      entry('qwen2.5-coder-0.5b-instruct', true, true, true),
      entry('qwen2.5-coder-1.5b-instruct', false, false, null),
      entry('qwen2.5-coder-3b-instruct', false, true, false),
      entry('qwen2.5-coder-7b-instruct', false, true, null),
    ],
    null,
    2,
  );
  const models = core.parseModelList(out + '\n');
  assert.deepEqual(
    models.map((m) => [m.name, m.isDefault, core.modelStatusText(m)]),
    [
      ['qwen2.5-coder-0.5b-instruct', true, 'verified'],
      ['qwen2.5-coder-1.5b-instruct', false, 'not downloaded'],
      ['qwen2.5-coder-3b-instruct', false, 'corrupt (wrong size)'],
      ['qwen2.5-coder-7b-instruct', false, 'present (not verified yet)'],
    ],
  );
  assert.equal(models[0].description, 'qwen2.5-coder-0.5b-instruct description');
  assert.deepEqual(core.parseModelList('error: no registry'), []);
  assert.deepEqual(core.parseModelList('{"name": "not a list"}'), []);
  assert.deepEqual(core.parseModelList('[{"file": "no name"}, 3, null]'), []);
});

test('modelDetail: the GPU a model needs and a chat completion style are said', () => {
  const [small] = core.parseModelList(
    JSON.stringify([{ name: 'a', description: 'Small.', completionStyle: 'fim', gpuMemoryGb: null }]),
  );
  assert.equal(core.modelDetail(small), 'Small.');
  const [big] = core.parseModelList(
    JSON.stringify([{ name: 'b', description: 'Big.', completionStyle: 'chat', gpuMemoryGb: 18 }]),
  );
  assert.equal(
    core.modelDetail(big),
    'Big. · needs a GPU with about 18 GB · asked through its chat template (not trained on fill-in-the-middle)',
  );
});

test('parsePullProgress: percentages and plain lines', () => {
  assert.deepEqual(core.parsePullProgress('part 2/6:    163.8 / 491.4 MB  33.3%    12.0 MB/s\x1b[K'), {
    message: 'part 2/6: 163.8 / 491.4 MB 33.3% 12.0 MB/s',
    percent: 33.3,
  });
  assert.deepEqual(core.parsePullProgress('verifying sha256'), { message: 'verifying sha256' });
});

test('pollDelayMs: fast while loading, settled otherwise', () => {
  assert.equal(core.pollDelayMs(undefined, 10), 1000);
  assert.equal(core.pollDelayMs(status({ state: 'loading' }), 10), 1000);
  assert.equal(core.pollDelayMs(status({ state: 'unloaded' }), 10), 1000);
  assert.equal(core.pollDelayMs(status({ state: 'ready' }), 10), 10000);
  assert.equal(core.pollDelayMs(status({ state: 'error' }), 0), 1000);
});

test('modelCommandEnv: model commands get the settings the server gets', () => {
  assert.deepEqual(core.modelCommandEnv({ cacheDir: '/models', hubUrl: '', threads: 2, multiline: false, model: undefined }), {
    QWEN_LSP_CACHE_DIR: '/models',
    QWEN_LSP_THREADS: '2',
  });
  assert.deepEqual(core.modelCommandEnv({}), {});
});
