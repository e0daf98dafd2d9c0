"""How long each zone's valve opens, from the zone's target and its latest reading."""

from __future__ import annotations

from dataclasses import dataclass, field

from sensors import Reading, SensorLog
from units import clock_label, litres_delivered
from zones import Zone, ZoneRegistry

MAX_VALVE_MINUTES = 30
# Minutes of watering that raise a square metre's moisture by one percentage point.
MINUTES_PER_PCT_M2 = 0.05


def moisture_deficit_pct(zone: Zone, reading: Reading) -> float:
    """How far the soil is below the zone's target (0 when at or above it)."""
    return max(0.0, round(zone.target_moisture_pct - reading.soil_moisture_pct, 1))


def valve_minutes(zone: Zone, deficit_pct: float, *, cap: int = MAX_VALVE_MINUTES) -> int:
    """Minutes the valve stays open to make up ``deficit_pct`` over the zone's area."""
    if deficit_pct <= 0:
        return 0
    minutes = deficit_pct * zone.area_m2 * MINUTES_PER_PCT_M2 / zone.drip_rate_lpm
    return min(cap, max(1, round(minutes)))


@dataclass(frozen=True)
class ValveSlot:
    zone_id: str
    start_minute: int
    minutes: int

    @property
    def end_minute(self) -> int:
        return self.start_minute + self.minutes


@dataclass
class WateringPlan:
    slots: list[ValveSlot] = field(default_factory=list)

    def book(self, zone_id: str, minutes: int, not_before: int) -> ValveSlot:
        """One valve at a time: a slot starts when the previous one ends."""
        start = max([not_before] + [s.end_minute for s in self.slots])
        slot = ValveSlot(zone_id, start, minutes)
        self.slots.append(slot)
        return slot

    def litres(self, registry: ZoneRegistry) -> float:
        total = 0.0
        for slot in self.slots:
            zone = registry.require(slot.zone_id)
            total += litres_delivered(zone.drip_rate_lpm, slot.minutes)
        return round(total, 2)

    def timetable(self) -> list[str]:
        return [
            f"{clock_label(s.start_minute)}-{clock_label(s.end_minute)} {s.zone_id}"
            for s in self.slots
        ]


def plan_watering(log: SensorLog, registry: ZoneRegistry, now_minute: int) -> WateringPlan:
    plan = WateringPlan()
    for zone_id in registry.all_zone_ids():
        zone = registry.require(zone_id)
        reading = log.latest_for(zone_id)
        if reading is None:
            continue
        deficit = moisture_deficit_pct(zone, reading)
        minutes = valve_minutes(zone, deficit)
        if minutes:
            plan.book(zone_id, minutes, not_before=now_minute)
    return plan
