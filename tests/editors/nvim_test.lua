-- Drives Neovim (0.11) like a user, against the real server and model, through the
-- plugin's own setup(). Three scenarios (QWEN_LSP_SCENARIO):
--   ghost (default)  typing shows ghost text; accept-word, accept-all, the manual trigger,
--                    accept-line and dismiss do what they claim;
--   code_action      a visual selection, `gra` (vim.lsp.buf.code_action), the action picked
--                    in vim.ui.select by its title (QWEN_LSP_ACTION), the resolved edit
--                    applied by Neovim;
--   new_file         the same for an action that writes another file (QWEN_LSP_NEW_FILE):
--                    the edit Neovim applies to it or the server's message is reported,
--                    every buffer written.
-- In each, the files are written at the end and the test asserts on them.
--
--   nvim --headless --clean -S tests/editors/nvim_test.lua      (not -l: see the recipe)
--
-- Environment: QWEN_LSP_PLUGIN (editors/nvim), QWEN_LSP_CMD (server executable),
-- QWEN_LSP_FILE (a Python file prepared by the test), QWEN_LSP_REPORT (JSON written at the
-- end), QWEN_LSP_SERVER_LOG (optional), QWEN_LSP_HOLD_DIR (optional: at each ghost text,
-- write ready-N there and wait for done-N, so that a harness can take a screenshot);
-- code_action: QWEN_LSP_ACTION (the title to pick), QWEN_LSP_LINES ("4-5": the lines to
-- select, 1-based); new_file: those and QWEN_LSP_NEW_FILE.
local api = vim.api
local env = vim.env
local report = { steps = {} }

local function write_report()
  if env.QWEN_LSP_REPORT then
    local f = assert(io.open(env.QWEN_LSP_REPORT, 'w'))
    f:write(vim.json.encode(report))
    f:close()
  end
end

local function finish(ok, message)
  report.ok = ok
  report.message = message
  write_report()
  if not ok then
    io.stderr:write('FAIL: ' .. tostring(message) .. '\n')
    vim.cmd('cquit 1')
  else
    vim.cmd('qa!')
  end
end

