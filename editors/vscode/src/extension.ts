// VS Code side of qwen-lsp: starts the server over stdio through vscode-languageclient
// (which turns the server's inlineCompletionProvider capability into ghost text by
// itself), and adds a status-bar item, a few commands and the settings.
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  CancellationTokenSource,
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  ShowMessageNotification,
  MessageType,
  State,
  TransportKind,
} from 'vscode-languageclient/node';
import * as core from './core';
import * as pull from './pull';

type ClientState = 'starting' | 'running' | 'stopped' | 'failed';

class QwenExtension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private clientState: ClientState = 'stopped';
  private startError: string | undefined;
  private status: core.ServerStatus | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private pollGeneration = 0;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly output: vscode.LogOutputChannel) {
    this.statusItem = vscode.window.createStatusBarItem(
      'qwenLsp.status',
      vscode.StatusBarAlignment.Right,
      100,
    );
    this.statusItem.name = 'qwen-lsp';
    this.statusItem.command = 'qwenLsp.showStatus';
    this.statusItem.show();
    this.disposables.push(
      this.statusItem,
      vscode.commands.registerCommand('qwenLsp.restartServer', () => this.restart()),
      vscode.commands.registerCommand('qwenLsp.toggleCompletions', () => this.toggle()),
      vscode.commands.registerCommand('qwenLsp.pullModel', (name?: string) => this.pullModel(name)),
      vscode.commands.registerCommand('qwenLsp.showStatus', () => this.showStatusMenu()),
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigurationChanged(e)),
    );
    this.render();
  }

  private config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(core.SECTION);
  }

  private enabled(): boolean {
    return this.config().get<boolean>('enable', true);
  }

  private launch(): core.ServerLaunch {
    const c = this.config();
    return core.serverLaunch(
      c.get('server.command'),
      c.get('server.args'),
      c.get('server.env'),
      os.homedir(),
    );
  }

  private serverSettings(): Record<string, unknown> {
    const c = this.config();
    const values: Record<string, unknown> = {};
    for (const key of core.SERVER_SETTING_KEYS) {
      values[key] = c.get(key);
    }
    return core.serverSettings(values);
  }

  // -- the language client ----------------------------------------------------------------
  async start(): Promise<void> {
    const launch = this.launch();
    const serverOptions: ServerOptions = {
      command: launch.command,
      args: launch.args,
      transport: TransportKind.stdio,
      options: { env: { ...process.env, ...launch.env } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: core.documentSelector(this.config().get('languages')),
      initializationOptions: this.serverSettings(),
      outputChannel: this.output,
      middleware: {
        provideInlineCompletionItems: (document, position, context, token, next) =>
          this.enabled() ? next(document, position, context, token) : null,
        workspace: {
          // The server asks for the "qwenLsp" section; answer with its settings only.
          configuration: async (params, token, next) => {
            const result = await next(params, token);
            if (!Array.isArray(result)) {
              return result;
            }
            return result.map((item, i) =>
              params.items[i]?.section === core.SECTION ? this.serverSettings() : item,
            );
          },
        },
      },
    };
    const client = new LanguageClient('qwenLsp', 'qwen-lsp', serverOptions, clientOptions);
    this.client = client;
    this.clientState = 'starting';
    this.startError = undefined;
    this.status = undefined;
    this.render();
    client.onDidChangeState((e) => {
      if (this.client !== client) {
        return;
      }
      if (e.newState === State.Stopped) {
        this.clientState = 'stopped';
        this.render();
      } else if (e.newState === State.Running) {
        this.clientState = 'running';
        this.schedulePoll(0);
      }
    });
    try {
      await client.start();
    } catch (err) {
      if (this.client !== client) {
        return;
      }
      this.clientState = 'failed';
      this.startError = err instanceof Error ? err.message : String(err);
      this.output.error(`qwen-lsp could not start (${launch.command}): ${this.startError}`);
      this.render();
      const choice = await vscode.window.showErrorMessage(
        `qwen-lsp: cannot start "${launch.command}": ${this.startError}. ` +
          'Set "qwenLsp.server.command" to the qwen-lsp executable (e.g. /path/to/qwen-lsp/.venv/bin/qwen-lsp).',
        'Open Settings',
      );
      if (choice === 'Open Settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'qwenLsp.server.command');
      }
      return;
    }
    // The server explains model errors with "Fix: qwen-lsp models pull NAME": offer the fix.
    client.onNotification(ShowMessageNotification.type, (params) => void this.showServerMessage(params));
    this.clientState = 'running';
    this.schedulePoll(0);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.pollGeneration++;
    if (this.pollTimer) {
      clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
    if (client && client.state !== State.Stopped) {
      try {
        await client.stop(5000);
      } catch (err) {
        this.output.warn(`stopping the server: ${String(err)}`);
      }
    }
    this.clientState = 'stopped';
    this.render();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async showServerMessage(params: { type: MessageType; message: string }): Promise<void> {
    // Whether a download fixes it is in the status (error.pullModel), not in the text.
    const status = params.type === MessageType.Error ? await this.fetchStatus() : this.status;
    const { buttons: actions, target } = pull.messageActions(params.message, status);
    const show =
      params.type === MessageType.Error
        ? vscode.window.showErrorMessage
        : params.type === MessageType.Warning
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    const log = params.type === MessageType.Error ? this.output.error : this.output.info;
    log.call(this.output, params.message);
    void show(params.message, ...actions).then((choice) => {
      if (choice === pull.PULL_BUTTON) {
        void this.pullModel(target || undefined);
      } else if (choice === pull.SETTINGS_BUTTON) {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'qwenLsp.model');
      }
    });
    this.schedulePoll(0);
  }

  private onConfigurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration(core.SECTION)) {
      return;
    }
    if (core.RESTART_SETTING_KEYS.some((k) => e.affectsConfiguration(`${core.SECTION}.${k}`))) {
      void this.restart();
      return;
    }
    if (this.client && this.clientState === 'running') {
      // Pull model: the server answers by asking workspace/configuration (see middleware).
      void this.client.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
      this.schedulePoll(500);
    }
    this.render();
  }

  // -- status -----------------------------------------------------------------------------
  private schedulePoll(delayMs: number): void {
    if (this.pollTimer) {
      clearTimeout(this.pollTimer);
    }
    const generation = ++this.pollGeneration;
    this.pollTimer = setTimeout(() => void this.poll(generation), delayMs);
  }

  private async poll(generation: number): Promise<void> {
    const client = this.client;
    if (!client || generation !== this.pollGeneration || client.state !== State.Running) {
      return;
    }
    await this.fetchStatus();
    if (generation !== this.pollGeneration) {
      return;
    }
    this.render();
    const settled = this.config().get<number>('statusPollSeconds', 10);
    this.schedulePoll(core.pollDelayMs(this.status, settled));
  }

  /** Ask the server for its status (kept in this.status); undefined when it does not answer. */
  private async fetchStatus(): Promise<core.ServerStatus | undefined> {
    const client = this.client;
    if (!client || client.state !== State.Running) {
      return undefined;
    }
    const source = new CancellationTokenSource();
    // A short time-out: a reply can get lost while the server loads the model, and the
    // next poll must not wait for it.
    const timer = setTimeout(() => source.cancel(), 5000);
    try {
      this.status = await client.sendRequest<core.ServerStatus>(core.STATUS_METHOD, {}, source.token);
      return this.status;
    } catch (err) {
      this.output.debug(`status request failed: ${String(err)}`);
      return undefined;
    } finally {
      clearTimeout(timer);
      source.dispose();
    }
  }

  private render(): void {
    const view = core.statusView(this.clientState, this.status, this.enabled(), this.startError);
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
    this.statusItem.backgroundColor =
      view.kind === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.kind === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  private async showStatusMenu(): Promise<void> {
    const view = core.statusView(this.clientState, this.status, this.enabled(), this.startError);
    type Item = vscode.QuickPickItem & { run: () => unknown };
    const items: Item[] = [];
    const error = this.status?.state === 'error' ? this.status.error : null;
    const target = error?.pullModel;
    if (target) {
      items.push({ label: `$(cloud-download) Run the fix: ${error.fix}`, run: () => this.pullModel(target) });
    }
    items.push(
      {
        label: this.enabled() ? '$(circle-slash) Turn inline completions off' : '$(check) Turn inline completions on',
        run: () => this.toggle(),
      },
      { label: '$(debug-restart) Restart the server', run: () => this.restart() },
      { label: '$(cloud-download) Pull (download) a model…', run: () => this.pullModel() },
      { label: '$(gear) Settings', run: () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:qwen-lsp.qwen-lsp') },
      { label: '$(output) Show the server log', run: () => this.output.show() },
    );
    const picked = await vscode.window.showQuickPick(items, {
      title: view.tooltip.split('\n')[0],
      placeHolder: view.tooltip.split('\n').slice(1).join(' — ') || undefined,
    });
    await picked?.run();
  }

  private async toggle(): Promise<void> {
    const next = !this.enabled();
    await this.config().update('enable', next, vscode.ConfigurationTarget.Global);
    this.render();
    vscode.window.setStatusBarMessage(`qwen-lsp: inline completions ${next ? 'on' : 'off'}`, 3000);
  }

  // -- models -----------------------------------------------------------------------------
  private listModels(launch: core.ServerLaunch): Promise<core.ModelEntry[]> {
    return new Promise((resolve) => {
      execFile(
        launch.command,
        ['models', 'list', '--json'],
        { env: { ...process.env, ...launch.env }, timeout: 30000 },
        (err, stdout) => resolve(err ? [] : core.parseModelList(stdout)),
      );
    });
  }

  /** The server's command line for a model command: its environment carries the settings. */
  private modelCommandLaunch(): core.ServerLaunch {
    const launch = this.launch();
    return { ...launch, env: { ...launch.env, ...core.modelCommandEnv(this.serverSettings()) } };
  }

  async pullModel(name?: string): Promise<boolean> {
    const launch = this.modelCommandLaunch();
    if (name === undefined) {
      const models = await this.listModels(launch);
      type Item = vscode.QuickPickItem & { name: string };
      const items: Item[] = models.map((m) => ({
        label: m.name + (m.isDefault ? ' (default)' : ''),
        description: core.modelStatusText(m),
        detail: core.modelDetail(m),
        name: m.name,
      }));
      const configured = this.config().get<string>('model', '');
      const picked = items.length
        ? await vscode.window.showQuickPick(items, { title: 'qwen-lsp: model to download' })
        : await vscode.window
            .showInputBox({ title: 'qwen-lsp: model to download (registry name)', value: configured })
            .then((v) => (v === undefined ? undefined : { name: v.trim() }));
      if (!picked) {
        return false;
      }
      name = picked.name;
    }
    this.output.info(`running: ${launch.command} ${pull.pullArgs(name).join(' ')}`);
    const outcome = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `qwen-lsp: pulling ${name || 'the default model'}`,
        cancellable: true,
      },
      (progress, token) =>
        pull.runPull(launch, name, {
          onProgress: (p) => {
            this.output.info(p.message);
            progress.report(p);
          },
          onStdout: (text) => this.output.info(text.trim()),
          cancel: token,
        }),
    );
    const ok = outcome.ok;
    if (!ok && outcome.lastMessage) {
      void vscode.window.showErrorMessage(`qwen-lsp: pull failed: ${outcome.lastMessage}`);
    }
    if (ok) {
      const choice = await vscode.window.showInformationMessage(
        `qwen-lsp: model ${name || '(default)'} is ready. Restart the server to load it?`,
        'Restart',
      );
      if (choice === 'Restart') {
        await this.restart();
      }
    }
    return ok;
  }

  dispose(): void {
    void this.stop();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

let extension: QwenExtension | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('qwen-lsp', { log: true });
  extension = new QwenExtension(output);
  context.subscriptions.push(output, extension);
  await extension.start();
}

export async function deactivate(): Promise<void> {
  await extension?.stop();
  extension = undefined;
}
