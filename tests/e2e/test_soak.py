"""Soak: four minutes of the typing replay with the real model (benchmarks/soak.py).

The server's resident memory, open files and threads must stay flat after the warm-up
(the drift between the first and the last tenth of the run after it within ±5%), and the
server must keep serving to the end; the saved KV states are capped at 24 MB for it
(KV_CACHE_BYTES: their fill is a bounded cache, not a leak). ``python -m benchmarks.soak
--minutes 120`` is the long run, with the defaults.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import REPO, RUNS_MODEL

pytestmark = RUNS_MODEL

MINUTES = 4
# The saved KV states' budget (kvCacheBytes) for this run. By default the server keeps up to
# 8 states in 512 MB; a wide-window state of the 0.5B is about 18 MB, so their fill moves
# resident memory by up to ~150 MB as the typing goes, and nothing leaks: a CI run went
# 727 -> 855 -> 780 MB, all of it anonymous memory, and failed the judgement with -5.26%;
# the same run without saved states held within 0.21%. With 24 MB the pool still saves and
# drops states all the time (one dropped but not freed would pile up past the cap), but its
# fill moves memory by at most 24 MB, 3.3% of the ~720 MB judged: run here, drift 0.36%,
# range 2.9%, 496 suggestions shown (487 with the default budget). The long run
# (benchmarks.soak --minutes 120) keeps the default.
KV_CACHE_BYTES = 24 << 20


def test_soak_resources_stay_flat(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    command = [sys.executable, "-m", "benchmarks.soak", "--minutes", str(MINUTES)]
    # One file retyped in rounds of about a minute; resident memory grew for the first 2.3
    # minutes here (caches filling: 719 to 760 MB), then held within 755-762 MB. The warm-up
    # is the first 55% (2.2 minutes); the means compared are the 24 s after it and the last
    # 24 s, 84 s apart (the 5-minute run with warm-up and windows of 40% compared means 60 s
    # apart). With several files each new one adds its KV state and trees.
    command += ["--files", "textwrap.py", "--warmup", "0.55", "--window", "0.1", "--every", "2"]
    command += ["--out", str(out)]
    env = {**os.environ, "QWEN_LSP_KV_CACHE_BYTES": str(KV_CACHE_BYTES)}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=MINUTES * 60 + 600, cwd=REPO, env=env
    )
    print(done.stdout, done.stderr)  # the figures, shown with pytest -s or on failure
    result = json.loads(out.read_text())
    assert not result["error"] and result["alive_at_end"], result["error"]
    assert result["typing"]["keystrokes"] > 100 and result["typing"]["shown"] > 0
    assert set(result["flatness"]) == {"rss_mb", "fds", "threads", "anon_mb"}
    for metric in ("rss_mb", "fds", "threads"):  # anon_mb is a diagnostic, not judged
        figures = result["flatness"][metric]
        assert figures["flat"], f"{metric} drifted {figures['drift_pct']}%: {figures}"
    assert done.returncode == 0
    assert Path(result["png"]).stat().st_size > 0
