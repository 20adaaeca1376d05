"""Building metrics: a metric without a value, and the units of derived quantities.

The result types themselves (`Metric` and the analysed trials and sessions) are data that
crosses layers and live in `balancelab.model`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from balancelab.model import Metric, QualityFlag, SettingValue


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
