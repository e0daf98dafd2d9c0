-- qwen-lsp for Neovim: starts the server for the configured filetypes and shows its
-- inline completions as ghost text. See :help qwen_lsp.
local api = vim.api
local ghost = require('qwen_lsp.ghost')
-- Method names and status fields, generated from the server's qwen_lsp/protocol.py.
local protocol = require('qwen_lsp.protocol')

local M = {}

M.NAME = 'qwen_lsp'
M.STATUS_METHOD = protocol.STATUS_METHOD

---@class qwen_lsp.Keymaps
---@field accept string|false       accept the whole suggestion (falls back to the key itself)
---@field accept_word string|false  accept the next word
---@field accept_line string|false  accept the rest of the line (or the next line)
---@field dismiss string|false      hide the suggestion
---@field trigger string|false      ask for a suggestion now

---@class qwen_lsp.Config
local defaults = {
  --- The server command; the default expects `qwen-lsp` on $PATH.
  cmd = { 'qwen-lsp' },
  --- Extra environment for the server (e.g. { QWEN_LSP_CACHE_DIR = '...' }).
  cmd_env = nil,
  --- Filetypes the server is started for; {} or nil = every file with a filetype.
  filetypes = {
    'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact',
    'go', 'rust', 'c', 'cpp', 'java', 'ruby', 'php', 'cs', 'lua', 'sh', 'bash', 'kotlin',
  },
  --- Markers of the project root (the server's workspace folder).
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml' },
  --- Server settings (camelCase, see :help qwen_lsp-settings), sent as
  --- initializationOptions and as the "qwenLsp" section of workspace/configuration.
  settings = {},
  --- Ask for suggestions while typing in insert mode, after `debounce_ms` of quiet.
  auto_trigger = true,
  debounce_ms = 150,
  --- Use vim.lsp.inline_completion (Neovim 0.12+) when it exists: "auto", true or false.
  --- It has no accept-word / accept-line; set false to keep this plugin's ghost text.
  builtin = 'auto',
  ---@type qwen_lsp.Keymaps
  keymaps = {
    accept = '<Tab>',
    accept_word = '<C-Right>',
    accept_line = '<C-Down>',
    dismiss = '<C-]>',
    trigger = '<M-\\>',
  },
  --- Highlight group of the ghost text (linked to Comment unless you define it).
  hl_group = 'QwenLspSuggestion',
}

---@type qwen_lsp.Config
M.config = vim.deepcopy(defaults)
M.enabled = true
---@type table?
M.last_status = nil

local function use_builtin()
  local b = M.config.builtin
  local has = vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
  if b == 'auto' then
    return has
  end
  return b == true and has
end
M.use_builtin = use_builtin

local function filetype_wanted(ft)
  if ft == nil or ft == '' then
    return false
  end
  local fts = M.config.filetypes
  return fts == nil or #fts == 0 or vim.tbl_contains(fts, ft)
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  if not use_builtin() then
    -- We request inline completions ourselves; saying so also keeps the server from
    -- offering the same suggestion again as a textDocument/completion item.
    caps.textDocument = caps.textDocument or {}
    caps.textDocument.inlineCompletion = { dynamicRegistration = false }
  end
  return caps
end

local warned_cmd = false

--- Start (or reuse) the server for a buffer. Returns the client id.
---@param buf? integer
---@return integer?
function M.start(buf)
  buf = buf or api.nvim_get_current_buf()
  if vim.bo[buf].buftype ~= '' then
    return nil
  end
  local cmd = M.config.cmd
  if type(cmd) == 'string' then
    cmd = { cmd }
  end
  if type(cmd) == 'table' and vim.fn.executable(cmd[1]) ~= 1 then
    if not warned_cmd then
      warned_cmd = true
      vim.notify(
        ('qwen-lsp: %s is not executable. Fix: install the server (scripts/setup.sh) and '
          .. "call require('qwen_lsp').setup({ cmd = { '/path/to/qwen-lsp/.venv/bin/qwen-lsp' } })")
          :format(tostring(cmd[1])),
        vim.log.levels.ERROR
      )
    end
    return nil
  end
  local root = vim.fs.root(buf, M.config.root_markers) or vim.fn.getcwd()
  return vim.lsp.start({
    name = M.NAME,
    cmd = cmd,
    cmd_env = M.config.cmd_env,
    root_dir = root,
    init_options = M.config.settings,
    settings = { qwenLsp = M.config.settings },
    capabilities = capabilities(),
  }, { bufnr = buf })
end

---@return vim.lsp.Client[]
function M.clients(buf)
  return vim.lsp.get_clients({ name = M.NAME, bufnr = buf })
end

local function set_keymaps(buf)
  local km = M.config.keymaps or {}
  local function map(lhs, fn, desc)
    if not lhs or lhs == '' then
      return
    end
    vim.keymap.set('i', lhs, function()
      if not fn() then
        -- Nothing to accept: the key does what it does without us.
        api.nvim_feedkeys(vim.keycode(lhs), 'in', false)
      end
    end, { buffer = buf, silent = true, desc = 'qwen-lsp: ' .. desc })
  end
  if use_builtin() then
    map(km.accept, function()
      return vim.lsp.inline_completion.get({ bufnr = buf }) ~= false
    end, 'accept suggestion')
    return
  end
  map(km.accept, function()
    return ghost.accept('all')
  end, 'accept suggestion')
  map(km.accept_word, function()
    return ghost.accept('word')
  end, 'accept next word')
  map(km.accept_line, function()
    return ghost.accept('line')
  end, 'accept next line')
  map(km.dismiss, function()
    if ghost.get(buf) then
      ghost.clear(buf)
      return true
    end
    return false
  end, 'dismiss suggestion')
  map(km.trigger, function()
    ghost.clear(buf)
    ghost.request(buf, 1)
    return true
  end, 'suggest now')
end

local attached = {}

local function on_attach(client, buf)
  if attached[buf] then
    return
  end
  attached[buf] = client.id
  set_keymaps(buf)
  if use_builtin() then
    vim.lsp.inline_completion.enable(M.enabled, { bufnr = buf })
    return
  end
  local group = api.nvim_create_augroup('qwen_lsp_buf_' .. buf, { clear = true })
  api.nvim_create_autocmd({ 'TextChangedI', 'TextChangedP' }, {
    group = group,
    buffer = buf,
    callback = function()
      ghost.on_text_changed(buf, M.enabled and M.config.auto_trigger)
    end,
  })
  api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    buffer = buf,
    callback = function()
      ghost.on_cursor_moved(buf)
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = buf,
    callback = function()
      ghost.clear(buf)
    end,
  })
