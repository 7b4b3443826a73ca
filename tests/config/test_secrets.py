"""Secrets: which names are secret, masking values and URL passwords, and the canary."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prodserver.config.secrets import (
    MASK,
    is_secret_name,
    mask_env,
    mask_url_passwords,
    mask_value,
)
from prodserver.exitcodes import ExitCode

CANARY = "CANARY-9f3b"


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_KEY",
        "DJANGO_SECRET_KEY",
        "client_secret",
        "DB_PASSWORD",
        "PASSWORD",
        "MYSQL_ROOT_PASSWD",
        "GPG_PASSPHRASE",
        "GITHUB_TOKEN",
        "AccessToken",
        "STRIPE_API_KEY",
        "OPENAI_APIKEY",
        "ENCRYPTION_KEY",
        "KEY",
        "AWS_SECRET_ACCESS_KEY",
        "PRIVATE_KEY_PEM",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "SENTRY_DSN",
        "DSN",
        "REDIS_PASS",
        "DB_PWD",
        "AUTH",
        "BASIC_AUTH",
        "AUTH_HEADER",
        "HTTP_AUTH_VALUE",
    ],
)
def test_usual_secret_names_are_secret(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "DEBUG",
        "PORT",
        "DATABASE_URL",  # not secret by name; its URL password is masked instead
        "PWD",  # the shell's working directory
        "AUTHOR",
        "OAUTHLIB_INSECURE_TRANSPORT",
        "PASSTHROUGH",
        "KEYBOARD_LAYOUT",
        "AWS_ACCESS_KEY_ID",  # an identifier, not the secret
        "DJANGO_SETTINGS_MODULE",
        "",
    ],
)
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_extra_globs_are_matched_in_any_case() -> None:
    assert not is_secret_name("STRIPE_WEBHOOK")
    assert is_secret_name("STRIPE_WEBHOOK", ["STRIPE_*"])
    assert is_secret_name("stripe_webhook", ["STRIPE_*"])
    assert is_secret_name("MY_VALUE", ["my_value"])
    assert not is_secret_name("MY_VALUE_2", ["MY_VALUE"])


@pytest.mark.parametrize("value", ["", "x", "short", "a much longer secret value " * 10, CANARY])
def test_mask_value_reveals_nothing(value: str) -> None:
    assert mask_value(value) == MASK == "********"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://user:pw@db:5432/shop", "postgres://user:********@db:5432/shop"),
        ("redis://:secret@cache:6379/0", "redis://:********@cache:6379/0"),
        ("amqp://guest:guest@localhost:5672//", "amqp://guest:********@localhost:5672//"),
        ("mysql+pymysql://u:p@h/d", "mysql+pymysql://u:********@h/d"),
        ("postgres://u:p@ss@host/db", "postgres://u:********@host/db"),  # "@" in the password
        ("postgres://u:ab/cd@host/db", "postgres://u:********@host/db"),  # unencoded "/"
        ("redis://:pa#ss@host", "redis://:********@host"),  # unencoded "#"
        ("redis://u:x@y/z@host/0", "redis://u:********@host/0"),  # "@" and "/"
        ("redis://:@?s?@@h", "redis://:********@h"),
        ("postgres://u:@host/db", "postgres://u:********@host/db"),
        # Several URLs in one word are masked together: the first host is hidden too.
        ("redis://:a@h1,redis://:b@h2", "redis://:********@h2"),
        ("amqp://u:p@a//;amqp://u:q@b//", "amqp://u:********@b//"),
        ("postgres://a://CANARY//@h", "postgres://a:********@h"),  # "x://" inside a password
        (
            'url "postgres://u:p@h/d" and https://x:y@z',
            'url "postgres://u:********@h/d" and https://x:********@z',
        ),
    ],
)
def test_url_passwords_are_masked(text: str, expected: str) -> None:
    assert mask_url_passwords(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "no url here",
        "http://example.org/path",
        "http://127.0.0.1:8000/healthz",
        "http://host/x?email=a@b.example",  # "@" in the query, no ":" in the authority
        "https://user@github.com/repo.git",  # a user name alone is not a password
        "mailto:someone@example.org",
        "ftp://",
        "://",
    ],
)
def test_text_without_url_password_is_unchanged(text: str) -> None:
    assert mask_url_passwords(text) == text


def test_an_at_sign_in_a_path_after_a_port_is_masked_rather_than_risk_a_leak() -> None:
    # "host:80/users/@me" cannot be told apart from "user:80/secret@host".
    assert mask_url_passwords("https://host:443/users/@me") == "https://host:********@me"
    assert mask_url_passwords("http://h:80/?to=a@b.org") == "http://h:********@b.org"
    assert mask_url_passwords("redis://u:123/45@h/0") == "redis://u:********@h/0"
    assert mask_url_passwords("redis://u:1?2#3@h/0") == "redis://u:********@h/0"


def test_mask_env_masks_secret_names_and_url_passwords() -> None:
    env = {
        "SECRET_KEY": "s3cr3t",
        "STRIPE_WEBHOOK": "whsec",
        "MARKED": "by the user",
        "DATABASE_URL": "postgres://app:dbpass@db/shop",
        "DEBUG": "1",
    }
    masked = mask_env(env, ["STRIPE_*", "MARKED"])
    assert masked == {
        "SECRET_KEY": MASK,
        "STRIPE_WEBHOOK": MASK,
        "MARKED": MASK,
        "DATABASE_URL": "postgres://app:********@db/shop",
        "DEBUG": "1",
    }
    assert env["SECRET_KEY"] == "s3cr3t"  # the input is not changed


def test_mask_env_keeps_order() -> None:
    env = {"B": "1", "A": "2", "TOKEN": "3"}
    assert list(mask_env(env, ())) == ["B", "A", "TOKEN"]


# -- the canary: it must never appear in masked output ---------------------------------------


def canary_env() -> dict[str, str]:
    return {
        "SECRET_KEY": CANARY,
        "DB_PASSWORD": f"prefix-{CANARY}-suffix",
        "GITHUB_TOKEN": CANARY,
        "CUSTOM": CANARY,
        "DATABASE_URL": f"postgres://app:{CANARY}@db:5432/shop",
        "CACHE_URL": f"redis://:{CANARY}@cache/0",
        "BROKER_URLS": f"amqp://u:{CANARY}@a//,amqp://u:{CANARY}@b//",
        "CELERY_CMD": f"celery --broker redis://:{CANARY}@h/1 worker",
        "EMPTY_SECRET": "",
    }


def test_canary_never_appears_in_masked_env() -> None:
    masked = mask_env(canary_env(), ["CUSTOM"])
    assert CANARY not in repr(masked)
    assert "9f3b" not in repr(masked)


url_parts = st.tuples(
    st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=20),
    st.sampled_from(["postgres", "redis", "amqp", "https", "mysql+pymysql"]),
    st.from_regex(r"[a-z]{0,8}", fullmatch=True),
    st.text(alphabet="@:/?#!%&,0123=+;$", max_size=4),
    st.from_regex(r"[a-z][a-z0-9.]{0,10}(:[0-9]{1,5})?", fullmatch=True),
    st.from_regex(r"(/[a-z0-9@?#=]{0,10})?", fullmatch=True),
)


@given(parts=url_parts)
@example(parts=("", "postgres", "", "@?", "a", ""))
@example(parts=("", "redis", "u", "@h/", "h", "/0"))
@example(parts=("", "postgres", "a", "//", "a", ""))
@settings(max_examples=500)
def test_canary_password_never_survives_in_a_url(parts: tuple[str, ...]) -> None:
    before, scheme, user, pad, host, path = parts
    text = f"{before} {scheme}://{user}:{pad}{CANARY}{pad[::-1]}@{host}{path} tail"
    assert CANARY not in mask_url_passwords(text)


@given(name=st.text(max_size=20), value=st.text(max_size=40))
def test_secret_named_values_are_always_fully_masked(name: str, value: str) -> None:
    masked = mask_env({name: value}, [name])
    assert masked[name] == MASK


@given(text=st.text(max_size=80))
def test_masking_never_fails_and_is_idempotent(text: str) -> None:
    once = mask_url_passwords(text)
    assert mask_url_passwords(once) == once


# -- a secret never reaches a message or an output (folded in from test_spec_review.py) --------


@pytest.mark.parametrize(
    ("key", "var", "value"),
    [
        ("scale", "API_TOKEN", CANARY),  # integer coercion
        ("oneshot", "API_TOKEN", CANARY),  # boolean coercion
        ("stop_timeout", "API_TOKEN", CANARY),  # duration parsing
        ("kill_mode", "API_TOKEN", CANARY),  # enum, reported by the strict schema
        ("scale", "DATABASE_URL", f"postgres://shop:{CANARY}@db/shop"),  # a URL password
    ],
)
def test_type_errors_never_print_a_substituted_secret(cli, project, key, var, value):
    """Issue 2: "Secrets are masked by default everywhere prodserver prints a value: names
    matching the usual patterns (...), the password part of URLs". An error message is printed
    too: `scale = "${API_TOKEN}"` must not put the token on the terminal or in CI logs."""
    root = project(f'[processes.web]\ncommand = "python -c pass"\n{key} = "${{{var}}}"\n')
    result = cli("check", cwd=root, env={var: value})
    assert result.code == ExitCode.CONFIG
    assert f"processes.web.{key}" in result.err
    assert CANARY not in result.out + result.err


def test_guard_secret_from_env_file_is_masked_in_every_output(cli, project):
    """Guard. Issue 2: "Add a test with a canary value that must never appear" - here the
    canary comes from a `.env` file (the existing test only uses the shell), and goes through
    `check`, `config` in both formats and `--explain`."""
    root = project(
        """
        [env]
        DATABASE_URL = "postgres://shop:${DB_PASSWORD}@db/shop"
        [processes.web]
        command = ["python", "-c", "pass", "${SECRET_KEY}"]
        """,
        **{".env": f"SECRET_KEY={CANARY}\nDB_PASSWORD={CANARY}\n"},
    )
    outputs = [cli("check", cwd=root)]
    for fmt in ("toml", "json"):
        outputs.append(cli("config", "--format", fmt, cwd=root))
        outputs.append(cli("config", "--format", fmt, "--explain", cwd=root))
    for result in outputs:
        assert result.code == 0, result.err
        assert CANARY not in result.out + result.err
