"""Growing zones of the greenhouse and the registry that knows them."""

from __future__ import annotations

from dataclasses import dataclass, field


class UnknownZoneError(KeyError):
    """A zone id that was never registered."""


@dataclass(frozen=True)
class Zone:
    zone_id: str
    crop: str
    area_m2: float
    target_moisture_pct: float
    drip_rate_lpm: float
    frost_sensitive: bool = True


@dataclass
class ZoneRegistry:
    _zones: dict[str, Zone] = field(default_factory=dict)

    def register(self, zone: Zone) -> None:
        if zone.zone_id in self._zones:
            raise ValueError(f"zone {zone.zone_id} registered twice")
        self._zones[zone.zone_id] = zone

    def require(self, zone_id: str) -> Zone:
        try:
            return self._zones[zone_id]
        except KeyError:
            raise UnknownZoneError(zone_id) from None

    def growing(self, crop: str) -> list[Zone]:
        return [z for z in self._zones.values() if z.crop == crop]

    def all_zone_ids(self) -> list[str]:
        return sorted(self._zones)

    def total_area_m2(self) -> float:
        return sum(z.area_m2 for z in self._zones.values())


def default_registry() -> ZoneRegistry:
    registry = ZoneRegistry()
    registry.register(Zone("A1", "tomato", 12.0, 62.0, 1.8))
    registry.register(Zone("A2", "tomato", 10.0, 62.0, 1.5))
    registry.register(Zone("B1", "basil", 4.0, 65.0, 0.6))
    registry.register(Zone("C1", "chard", 8.0, 48.0, 1.2, frost_sensitive=False))
    return registry
