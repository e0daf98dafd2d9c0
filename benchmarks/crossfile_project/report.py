"""The morning report: watering timetable, water use and frost warnings."""

from __future__ import annotations

from dataclasses import dataclass

from irrigation import WateringPlan, moisture_deficit_pct, plan_watering, valve_minutes
from sensors import SensorLog, parse_probe_line
from units import FROST_LINE_C, clock_label, litres_delivered
from zones import UnknownZoneError, ZoneRegistry, default_registry


@dataclass(frozen=True)
class FrostWarning:
    zone_id: str
    coldest_c: float


def frost_warnings(log: SensorLog, registry: ZoneRegistry) -> list[FrostWarning]:
    warnings = []
    for zone_id in registry.all_zone_ids():
        zone = registry.require(zone_id)
        if not zone.frost_sensitive:
            continue
        coldest = log.coldest_c(zone_id)
        if coldest is not None and coldest < FROST_LINE_C:
            warnings.append(FrostWarning(zone_id, coldest))
    return warnings


def thirstiest_zone(log: SensorLog, registry: ZoneRegistry) -> str | None:
    worst, worst_deficit = None, 0.0
    for zone_id in registry.all_zone_ids():
        reading = log.latest_for(zone_id)
        if reading is None:
            continue
        deficit = moisture_deficit_pct(registry.require(zone_id), reading)
        if deficit > worst_deficit:
            worst, worst_deficit = zone_id, deficit
    return worst


def minutes_for_crop(log: SensorLog, registry: ZoneRegistry, crop: str) -> int:
    total = 0
    for zone in registry.growing(crop):
        reading = log.latest_for(zone.zone_id)
        if reading is not None:
            total += valve_minutes(zone, moisture_deficit_pct(zone, reading))
    return total


def litres_per_m2(plan: WateringPlan, registry: ZoneRegistry) -> float:
    area = registry.total_area_m2()
    return round(plan.litres(registry) / area, 3) if area else 0.0


def single_zone_litres(registry: ZoneRegistry, zone_id: str, minutes: int) -> float:
    try:
        zone = registry.require(zone_id)
    except UnknownZoneError:
        return 0.0
    return litres_delivered(zone.drip_rate_lpm, minutes)


def load_log(lines: list[str]) -> tuple[SensorLog, int]:
    log = SensorLog()
    skipped = log.ingest_lines(lines)
    return log, skipped


def first_reading_label(lines: list[str]) -> str:
    reading = parse_probe_line(lines[0], strict=False)
    if reading is None:
        return "no reading"
    return f"{reading.zone_id} at {clock_label(reading.minute)}"


def morning_report(lines: list[str], now_minute: int) -> list[str]:
    registry = default_registry()
    log, skipped = load_log(lines)
    plan = plan_watering(log, registry, now_minute)
    out = [f"report at {clock_label(now_minute)} ({skipped} lines skipped)"]
    out.extend(plan.timetable())
    out.append(f"water: {plan.litres(registry)} l, {litres_per_m2(plan, registry)} l/m2")
    for warning in frost_warnings(log, registry):
        out.append(f"frost risk in {warning.zone_id}: {warning.coldest_c} C")
    return out
