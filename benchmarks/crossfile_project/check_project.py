"""Executes the greenhouse project: every function with known answers."""

from __future__ import annotations

import irrigation
import report
import sensors
import units
import zones

LINES = [
    "300|A1|700|2761",  # 05:00, a cold night: 2.95 C
    "360|A1|640|2771",
    "365|A2|520|2791",
    "370|B1|600|2741",
    "375|C1|800|2731",
    "bad line",
    "380|B1|oops|2801",
]


def main() -> None:
    assert units.celsius_from_decikelvin(2771) == 3.95
    assert units.moisture_pct_from_counts(640) == 51.1
    assert units.moisture_pct_from_counts(1000) == 0.0
    assert units.litres_delivered(2.0, 10) == 17.0
    assert units.clock_label(390) == "06:30"
    assert units.clock_label(1500) == "01:00"

    reading = sensors.parse_probe_line("390|A1|640|2891")
    assert reading == sensors.Reading("A1", 390, 51.1, 15.95)
    assert sensors.parse_probe_line("x|y", strict=False) is None
    try:
        sensors.parse_probe_line("x|y")
        raise AssertionError("strict parsing accepted a bad line")
    except sensors.MalformedReading:
        pass

    registry = zones.default_registry()
    assert registry.require("B1").crop == "basil"
    assert [z.zone_id for z in registry.growing("tomato")] == ["A1", "A2"]
    assert registry.total_area_m2() == 34.0
    try:
        registry.require("Z9")
        raise AssertionError("unknown zone accepted")
    except zones.UnknownZoneError:
        pass

    log, skipped = report.load_log(LINES)
    assert skipped == 2 and len(log.readings) == 5
    assert log.latest_for("A1") == sensors.Reading("A1", 360, 51.1, 3.95)
    assert log.coldest_c("A1") == 2.95
    assert [r.minute for r in log.since("A1", 330)] == [360]

    a1 = registry.require("A1")
    assert irrigation.moisture_deficit_pct(a1, log.latest_for("A1")) == 10.9
    assert irrigation.valve_minutes(a1, 10.9) == 4
    assert irrigation.valve_minutes(a1, 0) == 0
    assert irrigation.valve_minutes(registry.require("B1"), 200.0) == 30

    plan = irrigation.plan_watering(log, registry, now_minute=400)
    assert [(s.zone_id, s.start_minute, s.minutes) for s in plan.slots] == [
        ("A1", 400, 4),
        ("B1", 404, 2),
        ("C1", 406, 10),
    ], plan.slots
    assert plan.timetable() == ["06:40-06:44 A1", "06:44-06:46 B1", "06:46-06:56 C1"]
    assert plan.litres(registry) == 17.34, plan.litres(registry)

    assert report.frost_warnings(log, registry) == [report.FrostWarning("B1", 0.95)]
    assert report.thirstiest_zone(log, registry) == "C1"
    assert report.minutes_for_crop(log, registry, "tomato") == 4
    assert report.litres_per_m2(plan, registry) == 0.51
    assert report.single_zone_litres(registry, "A2", 10) == 12.75
    assert report.single_zone_litres(registry, "Q1", 10) == 0.0
    assert report.first_reading_label(LINES) == "A1 at 05:00"
    assert report.first_reading_label(["nope"]) == "no reading"
    assert report.morning_report(LINES, 400) == [
        "report at 06:40 (2 lines skipped)",
        "06:40-06:44 A1",
        "06:44-06:46 B1",
        "06:46-06:56 C1",
        "water: 17.34 l, 0.51 l/m2",
        "frost risk in B1: 0.95 C",
    ]


if __name__ == "__main__":
    main()
    print("ok")
