"""The command line reads durations and sizes with the configuration file's grammar."""

from __future__ import annotations

import argparse

import pytest

from prodserver.cli.commands.up import _size, parse_seconds
from prodserver.config.units import parse_duration, parse_size


@pytest.mark.parametrize("text", ["10", "500ms", "1m30s", "2m", "1.5s"])
def test_stop_timeout_accepts_what_the_file_accepts(text: str) -> None:
    assert parse_seconds(text) == parse_duration(text)


@pytest.mark.parametrize("text", ["512", "64KiB", "10MB", "10MiB", "1GiB"])
def test_log_file_max_size_means_what_the_file_means(text: str) -> None:
    assert _size(text) == parse_size(text)


def test_10mb_is_the_same_number_of_bytes_everywhere() -> None:
    assert _size("10MB") == parse_size("10MB") == 10_000_000
    assert _size("10MiB") == 10 * 1024 * 1024


@pytest.mark.parametrize("text", ["x", "-1", "1e300", ""])
def test_a_bad_duration_is_a_usage_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_seconds(text)


@pytest.mark.parametrize("text", ["x", "0", "-5MB"])
def test_a_bad_size_is_a_usage_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _size(text)
