"""Prices in whole points: the engine's unit, read exactly from text or JSON numbers."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from aftm.domain.limits import INT64_MAX, INT64_MIN
from aftm.errors import InvalidInput


def whole_points(value: object, field: str) -> int:
    """Read an exact whole number of points from an int, an integral float, or decimal text.

    "17500", "17500.0" and 17500.0 are 17500; "17500.5" is refused rather than rounded, because
    a silently rounded price would move a trigger.
    """
    if isinstance(value, bool):
        raise InvalidInput(field, f"{value!r:.40} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and (not value.isascii() or "_" in value):
        # Decimal reads any script's digits and 1_000 too: a number is written in ASCII digits.
        raise InvalidInput(field, f"{value!r:.40} is not a number in ASCII digits")
    if isinstance(value, float | str):
        try:
            number = Decimal(value.strip() if isinstance(value, str) else repr(value))
        except InvalidOperation:
            raise InvalidInput(field, f"{value!r:.40} is not a number") from None
        if not number.is_finite():
            raise InvalidInput(field, f"{value!r:.40} is not a finite number")
        if number != number.to_integral_value():
            raise InvalidInput(field, f"{value!r:.40} is not a whole number of points")
        if not INT64_MIN <= number <= INT64_MAX:  # before int(): 1E+999999999 would take ages
            raise InvalidInput(field, f"{value!r:.40} does not fit 64 bits")
        return int(number)
    raise InvalidInput(field, f"{value!r:.40} is not a number")
