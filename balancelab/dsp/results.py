"""The result of one measure: value (or None), unit, method, settings and quality flags.

`Metric` is what `balancelab analyze --json` prints per metric key (science/METRICS.md). A value is
either a finite float or None; None always comes with at least one quality flag saying why. A
metric may carry `interval_90` = (low, high), a 90 % interval of the value in its unit (`high` None
when the upper end is unbounded, e.g. a TTS that may never stabilize).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from balancelab.dsp.quality import QualityFlag
from balancelab.errors import InvalidArgumentError

SettingValue = str | int | float | bool | None | tuple[float, ...]
JsonValue = (
    str
    | int
    | float
    | bool
    | None
    | list[float]
    | list[float | None]
    | list[dict[str, str]]
    | dict[str, object]
)
Interval = tuple[float, float | None]


@dataclass(frozen=True)
class Metric:
    """One measured quantity with everything needed to compare it honestly.

    `settings` holds the parameters that produced it (fs, n, method options …); the caller adds
    its own (filter, detrend, window) with `with_settings`. `details` holds companion numbers, e.g.
    the ellipse's semi-axes and orientation.
    """

    value: float | None
    unit: str
    method: str
    settings: Mapping[str, SettingValue] = field(default_factory=dict)
    quality: tuple[QualityFlag, ...] = ()
    details: Mapping[str, float] = field(default_factory=dict)
    interval_90: Interval | None = None

    def __post_init__(self) -> None:
        if self.value is not None:
            number = float(self.value)
            if not math.isfinite(number):
                raise InvalidArgumentError(
                    f"Metric value must be finite or None, got {self.value!r} ({self.method})"
                )
            object.__setattr__(self, "value", number)
        elif not self.quality:
            raise InvalidArgumentError(f"Metric {self.method!r} without a value needs a flag")
        if any(not math.isfinite(v) for v in self.details.values()):
            raise InvalidArgumentError(f"Metric details must be finite, got {dict(self.details)}")
        if self.interval_90 is not None:
            low, high = self.interval_90
            if not math.isfinite(low) or (high is not None and not low <= high < math.inf):
                raise InvalidArgumentError(
                    f"Metric interval_90 must be low <= high, both finite (high may be None), "
                    f"got {self.interval_90}"
                )
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @property
    def ok(self) -> bool:
        """True when there is a value (there may still be warning flags)."""
        return self.value is not None

    def with_flags(self, *flags: QualityFlag | None) -> Metric:
        """A copy with `flags` appended (None entries, as returned by checks, are skipped)."""
        extra = tuple(f for f in flags if f is not None and f not in self.quality)
        return replace(self, quality=self.quality + extra)

    def with_settings(self, **settings: SettingValue) -> Metric:
        """A copy whose settings also hold `settings` (e.g. filter and window of the caller)."""
        return replace(self, settings={**self.settings, **settings})

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-ready: value, unit, method, settings, quality (and details when present)."""
        out: dict[str, JsonValue] = {
            "value": self.value,
            "unit": self.unit,
            "method": self.method,
            "settings": {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.settings.items()
            },
            "quality": [f.to_dict() for f in self.quality],
        }
        if self.details:
            out["details"] = dict(self.details)
        if self.interval_90 is not None:
            out["interval_90"] = list(self.interval_90)
        return out


def missing(
    unit: str,
    method: str,
    settings: Mapping[str, SettingValue],
    flags: tuple[QualityFlag, ...],
) -> Metric:
    """A metric without a value; `flags` must say why."""
    return Metric(None, unit, method, settings, flags)


_UNIT = re.compile(r"^([A-Za-z%]+)(?:\^(-?\d+))?$")


def squared_unit(unit: str) -> str:
    """The unit of a squared quantity: 'mm' -> 'mm^2', 'm/s^2' -> 'm^2/s^4'."""
    return _scaled_unit(unit, power=2, per_second=0)


def per_second_unit(unit: str) -> str:
    """The unit of a rate: 'mm' -> 'mm/s', 'm/s^2' -> 'm/s^3'."""
    return _scaled_unit(unit, power=1, per_second=1)


def _scaled_unit(unit: str, *, power: int, per_second: int) -> str:
    parts = unit.split("/")
    powers: dict[str, int] = {}
    for position, part in enumerate(parts):
        match = _UNIT.match(part)
        if len(parts) > 2 or match is None:
            base = f"({unit})" if power != 1 else unit
            return base + (f"^{power}" if power != 1 else "") + ("/s" if per_second else "")
        sign = 1 if position == 0 else -1
        name, exponent = match.group(1), int(match.group(2) or 1)
        powers[name] = powers.get(name, 0) + sign * exponent * power
    powers["s"] = powers.get("s", 0) - per_second
    numerator = [_power(n, e) for n, e in powers.items() if e > 0]
    denominator = [_power(n, -e) for n, e in powers.items() if e < 0]
    text = "*".join(numerator) or "1"
    return text + ("/" + "*".join(denominator) if denominator else "")


def _power(name: str, exponent: int) -> str:
    return name if exponent == 1 else f"{name}^{exponent}"
