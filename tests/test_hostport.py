"""The one host:port grammar: binds, TCP health targets, --metrics, Django's addrport."""

from __future__ import annotations

import pytest

from prodserver.hostport import AddressError, join_host_port, split_bind, split_host_port


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("localhost:1", ("localhost", 1)),
        ("[::1]:8000", ("::1", 8000)),
        ("[fe80::1%eth0]:65535", ("fe80::1%eth0", 65535)),
        (":8000", ("127.0.0.1", 8000)),
        ("[]:8000", ("127.0.0.1", 8000)),
        (" 0.0.0.0:80 ", ("0.0.0.0", 80)),
    ],
)
def test_host_and_port_number(text: str, expected: tuple[str, int]) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("localhost", "'localhost' has no port"),
        ("localhost:", "'localhost:' has no port"),
        ("[::1]", "'[::1]' has no port"),
        ("[::1]:", "has no port"),
        ("localhost:http", "the port 'http' is not a number"),
        ("localhost:-1", "the port '-1' is not a number"),
        ("localhost:\uff18\uff10", "is not a number"),  # full-width digits: not ASCII
        ("localhost:65536", "the port 65536 is out of range (1-65535)"),
        ("localhost:0", "the port 0 is out of range (1-65535)"),
        ("localhost:" + "9" * 5000, "the port 999999999999... is out of range"),
        ("::1:8000", "an IPv6 address needs brackets"),
        ("[::1:8000", "missing ']' after the IPv6 address"),
        ("[::1]8000", "expected ':' after ']', found '8'"),
    ],
)
def test_every_bad_address_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(AddressError) as info:
        split_host_port(text)
    assert message in str(info.value)
    assert "HOST:PORT" in str(info.value) or "]" in message or "range" in message


def test_a_bare_port_and_port_zero_where_the_caller_allows_them() -> None:
    assert split_host_port("9191", bare_port=True) == ("127.0.0.1", 9191)
    assert split_host_port("0.0.0.0:0", allow_zero=True) == ("0.0.0.0", 0)
    assert split_host_port("9191", bare_port=True, default_host="::1") == ("::1", 9191)
    with pytest.raises(AddressError, match="has no port"):
        split_host_port("9191")


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("0.0.0.0:8000", ("0.0.0.0", "8000")),
        ("0.0.0.0:${PORT:-8000}", ("0.0.0.0", "${PORT:-8000}")),
        ("[::1]:${PORT:-8000}", ("::1", "${PORT:-8000}")),
        ("[::]", ("::", "")),
        ("example.org", ("example.org", "")),
        (":8000", ("", "8000")),
    ],
)
def test_a_bind_keeps_its_port_as_text(bind: str, expected: tuple[str, str]) -> None:
    assert split_bind(bind) == expected


def test_join_brackets_an_ipv6_host_once() -> None:
    assert join_host_port("::1", 8000) == "[::1]:8000"
    assert join_host_port("[::1]", "${PORT}") == "[::1]:${PORT}"
    assert join_host_port("0.0.0.0", "${PORT}") == "0.0.0.0:${PORT}"
    for host, port in (("::1", 80), ("10.0.0.1", 65535), ("fe80::1%eth0", 1)):
        assert split_host_port(join_host_port(host, port)) == (host, port)


def test_metrics_option_errors_are_usage_errors_that_name_the_problem() -> None:
    from prodserver.errors import UsageError
    from prodserver.runtime.metrics import parse_address

    assert parse_address("0") == ("127.0.0.1", 0)
    with pytest.raises(UsageError, match=r"--metrics '\[::1': missing '\]'"):
        parse_address("[::1")
    with pytest.raises(UsageError, match="out of range"):
        parse_address("127.0.0.1:70000")


def test_a_malformed_bind_is_a_configuration_error_with_its_code() -> None:
    from prodserver.backends.common import split_bind as backend_split_bind
    from prodserver.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        backend_split_bind("[::1]x")
    assert info.value.code == "PS222"
    assert "expected ':' after ']'" in info.value.message


def test_django_addrport_and_bind_with_ipv6_keep_brackets() -> None:
    from prodserver.config.django_translate import translate

    t = translate(
        {
            "dev": {
                "BACKEND": "django_prodserver.backends.django_runserver.DjangoRunserver",
                "ARGS": {"addrport": "[::1]:8123"},
            },
            "web": {
                "BACKEND": "django_prodserver.backends.gunicorn.GunicornServer",
                "ARGS": {"bind": "[::]:8111"},
            },
        }
    )
    dev, web = t.data["processes"]["dev"], t.data["processes"]["web"]
    assert (dev["bind"], dev["port"]) == ("[::1]:${PORT}", 8123)
    assert (web["bind"], web["port"]) == ("[::]:${PORT}", 8111)
