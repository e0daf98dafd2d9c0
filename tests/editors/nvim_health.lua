-- :checkhealth qwen_lsp with the server running: writes the report to QWEN_LSP_REPORT.
local function main()
  vim.opt.runtimepath:prepend((assert(vim.env.QWEN_LSP_PLUGIN, 'QWEN_LSP_PLUGIN')))
  local qwen = require('qwen_lsp')
  qwen.setup({ cmd = { (assert(vim.env.QWEN_LSP_CMD, 'QWEN_LSP_CMD')) } })
  local file = (assert(vim.env.QWEN_LSP_FILE, 'QWEN_LSP_FILE'))
  vim.cmd('edit ' .. vim.fn.fnameescape(file))
  local ready = vim.wait(240000, function()
    qwen.status()
    local st = qwen.last_status
    return st ~= nil and st.state ~= 'loading' and st.state ~= 'unloaded'
  end, 500)
  assert(ready, 'the server did not report a model state')
  vim.cmd('checkhealth qwen_lsp')
  vim.cmd('silent write! ' .. vim.fn.fnameescape(vim.env.QWEN_LSP_REPORT))
  for _, c in ipairs(qwen.clients()) do
    c:stop(true)
  end
end

-- Any error must end Neovim with a failing exit code, not leave it waiting for input.
local ok, err = pcall(main)
if not ok then
  io.stderr:write('FAIL: ' .. tostring(err) .. '\n')
  vim.cmd('cquit 1')
end
vim.cmd('qa!')
