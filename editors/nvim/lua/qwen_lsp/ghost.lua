-- Ghost text for Neovim 0.11, which has no inline-completion client: request
-- textDocument/inlineCompletion, show the first item as virtual text (extmarks), accept it
-- whole, by word or by line. Neovim 0.12+ can use vim.lsp.inline_completion instead (see
-- init.lua).
local api = vim.api

local M = {}

M.METHOD = 'textDocument/inlineCompletion'
M.ns = api.nvim_create_namespace('qwen_lsp.ghost')

---@class qwen_lsp.Suggestion
---@field row integer 0-based line of the cursor when it was shown
---@field col integer byte column of the cursor
---@field end_col integer byte column up to which accepting everything replaces text
---@field text string what is not yet typed ("\n" separates lines)
---@field client_id integer

---@class qwen_lsp.BufState
---@field suggestion? qwen_lsp.Suggestion
---@field request? { client_id: integer, id: integer }
---@field timer? uv.uv_timer_t
---@field tick? integer changedtick after our own edit or the last handled change

---@type table<integer, qwen_lsp.BufState>
local states = {}

---@type table
local config = { name = 'qwen_lsp', hl_group = 'QwenLspSuggestion', debounce_ms = 150 }

function M.configure(cfg)
  config = cfg
end

---@param buf integer
---@return qwen_lsp.BufState
local function state(buf)
  local s = states[buf]
  if not s then
    s = {}
    states[buf] = s
  end
  return s
end

---@return vim.lsp.Client?
function M.client(buf)
  for _, c in ipairs(vim.lsp.get_clients({ bufnr = buf, name = config.name })) do
    if c.server_capabilities and c.server_capabilities.inlineCompletionProvider then
      return c
    end
  end
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

local function cancel_request(buf)
  local s = states[buf]
  if s and s.request then
    local c = vim.lsp.get_client_by_id(s.request.client_id)
    if c then
      pcall(c.cancel_request, c, s.request.id)
    end
    s.request = nil
  end
end

--- The current suggestion of a buffer (nil when none is shown).
---@return qwen_lsp.Suggestion?
function M.get(buf)
  local s = states[buf or api.nvim_get_current_buf()]
  return s and s.suggestion
end

local function render(buf)
  api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  local sug = states[buf] and states[buf].suggestion
  if not sug or sug.text == '' then
    return
  end
  local lines = vim.split(sug.text, '\n', { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], config.hl_group } }
  end
  local opts = {
    virt_text = { { lines[1], config.hl_group } },
    -- 'inline' pushes the text after the cursor to the right, as VS Code does.
    virt_text_pos = 'inline',
    hl_mode = 'combine',
  }
  if #virt_lines > 0 then
    opts.virt_lines = virt_lines
  end
  api.nvim_buf_set_extmark(buf, M.ns, sug.row, sug.col, opts)
end

--- Forget and hide the suggestion; stop a pending timer and request.
function M.clear(buf)
  buf = buf or api.nvim_get_current_buf()
  local s = states[buf]
  if not s then
    return
  end
  if s.timer then
    s.timer:stop()
  end
  cancel_request(buf)
  s.suggestion = nil
  if api.nvim_buf_is_valid(buf) then
    api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
  end
end

local function byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  return ok and col or #line
end

