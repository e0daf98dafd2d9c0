-- :checkhealth qwen_lsp with the server running: writes the report to QWEN_LSP_REPORT.
local function main()
  vim.opt.runtimepath:prepend((assert(vim.env.QWEN_LSP_PLUGIN, 'QWEN_LSP_PLUGIN')))
  local qwen = require('qwen_lsp')
  qwen.setup({ cmd = { (assert(vim.env.QWEN_LSP_CMD, 'QWEN_LSP_CMD')) } })
  local file = (assert(vim.env.QWEN_LSP_FILE, 'QWEN_LSP_FILE'))
  vim.cmd('edit ' .. vim.fn.fnameescape(file))
  -- One status request at a time, twice a second: vim.wait calls its condition on every
  -- event, and a request sent from it floods a busy server with thousands of requests.
  local deadline = vim.uv.now() + 240000
  while true do
    local answered = false
    qwen.status(function()
      answered = true
    end)
    vim.wait(30000, function()
      return answered
    end, 50)
    local st = qwen.last_status
    if st ~= nil and st.state ~= 'loading' and st.state ~= 'unloaded' then
      break
    end
    assert(vim.uv.now() < deadline, 'the server did not report a model state')
    vim.wait(500)
  end
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
