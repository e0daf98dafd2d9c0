"""Soak: two and a half minutes of the typing replay with the real model (benchmarks/soak.py).

The server's memory, open files and threads must stay flat after the warm-up (the drift
between the first and the last tenth of the run after it within ±5%), and the server must
keep serving to the end. The memory judged is resident memory less the saved model states
the server reports (qwenLsp/status savedStateBytes): they are caches that kvCacheBytes
bounds (and checkpointBytes, for a hybrid model's checkpoints), filling and emptying with
the typing. ``python -m benchmarks.soak --minutes 120`` is
the long run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.soak import DIAGNOSTICS, METRICS
from qwen_lsp.settings import Settings
from tests.e2e.conftest import REPO, RUNS_MODEL

pytestmark = RUNS_MODEL

MINUTES = 2.5


def test_soak_resources_stay_flat(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    command = [sys.executable, "-m", "benchmarks.soak", "--minutes", str(MINUTES)]
    # One file retyped in rounds of about 50 s. Less its saved KV states, resident memory
    # settles within 20 s (715 -> 718 MB here) and then creeps 6 MB in four minutes as the
    # caches fill, while resident memory itself swings by 8% with the states (a 4-minute
    # run at the default budget: range 0.24% against 8.0%). The warm-up is the first 30%
    # (45 s); the means compared are the 22 s after it and the last 22 s, 68 s apart: a
    # leak of about 30 MB a minute fails. Measured: 0.17% (4 minutes, warm-up 55%), 0.75%
    # (2.5 minutes, the other core kept busy). The long run catches the slow leaks.
    command += ["--files", "textwrap.py", "--warmup", "0.3", "--window", "0.15", "--every", "2"]
    command += ["--out", str(out)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=MINUTES * 60 + 600, cwd=REPO
    )
    print(done.stdout, done.stderr)  # the figures, shown with pytest -s or on failure
    result = json.loads(out.read_text())
    assert not result["error"] and result["alive_at_end"], result["error"]
    assert result["typing"]["keystrokes"] > 100 and result["typing"]["shown"] > 0
    assert set(result["flatness"]) == {*METRICS, *DIAGNOSTICS}
    # The server reported its saved states (qwenLsp/status): the pool was used, within
    # its default budget (the default model is no hybrid: it keeps no checkpoints).
    assert 0 < result["flatness"]["states_mb"]["max"] <= Settings().kvCacheBytes / 2**20
    for metric in METRICS:  # the diagnostics (resident memory itself...) are not judged
        figures = result["flatness"][metric]
        assert figures["flat"], f"{metric} drifted {figures['drift_pct']}%: {figures}"
    assert done.returncode == 0
    assert Path(result["png"]).stat().st_size > 0