end

local function on_detach(buf)
  if not attached[buf] then
    return
  end
  attached[buf] = nil
  pcall(api.nvim_del_augroup_by_name, 'qwen_lsp_buf_' .. buf)
  ghost.detach(buf)
end

--- Ask the server for its state; calls back with the qwenLsp/status answer or nil, err.
---@param callback? fun(status: table?, err: string?)
function M.status(callback)
  local client = M.clients()[1]
  if not client then
    if callback then
      callback(nil, 'the server is not running')
    end
    return
  end
  client:request(M.STATUS_METHOD, {}, function(err, result)
    if result then
      M.last_status = result
    end
    if callback then
      callback(result, err and err.message or nil)
    end
  end)
end

--- A short text for a statusline: "Qwen", "Qwen: loading", "Qwen: error" or "".
function M.statusline()
  if #M.clients() == 0 then
    return ''
  end
  local st = M.last_status
  if st and st.state == 'error' then
    return 'Qwen: error'
  end
  if not st or st.state ~= 'ready' then
    return 'Qwen: loading' -- "loading", or "unloaded" before the first load starts
  end
  return M.enabled and 'Qwen' or 'Qwen: off'
end

local function describe(st)
  local lines = { ('qwen-lsp: model %s is %s'):format(st.model or '?', st.state or '?') }
  if st.error and st.error ~= vim.NIL then
    lines[#lines + 1] = '  error: ' .. tostring(st.error.message)
    if st.error.fix and st.error.fix ~= '' then
      lines[#lines + 1] = '  fix:   ' .. st.error.fix
    end
  end
  local c = st.completions
  if type(c) == 'table' then
    -- Every counter the server reports, with the label the server gives it.
    for _, field in ipairs(protocol.COMPLETION_TOTALS) do
      lines[#lines + 1] = ('  %s: %s'):format(field.label, tostring(c[field.key]))
    end
  end
  lines[#lines + 1] = '  inline completions: ' .. (M.enabled and 'on' or 'off')
  return table.concat(lines, '\n')
end
M._describe = describe

--- Turn automatic suggestions on or off (nil: flip).
function M.toggle(on)
  if on == nil then
    on = not M.enabled
  end
  M.enabled = on
  if use_builtin() then
    vim.lsp.inline_completion.enable(on)
  elseif not on then
    for buf in pairs(attached) do
      ghost.clear(buf)
    end
  end
  vim.notify('qwen-lsp: inline completions ' .. (on and 'on' or 'off'))
end

--- Stop the server and start it again for the buffers it served.
function M.restart()
  local bufs = {}
  for _, client in ipairs(M.clients()) do
    for buf in pairs(client.attached_buffers) do
      bufs[#bufs + 1] = buf
    end
    client:stop(true)
  end
  for buf in pairs(attached) do
    on_detach(buf)
  end
  M.last_status = nil
  vim.defer_fn(function()
    for _, buf in ipairs(bufs) do
      if api.nvim_buf_is_valid(buf) then
        M.start(buf)
      end
    end
  end, 500)
end

--- The environment of a model command (`qwen-lsp models pull|list`, run without the
--- server): `cmd_env` plus the server settings that have an environment variable, so the
--- command uses the same model folder, hub and registry as the server.
function M.model_command_env()
  local env = vim.deepcopy(M.config.cmd_env or {})
  for key, variable in pairs(protocol.SETTING_ENV) do
    local value = (M.config.settings or {})[key]
    local kind = type(value)
    if (kind == 'string' and value ~= '') or kind == 'number' or kind == 'boolean' then
      env[variable] = tostring(value)
    end
  end
  return next(env) and env or nil
end

--- Download a model in a terminal window (`qwen-lsp models pull NAME`).
function M.pull(name)
  local cmd = M.config.cmd
  if type(cmd) == 'string' then
    cmd = { cmd }
  end
  local argv = { cmd[1], 'models', 'pull' }
  if name and name ~= '' then
    argv[#argv + 1] = name
  end
  vim.cmd('botright 12split')
  vim.fn.jobstart(argv, {
    term = true,
    env = M.model_command_env(),
    on_exit = function(_, code)
      vim.schedule(function()
        if code == 0 then
          vim.notify('qwen-lsp: model pulled; run :QwenLsp restart to load it')
        else
          vim.notify('qwen-lsp: pull failed (exit ' .. code .. ')', vim.log.levels.ERROR)
        end
      end)
    end,
  })
end

local function command(opts)
  local sub = opts.fargs[1] or 'status'
  if sub == 'status' then
    M.status(function(st, err)
      vim.schedule(function()
        if st then
          vim.notify(describe(st))
        else
          vim.notify('qwen-lsp: ' .. tostring(err), vim.log.levels.WARN)
        end
      end)
    end)
  elseif sub == 'restart' then
    M.restart()
  elseif sub == 'toggle' then
    M.toggle()
  elseif sub == 'enable' then
    M.toggle(true)
  elseif sub == 'disable' then
    M.toggle(false)
  elseif sub == 'pull' then
    M.pull(opts.fargs[2])
  elseif sub == 'suggest' then
    ghost.request(api.nvim_get_current_buf(), 1)
  else
    vim.notify('qwen-lsp: unknown subcommand ' .. sub, vim.log.levels.ERROR)
  end
end

--- Configure the plugin and start the server for matching buffers.
---@param opts? qwen_lsp.Config
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  if opts and opts.filetypes then
    M.config.filetypes = opts.filetypes -- a list replaces the default, not merged into it
  end
  if opts and opts.keymaps == false then
    M.config.keymaps = {}
  end
  ghost.configure({
    name = M.NAME,
    hl_group = M.config.hl_group,
    debounce_ms = M.config.debounce_ms,
  })
  local function set_hl()
    api.nvim_set_hl(0, 'QwenLspSuggestion', { link = 'Comment', default = true })
  end
  set_hl()

  local group = api.nvim_create_augroup('qwen_lsp', { clear = true })
  api.nvim_create_autocmd('ColorScheme', { group = group, callback = set_hl })
  api.nvim_create_autocmd('FileType', {
    group = group,
    callback = function(args)
      if filetype_wanted(args.match) then
        M.start(args.buf)
      end
    end,
  })
  api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == M.NAME then
        on_attach(client, args.buf)
        M.status()
      end
    end,
  })
  api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == M.NAME then
        on_detach(args.buf)
      end
    end,
  })
  -- The model loads with $/progress; ask for the state when that moves.
  api.nvim_create_autocmd('LspProgress', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == M.NAME then
        M.status()
      end
    end,
  })
  api.nvim_create_user_command('QwenLsp', command, {
    nargs = '*',
    desc = 'qwen-lsp: status | restart | toggle | enable | disable | pull [NAME] | suggest',
    complete = function(arglead, line)
      if line:match('^%S+%s+pull%s') then
        return {}
      end
      return vim.tbl_filter(function(s)
        return vim.startswith(s, arglead)
      end, { 'status', 'restart', 'toggle', 'enable', 'disable', 'pull', 'suggest' })
    end,
  })
  for _, buf in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(buf) and filetype_wanted(vim.bo[buf].filetype) then
      M.start(buf)
    end
  end
end

-- For tests and statuslines.
M.ghost = ghost

return M
