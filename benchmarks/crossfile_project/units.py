"""Conversions between what the greenhouse hardware reports and what the planner uses."""

from __future__ import annotations

# Below this air temperature (Celsius) a zone's crop risks frost damage.
FROST_LINE_C = 2.5
# Drip lines lose some water before it reaches the roots.
DRIP_EFFICIENCY = 0.85
MINUTES_PER_DAY = 24 * 60


def celsius_from_decikelvin(raw: int) -> float:
    """The probes report tenths of a kelvin as an integer."""
    return round(raw / 10 - 273.15, 2)


def moisture_pct_from_counts(counts: int, dry_counts: int = 880, wet_counts: int = 410) -> float:
    """Capacitive probes count lower when wetter; map the calibrated range onto 0-100 %."""
    span = dry_counts - wet_counts
    pct = (dry_counts - counts) * 100 / span
    return max(0.0, min(100.0, round(pct, 1)))


def litres_delivered(drip_rate_lpm: float, minutes: int) -> float:
    """Water that reaches the soil when a zone's valve is open for ``minutes``."""
    return round(drip_rate_lpm * minutes * DRIP_EFFICIENCY, 2)


def clock_label(minute_of_day: int) -> str:
    """'06:30' for 390; minutes past midnight wrap around a day."""
    minute_of_day %= MINUTES_PER_DAY
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"