--- Turn an InlineCompletionItem into what is left to show at the cursor.
---@return qwen_lsp.Suggestion?
local function to_suggestion(buf, client, item, row, col)
  local text = item.insertText
  if type(text) == 'table' then
    text = text.value -- a snippet: shown and inserted as plain text
  end
  if type(text) ~= 'string' then
    return nil
  end
  text = text:gsub('\r\n', '\n')
  local end_col = col
  if item.range then
    local s, e = item.range.start, item.range['end']
    if s.line ~= row or e.line ~= row then
      return nil
    end
    local line = api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ''
    local start_col = byte_col(line, s.character, client.offset_encoding)
    end_col = byte_col(line, e.character, client.offset_encoding)
    if start_col > col or end_col < col then
      return nil
    end
    -- The range may start before the cursor: the part already typed is not shown.
    local typed = line:sub(start_col + 1, col)
    if text:sub(1, #typed) ~= typed then
      return nil
    end
    text = text:sub(#typed + 1)
  end
  if text == '' then
    return nil
  end
  return { row = row, col = col, end_col = end_col, text = text, client_id = client.id }
end

--- Ask the server for a suggestion at the cursor.
---@param buf integer
---@param trigger_kind? integer 1 = invoked by the user, 2 = automatic (default)
function M.request(buf, trigger_kind)
  buf = buf or api.nvim_get_current_buf()
  local client = M.client(buf)
  local win = api.nvim_get_current_win()
  if not client or api.nvim_win_get_buf(win) ~= buf then
    return
  end
  local s = state(buf)
  cancel_request(buf)
  local params = vim.lsp.util.make_position_params(win, client.offset_encoding)
  params.context = { triggerKind = trigger_kind or 2 }
  local tick = api.nvim_buf_get_changedtick(buf)
  local cursor = api.nvim_win_get_cursor(win)
  local request_id
  local ok, id = client:request(M.METHOD, params, function(err, result)
    if s.request and s.request.id == request_id then
      s.request = nil
    end
    if err or not result or not api.nvim_buf_is_valid(buf) then
      return
    end
    -- Stale: the text or the cursor moved on while the model was thinking.
    local now = api.nvim_get_current_win() == win and api.nvim_win_get_cursor(win)
    if
      api.nvim_buf_get_changedtick(buf) ~= tick
      or not now
      or now[1] ~= cursor[1]
      or now[2] ~= cursor[2]
      or not in_insert_mode()
    then
      return
    end
    local items = result.items or result
    local item = type(items) == 'table' and items[1] or nil
    if not item then
      return
    end
    local sug = to_suggestion(buf, client, item, cursor[1] - 1, cursor[2])
    if sug then
      s.suggestion = sug
      render(buf)
      api.nvim_exec_autocmds('User', { pattern = 'QwenLspSuggestion', modeline = false })
    end
  end, buf)
  if ok and id then
    request_id = id
    s.request = { client_id = client.id, id = id }
  end
end

--- Request after the debounce delay, unless something newer happens first.
function M.schedule(buf)
  local s = state(buf)
  if not s.timer then
    s.timer = assert(vim.uv.new_timer())
  end
  s.timer:stop()
  s.timer:start(
    config.debounce_ms,
    0,
    vim.schedule_wrap(function()
      if
        api.nvim_buf_is_valid(buf)
        and api.nvim_get_current_buf() == buf
        and in_insert_mode()
      then
        M.request(buf, 2)
      end
    end)
  )
end

--- The next word of a suggestion: leading blanks and a run of word characters, or of
--- punctuation. Bytes >= 0x80 count as word characters, so a UTF-8 character is never split.
function M.next_word(text)
  return text:match('^%s*[%w_\128-\255]+')
    or text:match('^%s*[^%w_%s\128-\255]+')
    or text:match('^%s+')
    or text
end

--- The rest of the current line of a suggestion; when the suggestion is at the end of a
--- line, the line break and the whole next line.
function M.next_line(text)
  local start = text:sub(1, 1) == '\n' and 2 or 1
  local nl = text:find('\n', start, true)
  return nl and text:sub(1, nl - 1) or text
end

--- Insert part of the suggestion at the cursor and keep showing the rest.
---@param how 'all'|'word'|'line'
---@return boolean accepted false when there was nothing to accept
function M.accept(how)
  local buf = api.nvim_get_current_buf()
  local s = states[buf]
  local sug = s and s.suggestion
  if not sug then
    return false
  end
  local cursor = api.nvim_win_get_cursor(0)
  if cursor[1] - 1 ~= sug.row or cursor[2] ~= sug.col then
    M.clear(buf)
    return false
  end
  local piece = sug.text
  if how == 'word' then
    piece = M.next_word(sug.text)
  elseif how == 'line' then
    piece = M.next_line(sug.text)
  end
  local rest = sug.text:sub(#piece + 1)
  if s.timer then
    s.timer:stop()
  end
  cancel_request(buf)
  local lines = vim.split(piece, '\n', { plain = true })
  local replace_to = rest == '' and sug.end_col or sug.col
  api.nvim_buf_set_text(buf, sug.row, sug.col, sug.row, replace_to, lines)
  local row = sug.row + #lines - 1
  local col = (#lines == 1 and sug.col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { row + 1, col })
  s.tick = api.nvim_buf_get_changedtick(buf)
  if rest == '' then
    s.suggestion = nil
  else
    s.suggestion = {
      row = row,
      col = col,
      end_col = col + (sug.end_col - sug.col),
      text = rest,
      client_id = sug.client_id,
    }
  end
  render(buf)
  return true
end

--- TextChangedI: keep a suggestion the user is typing through, else drop it and ask again.
function M.on_text_changed(buf, auto_trigger)
  local s = state(buf)
  local tick = api.nvim_buf_get_changedtick(buf)
  if s.tick == tick then
    return -- our own accept
  end
  s.tick = tick
  local sug = s.suggestion
  if sug then
    local cursor = api.nvim_win_get_cursor(0)
    if cursor[1] - 1 == sug.row and cursor[2] > sug.col then
      local line = api.nvim_buf_get_lines(buf, sug.row, sug.row + 1, false)[1] or ''
      local typed = line:sub(sug.col + 1, cursor[2])
      if #typed < #sug.text and sug.text:sub(1, #typed) == typed then
        sug.text = sug.text:sub(#typed + 1)
        sug.end_col = sug.end_col + #typed
        sug.col = cursor[2]
        render(buf)
        return
      end
    end
  end
  M.clear(buf)
  if auto_trigger then
    M.schedule(buf)
  end
end

--- CursorMovedI without a text change: the suggestion no longer belongs to the cursor.
function M.on_cursor_moved(buf)
  local s = states[buf]
  if not s or not s.suggestion then
    return
  end
  if api.nvim_buf_get_changedtick(buf) ~= s.tick then
    return -- a text change: TextChangedI decides
  end
  local cursor = api.nvim_win_get_cursor(0)
  if cursor[1] - 1 ~= s.suggestion.row or cursor[2] ~= s.suggestion.col then
    M.clear(buf)
  end
end

function M.detach(buf)
  M.clear(buf)
  local s = states[buf]
  if s and s.timer then
    s.timer:close()
  end
  states[buf] = nil
end

return M
