"""The soak's judgement of flat resources (benchmarks/soak.flatness), on made-up samples."""

from __future__ import annotations

from benchmarks.soak import Sample, flatness


def samples(rss: list[float], every: float = 2.0) -> list[Sample]:
    return [Sample(i * every, value, 9, 7, value / 3) for i, value in enumerate(rss)]


def test_growth_during_the_warm_up_is_not_judged() -> None:
    rss = [400 + 10 * i for i in range(35)] + [750.0] * 55  # fills its caches, then flat
    figures = flatness(samples(rss), warmup=0.4, window=0.1)
    assert figures["rss_mb"]["flat"] and figures["rss_mb"]["drift_pct"] == 0.0
    assert figures["fds"]["flat"] and figures["threads"]["flat"]


def test_a_steady_leak_after_the_warm_up_fails() -> None:
    # 750 MB growing 1.2 MB a sample (2 s), 36 MB a minute, for 3 minutes; the means compared
    # (at 55% and 95% of the run) are 71 s apart: 43 MB, 5.3% of the 809 MB then
    rss = [750 + 1.2 * i for i in range(90)]
    figures = flatness(samples(rss), warmup=0.5, window=0.1)
    assert not figures["rss_mb"]["flat"], figures["rss_mb"]
    assert 5.0 < figures["rss_mb"]["drift_pct"] < 5.6


def test_the_window_sets_how_far_apart_the_compared_means_are() -> None:
    rss = [750 + 1.2 * i for i in range(90)]
    near = flatness(samples(rss), warmup=0.5, window=0.25)["rss_mb"]["drift_pct"]
    far = flatness(samples(rss), warmup=0.5, window=0.1)["rss_mb"]["drift_pct"]
    assert 0 < near < far
