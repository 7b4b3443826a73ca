"""Which values are secret, and how to print them without revealing them.

A variable is secret when its name matches one of :data:`SECRET_PATTERNS` (case-insensitive
globs) or one of the user's own globs (``secrets = ["STRIPE_*"]``). Its value is printed as
:data:`MASK`, which reveals neither its length nor any prefix. Independently of names, the
password of every URL in any printed value (``postgres://user:PASSWORD@host/db``) is masked.

:class:`Masker` is the one routine every message goes through (``config``, ``check``, the
pre-start checks, ``up``'s events, ``status``, metrics, the audit log, ``exec``): it hides

- the value of every secret variable wherever it appears in a text: a value of
  :data:`MIN_HUNTED` characters or more anywhere, even inside a longer word; a shorter one
  (``pw``) wherever it stands as a whole word (not touching a letter or a digit), so that
  ``postgres://app:pw@db`` or ``password pw refused`` hide it while ``pwd`` or ``1024`` stay
  readable. Hunting a two-letter value inside every word would mask half of every message;
  a secret that short is guessable anyway. A short value that is only digits or a boolean
  word (``1``, ``0``, ``yes``, ``on``) is a flag (``REQUIRE_AUTH=1``), not a secret: hunting
  it would hide every instance number (``web.1``);
- the password of every URL (:func:`mask_url_passwords`), whatever the variable.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from fnmatch import fnmatchcase

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "MASK",
    "MIN_HUNTED",
    "SECRET_PATTERNS",
    "Masker",
    "is_secret_name",
    "mask_env",
    "mask_url_passwords",
    "mask_value",
]

MASK = "********"
#: secret values at least this long are hidden anywhere in a text, shorter ones as whole words
MIN_HUNTED = 4

#: Case-insensitive globs of variable names whose values are secret. Chosen to catch the usual
#: spellings (``SECRET_KEY``, ``DB_PASSWORD``, ``GITHUB_TOKEN``, ``STRIPE_API_KEY``,
#: ``SENTRY_DSN``, ``AWS_SECRET_ACCESS_KEY``, ``BASIC_AUTH``) without masking ordinary settings:
#: ``AUTH`` and ``PASS`` only count as a whole word, so ``AUTHOR`` or ``PASSTHROUGH`` are not
#: secret, and ``PWD`` (the shell's working directory) is not either.
SECRET_PATTERNS: tuple[str, ...] = (
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*PASSPHRASE*",
    "*TOKEN*",
    "*APIKEY*",
    "*API_KEY*",
    "*PRIVATE*",
    "*CREDENTIAL*",
    "*_KEY",
    "KEY",
    "*_DSN",
    "DSN",
    "*_PASS",
    "*_PWD",
    "AUTH",
    "AUTH_*",
    "*_AUTH",
    "*_AUTH_*",
)

# The start of a URL. A scheme is short; bounding it keeps the search linear on any input.
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}://")
_TOKEN_END = re.compile(r"[\s'\"<>]")


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """True when ``name`` matches a built-in pattern or one of the ``extra`` globs (any case)."""
    upper = name.upper()
    return any(fnmatchcase(upper, pattern) for pattern in SECRET_PATTERNS) or any(
        upper == glob.upper() or fnmatchcase(upper, glob.upper()) for glob in extra
    )


def mask_value(value: str) -> str:
    """The printable form of a secret value: always :data:`MASK`, whatever the value."""
    del value  # deliberately unused: nothing about the value may leak, not even its length
    return MASK


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` URL masked.

    The userinfo is taken to end at the last ``@`` of the URL, so a password holding unencoded
    ``@``, ``/``, ``?`` or ``#`` is masked whole. Masking a little too much beats a leak:
    ``http://host:80/?to=a@b.org`` prints as ``http://host:********@b.org``. Only a password
    holding whitespace or a quote, which no valid URL has, can escape.
    """
    if "://" not in text:
        return text
    out: list[str] = []
    pos = 0
    while (match := _URL_START.search(text, pos)) is not None:
        span = _password_span(text, match.end())
        if span is None:
            out.append(text[pos : match.end()])
            pos = match.end()
            continue
        start, end = span
        out.append(text[pos:start])
        out.append(MASK)
        pos = end  # continue at the "@": more URLs may follow in the same token
    out.append(text[pos:])
    return "".join(out)


def _password_span(text: str, start: int) -> tuple[int, int] | None:
    """Where the password is in the URL whose authority starts at ``start``, if it has one."""
    token_end = _TOKEN_END.search(text, start)
    rest = text[start : token_end.start() if token_end else len(text)]
    # The last "@" of the whole token rather than the first after the host: a password may
    # hold unencoded "@", "/", "?", "#" or even "x://", and masking too much beats a leak. So
    # "amqp://u:p@a//;amqp://u:q@b//" prints as "amqp://u:********@b//".
    at = rest.rfind("@")
    colon = rest.find(":", 0, max(at, 0))
    if colon < 0:
        return None  # no "@", or a user name alone (https://user@host): nothing secret
    return start + colon + 1, start + at


_FLAG_WORDS = frozenset({"true", "false", "yes", "no", "on", "off"})


def _is_flag(value: str) -> bool:
    """A short value that switches something (``1``, ``off``) rather than proving anything."""
    return (value.isascii() and value.isdigit()) or value.lower() in _FLAG_WORDS


def mask_env(env: Mapping[str, str], secret_names: Collection[str]) -> dict[str, str]:
    """A copy of ``env`` fit to print.

    A value is masked whole when its name is in ``secret_names`` (names or globs, any case) or
    matches :data:`SECRET_PATTERNS`; every other value has its URL passwords masked.
    """
    return {
        name: mask_value(value) if is_secret_name(name, secret_names) else mask_url_passwords(value)
        for name, value in env.items()
    }


class Masker:
    """Hides secret values wherever they appear: by name, inside URLs, and inside other text.

    ``secret_names`` are the names whose values are secret, ``env`` the values they have
    (every layer the message may have seen). ``show`` turns masking off
    (``--show-secrets``).
    """

    def __init__(self, secret_names: Iterable[str], env: Mapping[str, str], *, show: bool) -> None:
        self.show = show
        self.names = frozenset(secret_names)
        values = {env[n] for n in self.names if env.get(n)}
        long = sorted((v for v in values if len(v) >= MIN_HUNTED), key=len, reverse=True)
        short = sorted(
            (v for v in values if len(v) < MIN_HUNTED and not _is_flag(v)), key=len, reverse=True
        )
        alternatives = [re.escape(v) for v in long]
        # a short value only as a whole word: not preceded or followed by a letter or digit
        alternatives += [rf"(?<![^\W_]){re.escape(v)}(?![^\W_])" for v in short]
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    def text(self, value: str) -> str:
        """``value`` fit to print."""
        if self.show:
            return value
        if self._pattern is not None:
            value = self._pattern.sub(MASK, value)
        return mask_url_passwords(value)

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        """A copy of ``env`` fit to print: secret names masked whole, the rest as text."""
        if self.show:
            return dict(env)
        return {k: (MASK if k in self.names else self.text(v)) for k, v in env.items()}

    def any(self, value: Any) -> Any:
        """Strings anywhere inside ``value`` (tables, arrays) masked with :meth:`text`."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.any(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.any(v) for v in value]
        return value