local function step(name, data)
  data = data or {}
  data.step = name
  report.steps[#report.steps + 1] = data
  io.stderr:write(('[nvim_test %.1fs] %s %s\n'):format(vim.uv.now() / 1000, name, vim.json.encode(data)))
end

local keys = {
  accept = '<Tab>',
  accept_word = '<C-Right>',
  accept_line = '<C-Down>',
  dismiss = '<C-]>',
  trigger = '<M-\\>',
}
local qwen, ghost

-- Inside run()'s pcall: an error here must end Neovim, not leave it waiting for input.
local function setup_plugin()
  vim.opt.runtimepath:prepend((assert(env.QWEN_LSP_PLUGIN, 'QWEN_LSP_PLUGIN')))
  vim.o.swapfile = false
  vim.o.showmode = false
  vim.o.shortmess = vim.o.shortmess .. 'I'
  qwen = require('qwen_lsp')
  ghost = qwen.ghost
  local args = {}
  if env.QWEN_LSP_SERVER_LOG and env.QWEN_LSP_SERVER_LOG ~= '' then
    args = { '--log-file', env.QWEN_LSP_SERVER_LOG }
  end
  qwen.setup({
    cmd = vim.list_extend({ (assert(env.QWEN_LSP_CMD, 'QWEN_LSP_CMD')) }, args),
    -- Generous time caps: other work on a shared CPU must not cut an answer short.
    settings = { maxSeconds = 30, actionMaxSeconds = 600, blockShowAfterSeconds = 0 },
    debounce_ms = 100,
    keymaps = keys,
  })
end

local co
local function sleep(ms)
  local me = coroutine.running()
  vim.defer_fn(function()
    local ok, err = coroutine.resume(me)
    if not ok then
      finish(false, err)
    end
  end, ms)
  coroutine.yield()
end

local function wait_for(what, timeout_ms, predicate)
  local start = vim.uv.now()
  while true do
    local ok, value = pcall(predicate)
    if ok and value then
      return value
    end
    if vim.uv.now() - start > timeout_ms then
      error(('timed out after %d ms waiting for %s'):format(timeout_ms, what), 0)
    end
    sleep(50)
  end
end

local function check(cond, message)
  if not cond then
    error(message, 2)
  end
end

--- Type like a user: one key at a time through the input queue (mappings apply).
local function type_keys(text, gap_ms)
  for _, ch in ipairs(vim.split(text, '')) do
    api.nvim_input(ch == '<' and '<lt>' or ch == '\n' and '<CR>' or ch)
    sleep(gap_ms or 60)
  end
end

local function press(key)
  api.nvim_input(key)
  sleep(200)
end

local function line(n)
  return api.nvim_buf_get_lines(0, n - 1, n, true)[1]
end

local function extmarks(buf)
  return api.nvim_buf_get_extmarks(buf, ghost.ns, 0, -1, { details = true })
end

local hold_count = 0
local function hold_for_screenshot()
  local dir = env.QWEN_LSP_HOLD_DIR
  if not dir or dir == '' then
    return
  end
  hold_count = hold_count + 1
  vim.cmd('redraw')
  local f = assert(io.open(('%s/ready-%d'):format(dir, hold_count), 'w'))
  f:close()
  wait_for('the screenshot ' .. hold_count, 60000, function()
    return vim.uv.fs_stat(('%s/done-%d'):format(dir, hold_count)) ~= nil
  end)
end

--- Open QWEN_LSP_FILE, wait for the server and its model; returns the buffer.
local function open_and_wait_ready()
  setup_plugin()
  local file = (assert(env.QWEN_LSP_FILE, 'QWEN_LSP_FILE'))
  vim.cmd('edit ' .. vim.fn.fnameescape(vim.fn.fnamemodify(file, ':.')))
  local buf = api.nvim_get_current_buf()
  check(vim.bo[buf].filetype == 'python', 'filetype is ' .. vim.bo[buf].filetype)

  wait_for('the server to attach', 60000, function()
    return #qwen.clients(buf) > 0 and ghost.client(buf) ~= nil
  end)
  step('attached', { version = tostring(vim.version()) })
  local status
  local deadline = vim.uv.now() + 240000
  while true do
    qwen.status()
    sleep(500)
    local st = qwen.last_status
    if st and st.state == 'error' then
      error('model error: ' .. vim.inspect(st.error), 0)
    end
    if st and st.state == 'ready' then
      status = st
      break
    end
    check(vim.uv.now() < deadline, 'timed out waiting for the model to load')
  end
  step('ready', { model = status.model })
  return buf
end

local function write_and_stop()
  vim.cmd('silent write')
  for _, c in ipairs(qwen.clients()) do
    c:stop(true)
  end
end

local function run_ghost()
  local buf = open_and_wait_ready()

  -- 1. Type "return " on the empty last line (circle_area): ghost text appears by itself.
  local row = api.nvim_buf_line_count(buf)
  check(line(row) == '    ', 'unexpected last line: ' .. vim.inspect(line(row)))
  api.nvim_win_set_cursor(0, { row, 4 })
  press('A')
  check(api.nvim_get_mode().mode == 'i', 'not in insert mode')
  type_keys('return ')
  local typed = '    return '
  local sug = wait_for('ghost text after typing', 180000, function()
    local s = ghost.get(buf)
    return s and s.row == row - 1 and s.col == #typed and s
  end)
  local first = sug.text
  local marks = extmarks(buf)
  check(#marks == 1, 'expected one extmark, got ' .. #marks)
  local virt = marks[1][4].virt_text
  check(virt and virt[1][1] == vim.split(first, '\n')[1], 'extmark text differs: ' .. vim.inspect(virt))
  step('ghost', { suggestion = first })
  hold_for_screenshot()

  -- 2. Accept the next word: exactly that word is inserted, the rest stays on screen.
  local word = ghost.next_word(first)
  check(#word < #first or not first:find('%s'), 'the suggestion has one word only: ' .. first)
  press(keys.accept_word)
  check(line(row) == typed .. word, ('accept-word: %q, expected %q'):format(line(row), typed .. word))
  local rest = ghost.get(buf)
  if #word < #first then
    check(rest and rest.text == first:sub(#word + 1), 'the rest is not shown after accept-word')
  end
  step('accept_word', { word = word, line = line(row) })

  -- 3. Accept all: the line now ends with the whole suggestion.
  if rest then
    press(keys.accept)
  end
  local expected = vim.split(typed .. first, '\n', { plain = true })
  local got = api.nvim_buf_get_lines(0, row - 1, row - 1 + #expected, true)
  check(vim.deep_equal(got, expected), 'accept-all: ' .. vim.inspect(got) .. ' expected ' .. vim.inspect(expected))
  check(ghost.get(buf) == nil and #extmarks(buf) == 0, 'ghost text left after accept-all')
  local cursor = api.nvim_win_get_cursor(0)
  check(cursor[1] == row + #expected - 1 and cursor[2] == #expected[#expected], 'cursor not after the insertion')
  step('accept_all', { lines = got })
  report.circle_area = got

  -- 4. Type a new function header: a block is proposed. Dismiss it, ask again with the
  --    trigger key, then accept it line by line.
  type_keys('\n\n\ndef fibonacci(n):\n')
  local frow = api.nvim_win_get_cursor(0)[1]
  check(line(frow - 1) == 'def fibonacci(n):', 'unexpected header line: ' .. vim.inspect(line(frow - 1)))
  check(line(frow) == '    ', 'Python indent did not give 4 spaces: ' .. vim.inspect(line(frow)))
  local auto = wait_for('ghost text after the header', 180000, function()
    local s = ghost.get(buf)
    return s and s.row == frow - 1 and s.col == 4 and s
  end)
  step('ghost_auto_block', { suggestion = auto.text })
  press(keys.dismiss)
  check(ghost.get(buf) == nil and #extmarks(buf) == 0, 'dismiss left ghost text')
  sleep(500)
  check(ghost.get(buf) == nil, 'a suggestion came back by itself after dismiss')
  step('dismissed')
  press(keys.trigger)
  local block = wait_for('ghost text after the trigger key', 180000, function()
    local s = ghost.get(buf)
    return s and s.row == frow - 1 and s.col == 4 and s
  end)
  local second = block.text
  step('ghost_block', { suggestion = second })
  check(second:find('\n', 1, true), 'expected a multi-line suggestion here, got ' .. vim.inspect(second))
  check(#(extmarks(buf)[1][4].virt_lines or {}) >= 1, 'no virtual lines for the block')
  hold_for_screenshot()

  local first_line = ghost.next_line(second)
  local count0 = api.nvim_buf_line_count(buf)
  press(keys.accept_line)
  check(line(frow) == '    ' .. first_line, ('accept-line: %q, expected %q'):format(line(frow), '    ' .. first_line))
  local count = api.nvim_buf_line_count(buf)
  check(count == count0, 'the 1st accept-line inserted a line break')
  local remaining = ghost.get(buf)
  check(remaining and remaining.text == second:sub(#first_line + 1), 'rest not shown after accept-line')
  local second_line = ghost.next_line(remaining.text) -- "\n" .. the next line
  press(keys.accept_line)
  check(line(frow + 1) == second_line:sub(2), ('2nd accept-line: %q, expected %q'):format(line(frow + 1), second_line:sub(2)))
  check(api.nvim_buf_line_count(buf) == count + 1, 'the 2nd accept-line inserted more than one line')
  step('accept_line', { lines = { line(frow), line(frow + 1) } })

  -- 5. Leaving insert mode hides what is left.
  press('<Esc>')
  check(ghost.get(buf) == nil and #extmarks(buf) == 0, 'ghost text after leaving insert mode')
  report.fibonacci = api.nvim_buf_get_lines(0, frow - 2, frow + 1, true)

  write_and_stop()
  finish(true, 'ok')
end

--- Select lines first-last (QWEN_LSP_LINES, 1-based) and press `gra` (Neovim 0.11's
--- default code-action key); pick QWEN_LSP_ACTION in vim.ui.select by its title, as a user
--- would. Returns the titles offered and the list the server's messages go to.
local function choose_action(buf)
  local wanted = (assert(env.QWEN_LSP_ACTION, 'QWEN_LSP_ACTION'))
  local first, last = (assert(env.QWEN_LSP_LINES, 'QWEN_LSP_LINES')):match('^(%d+)-(%d+)$')
  first, last = tonumber(first), tonumber(last)

  -- The server explains a refused action with a window/showMessage: errors reach
  -- vim.notify, warnings only the handler (0.11 writes them to stdout).
  local messages = {}
  local notify = vim.notify
  vim.notify = function(msg, level, opts)
    messages[#messages + 1] = tostring(msg)
    return notify(msg, level, opts)
  end
  local show_message = vim.lsp.handlers['window/showMessage']
  vim.lsp.handlers['window/showMessage'] = function(err, result, ctx, config)
    if result and result.message then
      messages[#messages + 1] = result.message
    end
    return show_message(err, result, ctx, config)
  end

  local offered
  vim.ui.select = function(items, opts, on_choice)
    offered = {}
    local choice, index
    for i, item in ipairs(items) do
      local title = opts.format_item and opts.format_item(item) or tostring(item)
      offered[#offered + 1] = title
      if title == wanted or title:find(wanted, 1, true) then
        choice, index = item, i
      end
    end
    step('menu', { titles = offered })
    on_choice(choice, index)
  end

  api.nvim_win_set_cursor(0, { first, 0 })
  press('V')
  if last > first then
    press(('%dj'):format(last - first))
  end
  check(api.nvim_get_mode().mode == 'V', 'not in linewise visual mode: ' .. api.nvim_get_mode().mode)
  press('gra')
  wait_for('the code-action menu', 60000, function()
    return offered ~= nil
  end)
  check(vim.tbl_contains(offered, wanted), ('%q not offered: %s'):format(wanted, vim.inspect(offered)))
  return offered, messages
end

local function run_code_action()
  local buf = open_and_wait_ready()
  local wanted = env.QWEN_LSP_ACTION
  local before = api.nvim_buf_get_lines(buf, 0, -1, true)
  local tick = api.nvim_buf_get_changedtick(buf)
  local _, messages = choose_action(buf)
  -- The model runs now (codeAction/resolve); Neovim applies the edit it returns. A
  -- message instead fails at once rather than waiting for an edit that will not come.
  local deadline = vim.uv.now() + 600000
  while api.nvim_buf_get_changedtick(buf) == tick do
    for _, m in ipairs(messages) do
      check(not m:find('qwen-lsp', 1, true), 'no edit: ' .. m)
    end
    check(vim.uv.now() < deadline, 'timed out waiting for the edit of ' .. wanted)
    sleep(100)
  end
  sleep(300) -- one edit may arrive as several changes
  local after = api.nvim_buf_get_lines(buf, 0, -1, true)
  check(not vim.deep_equal(before, after), 'the buffer did not change')
  step('applied', { lines = after })
  report.lines = after
  press('<Esc>')
  write_and_stop()
  finish(true, 'ok')
end

--- An action that writes another file (QWEN_LSP_NEW_FILE): wait for the edit of that file
--- or for the server's message, write every buffer, and report both; the test asserts on
--- the file on disk.
local function run_new_file()
  local buf = open_and_wait_ready()
  local target = vim.fs.normalize(assert(env.QWEN_LSP_NEW_FILE, 'QWEN_LSP_NEW_FILE'))
  local _, messages = choose_action(buf)
  -- Any other buffer the edit changed: the test checks that it is the file meant.
  local function edited_buf()
    for _, b in ipairs(api.nvim_list_bufs()) do
      if b ~= buf and vim.bo[b].modified then
        return b
      end
    end
  end
  local outcome = wait_for('an edit of another file or a message', 180000, function()
    for _, m in ipairs(messages) do
      if m:find('qwen-lsp', 1, true) then
        return 'message'
      end
    end
    return edited_buf() and 'edit'
  end)
  sleep(300) -- one edit may arrive as several changes
  local edited = edited_buf()
  report.outcome = outcome
  report.messages = messages
  report.edited = edited and vim.fs.normalize(api.nvim_buf_get_name(edited)) or vim.NIL
  report.target = target
  step('outcome', { outcome = outcome, messages = messages, edited = report.edited })
  press('<Esc>')
  vim.cmd('silent wall')
  write_and_stop()
  finish(true, 'ok')
end

local scenarios = { ghost = run_ghost, code_action = run_code_action, new_file = run_new_file }
local run = scenarios[env.QWEN_LSP_SCENARIO or 'ghost']

co = coroutine.create(function()
  if run == nil then
    error('unknown QWEN_LSP_SCENARIO ' .. tostring(env.QWEN_LSP_SCENARIO), 0)
  end
  local ok, err = pcall(run)
  if not ok then
    finish(false, err)
  end
end)
vim.schedule(function()
  local ok, err = coroutine.resume(co)
  if not ok then
    finish(false, err)
  end
end)
