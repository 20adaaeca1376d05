"""Argument checks with one wording: "<name> must be <what is allowed>, got <value>".

Each check returns the value (as float or int where it checks a number) or raises
InvalidArgumentError naming the parameter, the value given and what is allowed. A number is a
real int or float (numpy scalars included); bool, str and None are refused, as are NaN and
infinity unless a check says otherwise.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import TypeVar

from balancelab.errors import InvalidArgumentError

T = TypeVar("T")


def _shown(value: object) -> str:
    """The value as the message shows it: numbers plainly (-1, 0.5, nan), the rest by repr."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, numbers.Real):
        return repr(int(value)) if isinstance(value, numbers.Integral) else repr(float(value))
    return repr(value)


def _unit(unit: str) -> str:
    return f" ({unit})" if unit else ""


def fail(name: str, value: object, allowed: str, advice: str | None = None) -> InvalidArgumentError:
    """The error of every check: `name` must be `allowed`, got `value` (raise it)."""
    return InvalidArgumentError(f"{name} must be {allowed}, got {_shown(value)}", advice)


def _real(name: str, value: object, allowed: str, *, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise fail(name, value, allowed)
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not allow_inf):
        raise fail(name, value, allowed)
    return number


def check_finite(name: str, value: object, unit: str = "") -> float:
    """`value` as a float if it is a finite number."""
    return _real(name, value, f"a finite number{_unit(unit)}")


def check_positive(name: str, value: object, unit: str = "", *, allow_inf: bool = False) -> float:
    """`value` as a float if it is a number > 0 (finite unless `allow_inf`)."""
    kind = "a positive number" if allow_inf else "a finite positive number"
    allowed = f"{kind}{_unit(unit)}" + (" or inf" if allow_inf else "")
    number = _real(name, value, allowed, allow_inf=allow_inf)
    if not number > 0:
        raise fail(name, value, allowed)
    return number


def check_nonnegative(name: str, value: object, unit: str = "") -> float:
    """`value` as a float if it is a finite number >= 0."""
    allowed = f"a finite number >= 0{_unit(unit)}"
    number = _real(name, value, allowed)
    if not number >= 0:
        raise fail(name, value, allowed)
    return number


def check_range(
    name: str,
    value: object,
    low: float,
    high: float,
    unit: str = "",
    *,
    inclusive: tuple[bool, bool] = (True, True),
) -> float:
    """`value` as a float if it lies between `low` and `high` (each end included or not)."""
    left = "[" if inclusive[0] else "("
    right = "]" if inclusive[1] else ")"
    allowed = f"a number in {left}{_shown(low)}, {_shown(high)}{right}{_unit(unit)}"
    number = _real(name, value, allowed)
    above = number >= low if inclusive[0] else number > low
    below = number <= high if inclusive[1] else number < high
    if not (above and below):
        raise fail(name, value, allowed)
    return number


def check_int(
    name: str,
    value: object,
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    advice: str | None = None,
) -> int:
    """`value` as an int if it is an integer (not bool) within [`minimum`, `maximum`];
    `advice` replaces the default advice of the error."""
    if minimum is not None and maximum is not None:
        allowed = f"an integer in [{minimum}, {maximum}]"
    elif minimum is not None:
        allowed = f"an integer >= {minimum}"
    elif maximum is not None:
        allowed = f"an integer <= {maximum}"
    else:
        allowed = "an integer"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise fail(name, value, allowed, advice)
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise fail(name, value, allowed, advice)
    return number


def check_choice(name: str, value: T, allowed: Collection[T]) -> T:
    """`value` if it is one of `allowed`."""
    if isinstance(value, bool) or value not in allowed:
        raise fail(name, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value
