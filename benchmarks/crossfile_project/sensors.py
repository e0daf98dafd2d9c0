"""Readings from the zone probes: parsing the wire format and keeping a log."""

from __future__ import annotations

from dataclasses import dataclass, field

from units import celsius_from_decikelvin, moisture_pct_from_counts


class MalformedReading(ValueError):
    """A line from the probe bus that does not parse."""


@dataclass(frozen=True)
class Reading:
    zone_id: str
    minute: int  # minutes past midnight
    soil_moisture_pct: float
    air_temp_c: float


def parse_probe_line(line: str, *, strict: bool = True) -> Reading | None:
    """Parse 'minute|zone|moisture counts|temperature decikelvin', e.g. '390|A1|640|2891'.

    A malformed line raises MalformedReading, or gives None when ``strict`` is False.
    """
    fields = line.strip().split("|")
    try:
        minute_text, zone_id, counts_text, temp_text = fields
        minute, counts, raw_temp = int(minute_text), int(counts_text), int(temp_text)
    except ValueError:
        if strict:
            raise MalformedReading(line) from None
        return None
    return Reading(
        zone_id=zone_id,
        minute=minute,
        soil_moisture_pct=moisture_pct_from_counts(counts),
        air_temp_c=celsius_from_decikelvin(raw_temp),
    )


@dataclass
class SensorLog:
    readings: list[Reading] = field(default_factory=list)

    def add(self, reading: Reading) -> None:
        self.readings.append(reading)

    def ingest_lines(self, lines: list[str]) -> int:
        """Add every well-formed line; returns how many were skipped."""
        skipped = 0
        for line in lines:
            reading = parse_probe_line(line, strict=False)
            if reading is None:
                skipped += 1
            else:
                self.add(reading)
        return skipped

    def latest_for(self, zone_id: str) -> Reading | None:
        mine = [r for r in self.readings if r.zone_id == zone_id]
        return max(mine, key=lambda r: r.minute) if mine else None

    def since(self, zone_id: str, first_minute: int) -> list[Reading]:
        return [r for r in self.readings if r.zone_id == zone_id and r.minute >= first_minute]

    def coldest_c(self, zone_id: str) -> float | None:
        temps = [r.air_temp_c for r in self.readings if r.zone_id == zone_id]
        return min(temps) if temps else None
