-- :checkhealth qwen_lsp — Neovim version, the server executable, the model.
local M = {}

local function run(argv, timeout_ms, env)
  local ok, obj = pcall(function()
    return vim.system(argv, { text = true, env = env }):wait(timeout_ms)
  end)
  if not ok then
    return nil, tostring(obj)
  end
  return obj
end

function M.check()
  local health = vim.health
  local qwen = require('qwen_lsp')
  local cfg = qwen.config

  health.start('Neovim')
  local v = vim.version()
  local version = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.11') == 0 then
    health.error('Neovim ' .. version .. ' is too old', { 'qwen_lsp needs Neovim 0.11 or newer' })
  elseif qwen.use_builtin() then
    health.ok('Neovim ' .. version .. ': ghost text through the built-in vim.lsp.inline_completion')
  else
    health.ok('Neovim ' .. version .. ': ghost text through qwen_lsp (textDocument/inlineCompletion)')
  end

  health.start('Server')
  local cmd = type(cfg.cmd) == 'string' and { cfg.cmd } or cfg.cmd
  local exe = cmd and cmd[1]
  if not exe or vim.fn.executable(exe) ~= 1 then
    health.error(('server command %s is not executable'):format(vim.inspect(exe)), {
      'install the server: scripts/setup.sh in the qwen-lsp repository',
      "then require('qwen_lsp').setup({ cmd = { '/path/to/qwen-lsp/.venv/bin/qwen-lsp' } })",
    })
    return
  end
  local out = run({ exe, '--version' }, 20000)
  if out and out.code == 0 then
    health.ok(('%s (%s)'):format(vim.trim(out.stdout or ''), vim.fn.exepath(exe)))
  else
    health.error(('%s --version failed: %s'):format(exe, out and (out.stderr or '') or 'did not run'))
  end
  local clients = qwen.clients()
  if #clients == 0 then
    health.info('not running in this session (it starts for: ' .. table.concat(cfg.filetypes or {}, ', ') .. ')')
  else
    for _, c in ipairs(clients) do
      health.ok(('running (client %d, root %s)'):format(c.id, tostring(c.root_dir)))
    end
  end

  health.start('Model')
  if #clients > 0 then
    local result = clients[1]:request_sync(qwen.STATUS_METHOD, {}, 5000)
    local st = result and result.result
    if st then
      if st.state == 'ready' then
        health.ok(('model %s is loaded'):format(st.model))
      elseif st.state == 'loading' then
        health.info(('model %s is loading'):format(st.model))
      else
        local err = st.error ~= vim.NIL and st.error or {}
        health.error(('model %s: %s'):format(st.model, tostring(err.message)), { err.fix })
      end
      return
    end
    health.warn('the running server did not answer qwenLsp/status')
  end
  local list = run({ exe, 'models', 'list', '--json' }, 30000, qwen.model_command_env())
  if not list or list.code ~= 0 then
    health.error('`qwen-lsp models list` failed', { list and list.stderr or '' })
    return
  end
  -- null (a model not checked yet) becomes nil.
  local decoded, models = pcall(vim.json.decode, list.stdout or '', { luanil = { object = true, array = true } })
  if not decoded or type(models) ~= 'table' then
    health.error('`qwen-lsp models list --json` printed no model list', { vim.trim(list.stdout or '') })
    return
  end
  local wanted = (cfg.settings or {}).model
  for _, m in ipairs(models) do
    local name = m.name
    local is_it = (wanted and wanted ~= '' and name == wanted) or ((not wanted or wanted == '') and m.isDefault)
    if is_it then
      if m.present and m.verified == false then
        health.error(('model %s is corrupt'):format(name), { ('qwen-lsp models pull --force %s'):format(name) })
      elseif m.present then
        local state = m.verified and 'downloaded and verified' or 'downloaded (not verified yet)'
        health.ok(('model %s%s is %s'):format(name, m.isDefault and ' (the default)' or '', state))
      else
        health.warn(('model %s is not downloaded'):format(name), { ('qwen-lsp models pull %s  (or :QwenLsp pull %s)'):format(name, name) })
      end
      return
    end
  end
  if wanted and wanted ~= '' then
    if vim.fn.filereadable(vim.fn.expand(wanted)) == 1 then
      health.ok('model file ' .. wanted)
    else
      health.error('model ' .. wanted .. ' is neither a registry name nor a readable file', { 'qwen-lsp models list' })
    end
  else
    local names = {}
    for _, m in ipairs(models) do
      names[#names + 1] = m.name
    end
    health.info('registry models: ' .. table.concat(names, ', '))
  end
end

return M
