;;; eglot_test.el --- Emacs eglot against the real qwen-lsp server  -*- lexical-binding: t -*-
;;
;; emacs --batch -l tests/editors/eglot_test.el   (without -Q: Debian's site-start puts
;; elpa-eglot on the load path)
;;
;; Two scenarios (QWEN_LSP_SCENARIO):
;;   completion (default)  eglot 1.9 has no inline completion, so the server answers
;;                         textDocument/completion for it; this drives that through
;;                         `completion-at-point', as a user pressing C-M-i would;
;;   code_action           the lines QWEN_LSP_LINES ("4-5") as the region, then
;;                         `eglot-code-actions' with the action QWEN_LSP_ACTION picked from
;;                         its menu; eglot 1.9 cannot resolve code actions, so the server
;;                         runs it through a command and applies it with workspace/applyEdit.
;; Either way the file is saved at the end.  Environment: QWEN_LSP_CMD, QWEN_LSP_FILE,
;; QWEN_LSP_REPORT (JSON), QWEN_LSP_SERVER_LOG (optional).

(require 'eglot)
(require 'json)
(require 'python)
(require 'cl-lib)

(defvar qwen-test-report nil)
(defvar qwen-test-start (float-time))
(defvar qwen-test-sit-for-calls 0)

(defun qwen-test-log (fmt &rest args)
  (let ((cpu (alist-get 'utime (process-attributes (emacs-pid)))))
    (princ (format "[eglot_test %.1fs, cpu %.1fs] %s\n" (- (float-time) qwen-test-start)
                   (if cpu (float-time cpu) 0.0) (apply #'format fmt args))
           #'external-debugging-output)))

(defun qwen-test-finish (ok message)
  (push (cons 'ok (if ok t :json-false)) qwen-test-report)
  (push (cons 'message message) qwen-test-report)
  (let ((report (getenv "QWEN_LSP_REPORT")))
    (when report
      (with-temp-file report (insert (json-encode qwen-test-report)))))
  (unless ok (qwen-test-log "FAIL: %s" message))
  (kill-emacs (if ok 0 1)))

(defun qwen-test-check (cond fmt &rest args)
  (unless cond (error "%s" (apply #'format fmt args))))

(defun qwen-test-run ()
  (let* ((cmd (or (getenv "QWEN_LSP_CMD") (error "QWEN_LSP_CMD not set")))
         (file (or (getenv "QWEN_LSP_FILE") (error "QWEN_LSP_FILE not set")))
         (log (getenv "QWEN_LSP_SERVER_LOG"))
         (contact (append (list cmd) (when (and log (> (length log) 0)) (list "--log-file" log)))))
    (setq eglot-sync-connect 60
          eglot-connect-timeout 120
          eglot-confirm-server-initiated-edits nil
          eglot-autoshutdown t
          ;; The server has no diagnostics or hover; their timers only cost CPU here.
          eglot-stay-out-of '(flymake eldoc))
    ;; Generous time caps: other work on a shared CPU must not cut an answer short.
    (setq-default eglot-workspace-configuration
                  '((:qwenLsp . (:maxSeconds 30 :actionMaxSeconds 600))))
    (find-file file)
    (qwen-test-check (eq major-mode 'python-mode) "major mode is %s" major-mode)
    (let* ((project (cons 'transient (file-name-directory file)))
           (server (eglot '(python-mode) project 'eglot-lsp-server contact "python")))
      (qwen-test-check (eglot-current-server) "eglot is not managing the buffer")
      (qwen-test-log "connected: %s" (eglot--server-info server))
      ;; Wait for the model.
      (let ((deadline (+ (float-time) 240)) state)
        (while (not (equal state "ready"))
          ;; A short time-out and a retry: a reply can get lost while the model loads.
          (let ((status (condition-case nil
                            (jsonrpc-request server :qwenLsp/status nil :timeout 3)
                          (jsonrpc-error nil))))
            (setq state (plist-get status :state))
            (when (equal state "error")
              (error "model error: %S" (plist-get status :error))))
          (when (> (float-time) deadline) (error "timed out waiting for the model"))
          (unless (equal state "ready") (accept-process-output nil 0.5))))
      (qwen-test-log "model ready")
      (if (equal (getenv "QWEN_LSP_SCENARIO") "code_action")
          (qwen-test-code-action)
        (qwen-test-completion))
      (save-buffer)
      (push (cons 'saved (with-temp-buffer (insert-file-contents file) (buffer-string))) qwen-test-report)
      (ignore-errors (eglot-shutdown server)))
    (qwen-test-finish t "ok")))

(defun qwen-test-completion ()
  ;; Type "return " on the empty last line of circle_area, as a user would.
  (goto-char (point-max))
  (forward-line -1)
  (qwen-test-check (equal (buffer-substring (line-beginning-position) (line-end-position)) "    ")
                   "unexpected line %S" (buffer-substring (line-beginning-position) (line-end-position)))
  (end-of-line)
  (dolist (ch (string-to-list "return "))
    (let ((last-command-event ch)) (self-insert-command 1))
    (eglot--signal-textDocument/didChange))
  (qwen-test-log "typed")
  (let* ((line-start (line-beginning-position))
         (before (buffer-substring line-start (point)))
         (completion-auto-help nil)
         (completion-cycle-threshold nil))
    ;; Complete at point: eglot asks textDocument/completion; one candidate is inserted.
    (let ((deadline (+ (float-time) 240)) inserted)
      (while (not inserted)
        (let ((tick (buffer-chars-modified-tick)))
          ;; eglot waits for the answer with (while (sit-for 30)), which returns at
          ;; once in batch mode and would spin a CPU the model needs; wait as an
          ;; interactive Emacs does.
          (cl-letf (((symbol-function 'sit-for)
                     (lambda (seconds &optional _nodisp)
                       (setq qwen-test-sit-for-calls (1+ qwen-test-sit-for-calls))
                       (accept-process-output nil (min seconds 0.1))
                       t)))
            (completion-at-point))
          (setq inserted (/= tick (buffer-chars-modified-tick))))
        (unless inserted
          (qwen-test-log "completion-at-point inserted nothing yet; again")
          (when (> (float-time) deadline) (error "completion-at-point inserted nothing"))
          (accept-process-output nil 1))))
    (let ((after (buffer-substring line-start (line-end-position))))
      (qwen-test-log "line before %S, after %S (sit-for called %d times)"
                     before after qwen-test-sit-for-calls)
      (push (cons 'before before) qwen-test-report)
      (push (cons 'after after) qwen-test-report)
      (qwen-test-check (string-prefix-p "    return " after) "line lost its prefix: %S" after)
      (qwen-test-check (> (length (string-trim after)) (length "return")) "nothing inserted: %S" after))))

(defun qwen-test-code-action ()
  (let* ((wanted (or (getenv "QWEN_LSP_ACTION") (error "QWEN_LSP_ACTION not set")))
         (lines (mapcar #'string-to-number
                        (split-string (or (getenv "QWEN_LSP_LINES") (error "QWEN_LSP_LINES not set"))
                                      "-")))
         (before (buffer-string))
         (tick (buffer-chars-modified-tick))
         (messages nil)
         offered)
    ;; The region, as a user would mark it: from the first line to the end of the last.
    (transient-mark-mode 1)
    (goto-char (point-min))
    (forward-line (1- (car lines)))
    (push-mark (point) t t)
    (forward-line (- (cadr lines) (car lines)))
    (end-of-line)
    (qwen-test-check (use-region-p) "no active region")
    ;; eglot asks with `completing-read' when the last event is not a mouse click; batch
    ;; mode has no minibuffer, so answer with the wanted title (and remember the menu).
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq offered (mapcar #'car collection))
                 (qwen-test-log "menu: %S" offered)
                 (qwen-test-check (member wanted offered) "%S not offered: %S" wanted offered)
                 wanted))
              ((symbol-function 'eglot--message)
               (lambda (fmt &rest args)
                 (push (apply #'format fmt args) messages)
                 (qwen-test-log "eglot: %s" (car messages)))))
      (let ((last-nonmenu-event ?\C-m)
            ;; eglot 1.9 waits for workspace/executeCommand with jsonrpc's default time-out,
            ;; 10 s; the model can take longer on a busy CPU (the edit would still come, after
            ;; a "timed out" error).
            (jsonrpc-default-request-timeout 600))
        (call-interactively #'eglot-code-actions))
      ;; The edit came with workspace/applyEdit before the command's answer; wait a little
      ;; for it anyway.
      (let ((deadline (+ (float-time) 30)))
        (while (and (= tick (buffer-chars-modified-tick)) (< (float-time) deadline))
          (accept-process-output nil 0.2))))
    (push (cons 'offered (vconcat offered)) qwen-test-report)
    (push (cons 'messages (vconcat messages)) qwen-test-report)
    (qwen-test-check (not (equal before (buffer-string)))
                     "the buffer did not change; messages: %S" messages)
    (deactivate-mark)
    (qwen-test-log "applied:\n%s" (buffer-string))))

(condition-case err
    (qwen-test-run)
  (error
   (let ((server (ignore-errors (eglot-current-server))))
     (when server
       (with-current-buffer (jsonrpc-events-buffer server)
         (qwen-test-log "events:\n%s"
                        (let ((s (buffer-string)))
                          (substring s (max 0 (- (length s) 6000))))))))
   (qwen-test-finish nil (error-message-string err))))
