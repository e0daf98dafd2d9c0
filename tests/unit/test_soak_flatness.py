"""The soak's judgement of flat resources (benchmarks/soak.flatness), on made-up samples."""

from __future__ import annotations

from benchmarks.soak import METRICS, Sample, flatness

JUDGED = "rss_less_states_mb"


def samples(
    rss: list[float], states: list[float] | None = None, every: float = 2.0
) -> list[Sample]:
    states = states or [0.0] * len(rss)
    return [
        Sample(i * every, value, 9, 7, value / 3, kept)
        for i, (value, kept) in enumerate(zip(rss, states, strict=True))
    ]


def test_growth_during_the_warm_up_is_not_judged() -> None:
    rss = [400 + 10 * i for i in range(35)] + [750.0] * 55  # fills its caches, then flat
    figures = flatness(samples(rss), warmup=0.4, window=0.1)
    assert figures[JUDGED]["flat"] and figures[JUDGED]["drift_pct"] == 0.0
    assert figures["fds"]["flat"] and figures["threads"]["flat"]


def test_a_steady_leak_after_the_warm_up_fails() -> None:
    # 750 MB growing 1.2 MB a sample (2 s), 36 MB a minute, for 3 minutes; the means compared
    # (at 55% and 95% of the run) are 71 s apart: 43 MB, 5.3% of the 809 MB then
    rss = [750 + 1.2 * i for i in range(90)]
    figures = flatness(samples(rss), warmup=0.5, window=0.1)
    assert not figures[JUDGED]["flat"], figures[JUDGED]
    assert 5.0 < figures[JUDGED]["drift_pct"] < 5.6


def test_saved_kv_states_filling_and_emptying_are_not_a_leak() -> None:
    # The pool fills to 130 MB, then holds smaller states (20 MB): resident memory follows
    # it, which judged as is would be a 13% drop; less the states it is flat.
    states = [min(130.0, 5.0 * i) for i in range(30)] + [130.0] * 30 + [20.0] * 30
    rss = [720.0 + kept for kept in states]
    figures = flatness(samples(rss, states), warmup=0.3, window=0.1)
    assert not figures["rss_mb"]["flat"]  # reported, not judged
    assert "rss_mb" not in METRICS and JUDGED in METRICS
    assert figures[JUDGED]["flat"] and figures[JUDGED]["drift_pct"] == 0.0


def test_a_leak_hidden_behind_states_being_dropped_still_fails() -> None:
    # States dropped (130 -> 20 MB) while the server's own memory grows by 60 MB: resident
    # memory looks flat, the memory judged grows 8%.
    states = [130.0] * 30 + [130.0 - 110 * i / 59 for i in range(60)]
    own = [720.0] * 30 + [720.0 + 60 * i / 59 for i in range(60)]
    rss = [a + b for a, b in zip(own, states, strict=True)]
    figures = flatness(samples(rss, states), warmup=0.3, window=0.1)
    assert not figures[JUDGED]["flat"], figures[JUDGED]


def test_the_window_sets_how_far_apart_the_compared_means_are() -> None:
    rss = [750 + 1.2 * i for i in range(90)]
    near = flatness(samples(rss), warmup=0.5, window=0.25)[JUDGED]["drift_pct"]
    far = flatness(samples(rss), warmup=0.5, window=0.1)[JUDGED]["drift_pct"]
    assert 0 < near < far
