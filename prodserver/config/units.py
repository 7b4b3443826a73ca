"""Durations and sizes as users write them: ``"500ms"``, ``"1m30s"``, ``"512MiB"``.

**Durations** are seconds. Accepted: a non-negative number (``10``, ``2.5``), the same as a
string (``"10"``), or one or more ``<number><unit>`` parts with units ``ms``, ``s``, ``m``, ``h``
and ``d``, largest first, each at most once: ``"500ms"``, ``"10s"``, ``"1.5s"``, ``"2m"``,
``"1h"``, ``"1m30s"``, ``"1h30m"``. Units are lower case, as in Go and Compose.

**Sizes** are bytes. Accepted: a non-negative integer (``1048576``), the same as a string, or a
number and a unit (case-insensitive, an optional space between):

- decimal SI: ``k``/``kB`` = 1000, ``M``/``MB`` = 1000², ``G``/``GB`` = 1000³, ``T``/``TB`` = 1000⁴
  (as in Kubernetes quantities: ``64k`` is 64,000 bytes);
- binary IEC: ``Ki``/``KiB`` = 1024, ``Mi``/``MiB`` = 1024², ``Gi``/``GiB`` = 1024³,
  ``Ti``/``TiB`` = 1024⁴;
- ``B`` for bytes.

A fractional size must come to a whole number of bytes: ``"1.5KiB"`` is 1536, ``"0.5B"`` is an
error.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from prodserver import codes
from prodserver.errors import ConfigError, Location

__all__ = ["format_duration", "parse_duration", "parse_size"]

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_DURATION_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_PLAIN_NUMBER = re.compile(_NUMBER)
_SIZE = re.compile(rf"({_NUMBER}) ?([A-Za-z]*)")

_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_UNIT_ORDER = ("d", "h", "m", "s", "ms")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}

_DURATION_HINT = 'use seconds (10, 2.5) or a duration such as "500ms", "10s", "2m", "1h", "1m30s"'
_SIZE_HINT = 'use bytes (1048576) or a size such as "64k", "512MB", "512MiB", "1GiB"'


def _duration_error(value: object, where: Location | None, why: str = "") -> ConfigError:
    return ConfigError(
        f"invalid duration {value!r}{why}",
        hint=_DURATION_HINT,
        location=where,
        code=codes.NOT_A_DURATION,
    )


def parse_duration(value: str | int | float, *, where: Location | None = None) -> float:
    """``value`` as a number of seconds; a :class:`ConfigError` (PS170) if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _duration_error(value, where, f": expected a number or a string, not {_kind(value)}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    else:
        text = value.strip()
        if _PLAIN_NUMBER.fullmatch(text):
            seconds = float(text)
        else:
            seconds = _parse_duration_parts(text, value, where)
    if math.isnan(seconds) or math.isinf(seconds):
        raise _duration_error(value, where, ": not a finite number")
    if seconds < 0:
        raise _duration_error(value, where, ": must not be negative")
    return seconds


def _parse_duration_parts(text: str, value: str, where: Location | None) -> float:
    total = 0.0
    pos = 0
    last_rank = -1
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise _duration_error(value, where)
        number, unit = match.groups()
        rank = _UNIT_ORDER.index(unit)
        if rank <= last_rank:
            raise _duration_error(value, where, ": write each unit once, largest first")
        last_rank = rank
        total += float(number) * _DURATION_UNITS[unit]
        pos = match.end()
    if pos == 0:
        raise _duration_error(value, where)
    return total


def parse_size(value: str | int | float, *, where: Location | None = None) -> int:
    """``value`` as a number of bytes; a :class:`ConfigError` (PS171) if it is not one."""

    def error(why: str = "") -> ConfigError:
        return ConfigError(
            f"invalid size {value!r}{why}", hint=_SIZE_HINT, location=where, code=codes.NOT_A_SIZE
        )

    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise error(f": expected a number or a string, not {_kind(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise error(": not a finite number")
        amount = Fraction(value)
    elif isinstance(value, int):
        amount = Fraction(value)
    else:
        match = _SIZE.fullmatch(value.strip())
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _SIZE_UNITS:
            raise error()
        amount = Fraction(match.group(1)) * _SIZE_UNITS[unit]
    if amount < 0:
        raise error(": must not be negative")
    if amount.denominator != 1:
        raise error(": not a whole number of bytes")
    return int(amount)


def format_duration(seconds: float) -> str:
    """A short readable form of ``seconds`` that :func:`parse_duration` reads back.

    Rounded to the millisecond: ``0.5`` is ``"500ms"``, ``90`` is ``"1m30s"``, ``1.5`` is
    ``"1.5s"``, ``3600`` is ``"1h"``. Raises ValueError for a negative or non-finite number.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration")
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if rest:
        whole, frac = divmod(rest, 1000)
        parts.append(f"{whole}.{frac:03d}".rstrip("0").rstrip(".") + "s")
    return "".join(parts)


def _kind(value: object) -> str:
    return "a boolean" if isinstance(value, bool) else type(value).__name__
