"""Stopping a model call in the middle: a cancel, the request's time cap, or a stall.

llama.cpp asks an abort callback after every node of the model's graph (hundreds per call)
and, when it says yes, returns from ``llama_decode`` with code 2 after removing that call's
tokens from the KV cache: the cache holds exactly what it held before the call. Without it
a cancelled request still finishes its prompt chunk, which on a busy machine takes seconds.

The callback must not be Python: a Python callback takes the interpreter lock at every
node, and waits for it while the event loop runs. The C library's ``strlen`` over a
two-byte buffer is the callback instead: it returns 0 while the first byte is 0 and 1 once a
watchdog thread sets it, and llama.cpp reads that as its ``bool``. The watchdog polls the
cancel token, the deadline and the stall limit only while a call is armed.
"""

from __future__ import annotations

import ctypes
import threading
import time
from typing import Any

from qwen_lsp.engine import CancelToken

# How often the watchdog looks at the clock and the cancel token during a call.
POLL_SECONDS = 0.01


def _strlen_address() -> int | None:
    try:
        libc = ctypes.CDLL(None)
        address = ctypes.cast(libc.strlen, ctypes.c_void_p).value
    except (OSError, AttributeError):  # no C library reachable this way (Windows)
        return None
    return address if isinstance(address, int) else None


class AbortSwitch:
    """One model context's abort flag and the watchdog thread that sets it.

    ``callback_address`` and ``data`` go to ``llama_set_abort_callback``; None when this
    platform offers no callback (calls then stop between chunks only)."""

    def __init__(self) -> None:
        self._flag = (ctypes.c_char * 2)()
        self.callback_address = _strlen_address()
        self.data: Any = ctypes.cast(self._flag, ctypes.c_void_p)
        self._wake = threading.Condition()
        self._cancel: CancelToken | None = None
        self._deadline: float | None = None
        self._stall_at: float | None = None
        self._armed = False
        self._closed = False
        self.reason = ""
        self._thread: threading.Thread | None = None

    def arm(self, cancel: CancelToken, deadline: float | None, stall_after: float | None) -> None:
        """Watch the call about to start: stop it when ``cancel`` is set ("cancelled"), at
        ``deadline`` ("time_cap") or after ``stall_after`` seconds ("stalled")."""
        with self._wake:
            self._flag[0] = b"\x00"
            self.reason = ""
            self._cancel, self._deadline = cancel, deadline
            self._stall_at = None if stall_after is None else time.monotonic() + stall_after
            self._armed = True
            if self._thread is None and self.callback_address is not None:
                self._thread = threading.Thread(
                    target=self._watch, name="qwen-lsp-abort", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def disarm(self) -> str:
        """End of the call: why it was stopped ("" when it was not)."""
        with self._wake:
            self._armed = False
            self._flag[0] = b"\x00"
            return self.reason

    def close(self) -> None:
        """End the watchdog thread (idempotent)."""
        with self._wake:
            self._closed = True
            self._armed = False
            self._wake.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def _watch(self) -> None:
        with self._wake:
            while not self._closed:
                if not self._armed or self.reason:
                    self._wake.wait()
                    continue
                reason = self._due()
                if reason:
                    self.reason = reason
                    self._flag[0] = b"\x01"
                else:
                    self._wake.wait(POLL_SECONDS)

    def _due(self) -> str:
        now = time.monotonic()
        if self._cancel is not None and self._cancel.cancelled:
            return "cancelled"
        if self._deadline is not None and now >= self._deadline:
            return "time_cap"
        if self._stall_at is not None and now >= self._stall_at:
            return "stalled"
        return ""
