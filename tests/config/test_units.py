"""Durations and sizes: every accepted form, every rejection with a hint, and round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prodserver.config.units import format_duration, parse_duration, parse_size
from prodserver.errors import ConfigError, Location

# -- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("500ms", 0.5),
        ("10s", 10.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1m30s", 90.0),
        ("1h30m", 5400.0),
        ("1h0m5s250ms", 3605.25),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("2.s", 2.0),
        ("0s", 0.0),
        ("0", 0.0),
        ("10", 10.0),
        ("2.5", 2.5),
        (" 10s ", 10.0),
        (10, 10.0),
        (0, 0.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration_accepts(value: str | int | float, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)
    assert isinstance(parse_duration(value), float)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "  ",
        "s",
        "10 s",  # no space inside a duration, like Go and Compose
        "10S",
        "10sec",
        "1e3",
        "10x",
        "1:30",
        "-5s",
        "-1",
        "30s1m",  # units largest first
        "1m1m",
        "1.2.3s",
        "inf",
        "nan",
        "\u0661\u0660s",  # non-ASCII digits
        -1,
        -0.5,
        math.nan,
        math.inf,
        True,
        None,
        [10],
    ],
)
def test_parse_duration_rejects_with_a_hint(value: object) -> None:
    where = Location(key_path="processes.web.stop_timeout")
    with pytest.raises(ConfigError) as info:
        parse_duration(value, where=where)  # type: ignore[arg-type]
    err = info.value
    assert err.code == "PS170"
    assert err.location == where
    assert '"1m30s"' in (err.hint or "")
    assert repr(value) in err.message


def test_parse_duration_explains_common_mistakes() -> None:
    with pytest.raises(ConfigError, match="must not be negative"):
        parse_duration(-3)
    with pytest.raises(ConfigError, match="largest first"):
        parse_duration("30s1m")
    with pytest.raises(ConfigError, match="not a boolean"):
        parse_duration(True)
    with pytest.raises(ConfigError, match="not a finite number"):
        parse_duration(math.inf)


def test_huge_duration_that_overflows_is_rejected() -> None:
    with pytest.raises(ConfigError, match="finite"):
        parse_duration("9" * 400 + "d")
    with pytest.raises(ConfigError, match="finite"):
        parse_duration(10**400)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0004, "0s"),
        (0.001, "1ms"),
        (0.5, "500ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (1.25, "1.25s"),
        (10, "10s"),
        (60, "1m"),
        (90, "1m30s"),
        (90.5, "1m30.5s"),
        (3600, "1h"),
        (3661, "1h1m1s"),
        (86400, "24h"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [-1, math.nan, math.inf])
def test_format_duration_rejects_what_is_not_a_duration(seconds: float) -> None:
    with pytest.raises(ValueError, match="cannot format"):
        format_duration(seconds)


@given(st.floats(min_value=0, max_value=10**7, allow_nan=False))
def test_format_then_parse_round_trips_to_the_millisecond(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=0.0005)


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.booleans(), st.none()))
def test_parse_duration_only_raises_config_errors(value: object) -> None:
    try:
        result = parse_duration(value)  # type: ignore[arg-type]
    except ConfigError:
        return
    assert math.isfinite(result)
    assert result >= 0


# -- sizes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (0, 0),
        (1048576, 1048576),
        ("1048576", 1048576),
        ("100B", 100),
        ("100b", 100),
        ("64k", 64_000),
        ("64K", 64_000),
        ("64kB", 64_000),
        ("64KB", 64_000),
        ("512MB", 512_000_000),
        ("512M", 512_000_000),
        ("512m", 512_000_000),
        ("2G", 2_000_000_000),
        ("1TB", 10**12),
        ("64Ki", 65_536),
        ("64KiB", 65_536),
        ("64kib", 65_536),
        ("512MiB", 512 * 1024**2),
        ("512Mi", 512 * 1024**2),
        ("1GiB", 1024**3),
        ("1Ti", 1024**4),
        ("1.5KiB", 1536),
        ("1.5k", 1500),
        ("0.5GiB", 512 * 1024**2),
        ("512 MiB", 512 * 1024**2),
        (" 1GiB ", 1024**3),
        (1024.0, 1024),
    ],
)
def test_parse_size_accepts(value: str | int | float, size: int) -> None:
    assert parse_size(value) == size
    assert type(parse_size(value)) is int


def test_decimal_and_binary_units_differ() -> None:
    assert parse_size("1GB") == 1_000_000_000
    assert parse_size("1GiB") == 1_073_741_824


@pytest.mark.parametrize(
    "value",
    [
        "",
        "MB",
        "12XB",
        "1.5B",
        "0.5",
        "1e6",
        "-1",
        "-1MB",
        "1  MB",
        "1,5MB",
        "1 000",
        -1,
        0.5,
        math.inf,
        math.nan,
        True,
        None,
    ],
)
def test_parse_size_rejects_with_a_hint(value: object) -> None:
    where = Location(key_path="processes.web.max_memory")
    with pytest.raises(ConfigError) as info:
        parse_size(value, where=where)  # type: ignore[arg-type]
    err = info.value
    assert err.code == "PS171"
    assert err.location == where
    assert "512MiB" in (err.hint or "")


def test_parse_size_explains_fractional_bytes() -> None:
    with pytest.raises(ConfigError, match="whole number of bytes"):
        parse_size("1.5B")


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.booleans(), st.none()))
def test_parse_size_only_raises_config_errors(value: object) -> None:
    try:
        result = parse_size(value)  # type: ignore[arg-type]
    except ConfigError:
        return
    assert result >= 0


@given(st.integers(min_value=0, max_value=2**50), st.sampled_from(["", "B", "k", "MiB", "GB"]))
def test_integer_sizes_scale_by_their_unit(number: int, unit: str) -> None:
    factor = {"": 1, "B": 1, "k": 1000, "MiB": 1024**2, "GB": 1000**3}[unit]
    assert parse_size(f"{number}{unit}") == number * factor
