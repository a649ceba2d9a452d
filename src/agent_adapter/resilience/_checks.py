"""Validation shared by the gates' constructors: a bad setting fails before any I/O, named."""

from __future__ import annotations

import math

from ..errors import ValidationError

__all__ = ["check_count", "check_seconds"]


def check_count(value: object, field: str, *, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum`` (not a bool), else a ValidationError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("must be an integer", field=field)
    if value < minimum:
        raise ValidationError(f"must be >= {minimum}", field=field)
    return value


def check_seconds(value: object, field: str, *, positive: bool = False) -> float:
    """``value`` as a finite number of seconds (``> 0`` when ``positive``, else ``>= 0``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError("must be a number of seconds", field=field)
    if value < 0 or (positive and value == 0):
        raise ValidationError("must be > 0" if positive else "must be >= 0", field=field)
    return float(value)
