"""Every error code of prodserver, named once, with its one meaning.

A problem's code (``error PS122: ...``) is how a user finds it in ``docs/errors.md``, which is
generated from this module (``tools/generate.py``; a test checks that it is current). Codes
never change meaning and are never reused: a code nothing raises any more stays here, marked
``retired``. Raise with the constant (``code=codes.UNKNOWN_KEY``), not the text.

Each entry names the error class that carries it to the command line (``error``), which is
where its exit code comes from: the classes in :mod:`prodserver.errors` hold the one mapping
of errors to exit codes, and :mod:`prodserver.exitcodes` the meaning of each exit code. A
``warning`` stops nothing.
"""

from __future__ import annotations

from prodserver.records import NamedTuple

# Imported by every module that raises, so by every command before it does anything: no
# dataclass here (a dataclass is ~1 ms of generated code at import), no `typing` (4.5 ms; the
# records are prodserver.records'); the catalogue's entries are built on first use of
# CATALOGUE (issue 17).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from prodserver.errors import ProdserverError


class ErrorCode(NamedTuple):
    """One code: its text (``PS122``), what it means, and how it reaches the user."""

    code: str
    meaning: str
    #: the :mod:`prodserver.errors` class raised with it (``None`` for a warning)
    error: str | None = None
    #: a warning: reported, and nothing stops
    warning: bool = False
    #: why the code is no longer raised (it keeps its number and meaning)
    retired: str | None = None

    @property
    def exit_code(self) -> int | None:
        """The exit code of a command this code stops (from its error class)."""
        if self.error is None:
            return None
        return int(error_classes()[self.error].exit_code)


#: code -> (meaning, error, warning, retired), in the order defined
_DEFINED: dict[str, tuple[str, str | None, bool, str | None]] = {}


def _code(
    code: str,
    meaning: str,
    *,
    error: str | None = None,
    warning: bool = False,
    retired: str | None = None,
) -> str:
    if code in _DEFINED:  # pragma: no cover - caught by importing the module at all
        raise ValueError(f"{code} is defined twice")
    _DEFINED[code] = (meaning, error, warning, retired)
    return code


def error_classes() -> dict[str, type[ProdserverError]]:
    """The error classes an entry may name, by name."""
    from prodserver.checks.report import PrestartFailed
    from prodserver.errors import (
        BackendUnavailable,
        ConfigError,
        OutputError,
        ProdserverError,
        SpawnError,
        UsageError,
    )

    classes: list[type[ProdserverError]] = [
        BackendUnavailable,
        ConfigError,
        OutputError,
        PrestartFailed,
        ProdserverError,
        SpawnError,
        UsageError,
    ]
    return {cls.__name__: cls for cls in classes}


#: the blocks of numbers, and what each is for (new codes go in their area's block)
RANGES: tuple[tuple[str, str], ...] = (
    ("PS100-PS109", "finding and reading the configuration file"),
    ("PS110-PS119", "profiles and the command line's choices"),
    ("PS120-PS129", "resolving processes: backends, keys, types, ports, dependencies"),
    ("PS130-PS134", "`${VAR}` substitution"),
    ("PS135-PS139", "schema validation"),
    ("PS140-PS149", "`.env` files; installed backends and programs"),
    ("PS150-PS159", "backend plugins"),
    ("PS160-PS169", "Procfiles"),
    ("PS170-PS179", "durations and sizes"),
    ("PS180-PS199", "django-prodserver's settings and `prodserver init`"),
    ("PS200-PS219", "warnings"),
    ("PS220-PS229", "backend options"),
    ("PS300-PS309", "pre-start checks (`check --deploy`, and before `up`)"),
    ("PS400-PS449", "limits and safety: hostile or runaway input, users, output paths"),
    ("PS450-PS499", "runtime settings: restart exit codes, watchdog, reload"),
    ("PS550-PS599", "values left to where an export runs (references)"),
    ("PS600-PS699", "exports"),
)

# -- the codes ----------------------------------------------------------------------------------

USAGE = _code(
    "PS000",
    "a command-line usage error (shown without a code)",
    error="UsageError",
)
CONFIG_INVALID = _code(
    "PS100",
    "the configuration is not valid (the summary line above the problems)",
    error="ConfigError",
)
FILE_UNREADABLE = _code(
    "PS101",
    (
        "a configuration or `.env` file is missing, is a directory or not a regular file (a FIFO, a"
        " device), or cannot be read; or the working directory to look for it from was removed"
    ),
    error="ConfigError",
)
FILE_NOT_TEXT = _code(
    "PS102",
    "the file is too large, holds a NUL byte, or is not UTF-8",
    error="ConfigError",
)
FILE_SYNTAX = _code(
    "PS103",
    "invalid TOML, JSON or YAML (with line and column)",
    error="ConfigError",
)
PROCFILE_SHELL_SYNTAX = _code(
    "PS104",
    "a Procfile command that sh cannot parse (an unterminated quote, `$(`, `${` or backquote)",
    error="ConfigError",
)
UNKNOWN_PROFILE = _code(
    "PS110",
    "unknown profile (the known ones are listed, with a suggestion)",
    error="ConfigError",
)
EXTENDS_CYCLE = _code(
    "PS111",
    "a cycle in `extends` (named: `staging -> prod -> staging`)",
    error="ConfigError",
)
SCALE_UNKNOWN_PROCESS = _code(
    "PS112",
    "`--scale` names an unknown process",
    error="ConfigError",
)
ENV_FILE_OUTSIDE_ROOT = _code(
    "PS113",
    "an env file outside the project root (name it by an absolute path to allow it)",
    error="ConfigError",
)
ROOT_IN_PRODUCTION = _code(
    "PS114",
    "running as root in a production profile (drop privileges with `user =`, or `--allow-root`)",
    error="ConfigError",
)
UNKNOWN_BACKEND = _code(
    "PS120",
    "unknown backend (with a suggestion)",
    error="ConfigError",
)
NOT_TEXT = _code(
    "PS121",
    "a value of the wrong kind where text is expected (an `env` value that is a table)",
    error="ConfigError",
)
UNKNOWN_KEY = _code(
    "PS122",
    "unknown key (with a suggestion)",
    error="ConfigError",
)
BAD_PORT = _code(
    "PS123",
    "a port that is not a port, or a port assignment that cannot work",
    error="ConfigError",
)
WRONG_TYPE = _code(
    "PS124",
    "a value of the wrong type: the message names the expected type (with its range)",
    error="ConfigError",
)
COMMAND_UNSPLITTABLE = _code(
    "PS125",
    "a command string cannot be split into words",
    error="ConfigError",
)
EMPTY_COMMAND = _code(
    "PS126",
    "an empty command, or `shell = true` without a command",
    error="ConfigError",
)
UNKNOWN_SIGNAL = _code(
    "PS127",
    "an unknown signal name",
    error="ConfigError",
)
UNKNOWN_DEPENDENCY = _code(
    "PS128",
    "`depends_on` names an unknown process, or the process itself",
    error="ConfigError",
)
DEPENDENCY_CYCLE = _code(
    "PS129",
    "a cycle in `depends_on`",
    error="ConfigError",
)
BAD_SUBSTITUTION = _code(
    "PS130",
    "a malformed `${...}` expression",
    error="ConfigError",
)
REQUIRED_VARIABLE_MISSING = _code(
    "PS131",
    "`${VAR:?message}`: a required variable is not set",
    error="ConfigError",
)
SUBSTITUTION_TOO_LONG = _code(
    "PS132",
    (
        "substitution produced more text than the limit, 1 MiB for one string or 32 MiB in all (an "
        "expansion bomb)"
    ),
    error="ConfigError",
)
SUBSTITUTION_TOO_DEEP = _code(
    "PS133",
    "`${...}` defaults nested too deeply",
    error="ConfigError",
)
SCHEMA_INVALID = _code(
    "PS135",
    "a value the schema does not accept (other than the cases below)",
    error="ConfigError",
)
INVALID_NAME = _code(
    "PS136",
    "an invalid name (a process or profile name, an environment variable name)",
    error="ConfigError",
)
OUT_OF_RANGE = _code(
    "PS137",
    "a number out of range (`scale` and `--scale` included: 0 to 1,000)",
    error="ConfigError",
)
NOT_A_CHOICE = _code(
    "PS138",
    "a value that is not one of the allowed choices (with a suggestion)",
    error="ConfigError",
)
MISSING_KEY = _code(
    "PS139",
    "a required key is missing",
    error="ConfigError",
)
EMPTY_ENV_FILE_NAME = _code(
    "PS140",
    "an empty env file name in `env_files`",
    error="ConfigError",
)
ENV_LINE_SYNTAX = _code(
    "PS141",
    "an `.env` line that cannot be parsed",
    error="ConfigError",
)
ENV_LINE_WITHOUT_EQUALS = _code(
    "PS142",
    "an `.env` line with a name and no `=`",
    error="ConfigError",
)
ENV_NAME_INVALID = _code(
    "PS143",
    "an invalid variable name in an `.env` file",
    error="ConfigError",
)
BACKEND_NOT_INSTALLED = _code(
    "PS145",
    (
        "a backend's package is not installed, reported once per backend with the extra to install:"
        " a warning in `check`, an error in `check --deploy` and `up`"
    ),
    error="BackendUnavailable",
)
PROGRAM_NOT_FOUND = _code(
    "PS146",
    (
        "a process's program is not on its PATH (not repeated for a backend whose package is "
        "missing: PS145 says it)"
    ),
    warning=True,
)
PLUGIN_NOT_A_BACKEND = _code(
    "PS150",
    "an entry point in `prodserver.backends` that is not a backend",
    error="ConfigError",
)
PLUGIN_IMPORT_FAILED = _code(
    "PS151",
    "a backend plugin that fails to import",
    error="ConfigError",
)
PROCFILE_BAD_LINE = _code(
    "PS160",
    "a Procfile line that is not `name: command`",
    error="ConfigError",
)
PROCFILE_BAD_NAME = _code(
    "PS161",
    "a Procfile process name that is not safe as a file or unit name",
    error="ConfigError",
)
PROCFILE_DUPLICATE_NAME = _code(
    "PS162",
    "a Procfile process name used twice (both lines named)",
    error="ConfigError",
)
PROCFILE_EMPTY = _code(
    "PS163",
    "an empty Procfile",
    error="ConfigError",
)
PROCFILE_NO_COMMAND = _code(
    "PS164",
    "a Procfile entry without a command",
    error="ConfigError",
)
PROCFILE_NAMES_DIFFER_IN_CASE = _code(
    "PS165",
    "Procfile names that differ only in case",
    warning=True,
)
NOT_A_DURATION = _code(
    "PS170",
    'not a duration (`"500ms"`, `"10s"`, `"2m"`, `"1h"` or seconds)',
    error="ConfigError",
)
NOT_A_SIZE = _code(
    "PS171",
    'not a size (`"512MB"`, `"1GiB"` or bytes)',
    error="ConfigError",
)
DJANGO_UNKNOWN_BACKEND = _code(
    "PS180",
    "a django-prodserver `BACKEND` path prodserver does not know",
    error="ConfigError",
)
DJANGO_SETTING_SHAPE = _code(
    "PS181",
    "`PRODUCTION_PROCESSES` has the wrong shape",
    error="ConfigError",
)
DJANGO_NO_SETTING = _code(
    "PS182",
    "`init --from-django`: the settings have no `PRODUCTION_PROCESSES`",
    error="ConfigError",
)
DJANGO_SETTINGS_UNLOADABLE = _code(
    "PS183",
    "`init --from-django`: the settings module cannot be loaded",
    error="ConfigError",
)
INIT_YAML_NEEDS_PYYAML = _code(
    "PS190",
    "`init --format yaml` without PyYAML",
    error="BackendUnavailable",
)
INIT_TARGET_EXISTS = _code(
    "PS191",
    "`init`: the target exists (use `--force`)",
    error="OutputError",
)
INIT_TARGET_UNWRITABLE = _code(
    "PS192",
    "`init`: the target is a directory or cannot be written",
    error="OutputError",
)
INIT_BAD_ANSWER = _code(
    "PS193",
    "`init`: an invalid answer given as a flag",
    error="UsageError",
)
PROCFILE_SHELL_WARNING = _code(
    "PS201",
    "a Procfile line uses shell syntax",
    warning=True,
    retired="running a Procfile line through `/bin/sh -c` is what Procfile runners do",
)
VARIABLE_UNSET = _code(
    "PS202",
    "a variable is not set and was substituted as empty",
    warning=True,
)
DEPENDENCY_DISABLED = _code(
    "PS203",
    "a dependency on a process disabled in this profile is ignored",
    warning=True,
)
DJANGO_SETTING_DEPRECATED = _code(
    "PS210",
    "`PRODUCTION_PROCESSES` is deprecated (write a `prodserver.toml`)",
    warning=True,
)
DJANGO_ARG_IGNORED = _code(
    "PS211",
    "a django-prodserver `ARGS` key prodserver ignores",
    warning=True,
)
DJANGO_BACKEND_MAPPED = _code(
    "PS212",
    "a django-prodserver backend mapped to its closest equivalent",
    warning=True,
)
OPTION_REQUIRED = _code(
    "PS220",
    "a backend option the process must set (for example `app` outside a Django project)",
    error="ConfigError",
)
LEADING_DASH = _code(
    "PS221",
    "a value that would start with `-` where a positional argument is expected",
    error="ConfigError",
)
BAD_BIND = _code(
    "PS222",
    "a malformed bind address",
    error="ConfigError",
)
OPTIONS_CONFLICT = _code(
    "PS223",
    "a backend option combination that cannot work (for example QUIC without a certificate)",
    error="ConfigError",
)
PORT_NOT_FREE = _code(
    "PS301",
    "a port a process will listen on is not free",
    error="PrestartFailed",
)
REQUIRED_VARIABLE_UNSET = _code(
    "PS302",
    "a variable the configuration uses is not set",
    error="PrestartFailed",
)
SERVICE_UNREACHABLE = _code(
    "PS303",
    "a broker or database named in the environment cannot be reached, or refused the credentials",
    error="PrestartFailed",
)
DJANGO_DEPLOY_CHECK_FAILED = _code(
    "PS304",
    "Django's `manage.py check --deploy` failed or could not run",
    error="PrestartFailed",
)
YAML_TOO_LARGE = _code(
    "PS400",
    "a YAML file whose aliases expand to more than 100,000 values, or hold themselves",
    error="ConfigError",
)
EXTENDS_TOO_DEEP = _code(
    "PS401",
    "an `extends` chain deeper than 64 profiles",
    error="ConfigError",
)
DURATION_OUT_OF_BOUNDS = _code(
    "PS402",
    "a duration outside its bounds (`interval` at least 100ms, anything at most 7 days)",
    error="ConfigError",
)
UNKNOWN_USER = _code(
    "PS403",
    "`user =` names an account that does not exist on this machine",
    error="ConfigError",
)
EXACTLY_ONE_KEY = _code(
    "PS404",
    "a table that needs exactly one of several keys (a health probe kind) has none or several",
    error="ConfigError",
)
REFERENCE_NOT_ALONE = _code(
    "PS405",
    "an export can leave a value for the platform only as one `${VAR}` reference",
    error="ConfigError",
)
OUTPUT_NOT_REGULAR = _code(
    "PS407",
    "an output path (`export -o`, `--log-file`) that is not a regular file or directory",
    error="OutputError",
)
LOG_FILE_UNOPENABLE = _code(
    "PS408",
    "`--log-file` cannot be opened",
    error="OutputError",
)
BAD_EXIT_CODE_LIST = _code(
    "PS450",
    "`restart.success_exit_codes` or `restart.prevent_exit_codes` is not a list of integers 0-255",
    error="ConfigError",
)
BAD_WATCHDOG = _code(
    "PS451",
    "`healthcheck.watchdog` without `notify = true`, or not longer than 0s",
    error="ConfigError",
)
BAD_PROBE_ADDRESS = _code(
    "PS452",
    '`healthcheck.tcp` is not `host:port` (for example `"localhost"` without a port)',
    error="ConfigError",
)
RUNTIME_UNKNOWN = _code(
    "PS460",
    "`PRODSERVER_RUNTIME` is neither `native` nor `portable` (unset: the system's default; see "
    "[Windows and macOS](guides/windows.md#two-runtimes))",
    error="UsageError",
)
RUNTIME_NATIVE_UNAVAILABLE = _code(
    "PS461",
    "`PRODSERVER_RUNTIME=native` on a system other than Linux (the native runtime needs epoll, "
    "a subreaper and `/proc`)",
    error="UsageError",
)
RUNTIME_WINDOWS_UNFINISHED = _code(
    "PS462",
    "`prodserver up` or `run` on Windows, where the runtime is unfinished (use WSL 2 or Docker "
    "Desktop; `PRODSERVER_RUNTIME=portable` tries it anyway): see "
    "[Windows and macOS](guides/windows.md#windows)",
    error="UsageError",
    retired="`up`, `run`, `exec` and `status` run on Windows on the portable runtime",
)
PRIVATE_USE_CHARACTER = _code(
    "PS550",
    (
        "a value holds a private-use character (U+F0000-U+FFFFD) that prodserver uses internally to"
        " carry references"
    ),
    error="ConfigError",
)
EXPORT_ENV_NAME = _code(
    "PS552",
    (
        "an environment variable name an export cannot carry (only letters, digits and `_`, not "
        "starting with a digit)"
    ),
    error="ConfigError",
)
EXPORT_BAD_NAME = _code(
    "PS601",
    "a process name that cannot be a file, unit or object name in an export",
    error="ConfigError",
)
EXPORT_PATH_ESCAPES = _code(
    "PS602",
    "an export path that leaves the output directory",
    error="OutputError",
)
EXPORT_WOULD_OVERWRITE = _code(
    "PS603",
    "refusing to overwrite a file prodserver did not write (use `--force`)",
    error="OutputError",
)
THROUGH_SYMLINK = _code(
    "PS604",
    "refusing to write through a symbolic link",
    error="OutputError",
)
YAML_NEEDS_PYYAML = _code(
    "PS605",
    "the YAML exports (Compose, Kubernetes) need PyYAML, which is not installed",
    error="BackendUnavailable",
)
PROCFILE_LINE_BREAK = _code(
    "PS610",
    (
        "a command or environment value with a line break (`\\n`, `\\r`, `\\v`, `\\f`, "
        "`\\x1c`-`\\x1e`, `\\x85`, U+2028, U+2029) cannot be a Procfile line"
    ),
    error="ConfigError",
)
SYSTEMD_CHARACTER = _code(
    "PS611",
    "a character systemd cannot carry",
    error="ConfigError",
)
SUPERVISORD_SETTING = _code(
    "PS612",
    (
        "a setting supervisord cannot carry (a carriage return anywhere, a line break in a path or "
        "user)"
    ),
    error="ConfigError",
)
KUBERNETES_NAME = _code(
    "PS620",
    "a name Kubernetes does not accept",
    error="ConfigError",
)
CONFIGMAP_KEY = _code(
    "PS621",
    "an environment name that cannot be a ConfigMap key",
    error="ConfigError",
)
EXPORT_AS_ROOT = _code(
    "PS630",
    "a production profile exported to systemd or supervisord would run as root: set `[export] "
    "user` (or `user =` on the process), or pass `--allow-root`",
    error="ConfigError",
)
EXPORT_BAD_VALUE = _code(
    "PS631",
    "an `[export]` value that cannot be used (a value the schema did not check, read from "
    "`[tool.prodserver]` or a profile)",
    error="ConfigError",
)
EXPORT_UNKNOWN_SINGLETON = _code(
    "PS632",
    "`[export] singletons` names a process the profile does not have",
    error="ConfigError",
)
EXPORT_CWD_OUTSIDE_ROOT = _code(
    "PS633",
    "a process whose `cwd` is outside the project root cannot be placed under the root on the "
    "target",
    error="ConfigError",
)
SINGLETON_SCALED = _code(
    "PS634",
    "a singleton (celery-beat, rq-scheduler, or one listed in `[export] singletons`) with "
    "`scale` above 1 or `autoscale`",
    error="ConfigError",
)
EXPORT_DEPENDS_ON_SECRET = _code(
    "PS699",
    (
        "guard: the export would depend on a secret's value (checked by rendering again with every "
        "secret value swapped; nothing is written; `--include-secrets` writes secret values)"
    ),
    error="OutputError",
)


#: every code, by its text, in number order (built on first use)
CATALOGUE: Mapping[str, ErrorCode]
_BUILT: list[Mapping[str, ErrorCode]] = []


def __getattr__(name: str) -> Mapping[str, ErrorCode]:
    if name != "CATALOGUE":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return catalogue()


def catalogue() -> Mapping[str, ErrorCode]:
    """Every code, by its text, in number order (:data:`CATALOGUE`)."""
    if not _BUILT:
        from types import MappingProxyType

        entries = {code: ErrorCode(code, *rest) for code, rest in sorted(_DEFINED.items())}
        _BUILT.append(MappingProxyType(entries))
    return _BUILT[0]


# -- docs/errors.md -----------------------------------------------------------------------------

_INTRO = """\
# Error codes

<!-- generated from prodserver/codes.py by tools/generate.py: edit that file, not this one -->

Every problem prodserver reports carries a stable code (`error PS122: prodserver.toml:4:
processes.web.scael: unknown key 'scael'` followed by a `hint:`). Codes never change meaning;
new ones are added. The exit column is the exit code of a command the problem stops (all exit
codes are listed in the README); a warning stops nothing.
Django's `manage.py check` reports configuration problems as `prodserver.E001` (an invalid
configuration, with these codes in the message), `prodserver.W001` (a backend package is
missing) and so on.
"""


def errors_reference() -> str:
    """The text of ``docs/errors.md``."""
    out = [_INTRO, "| range | area |", "| --- | --- |"]
    out += [f"| {numbers} | {area} |" for numbers, area in RANGES]
    out += ["", "| code | meaning | exit |", "| --- | --- | --- |"]
    for entry in catalogue().values():
        meaning = entry.meaning
        if entry.retired:
            meaning = f"no longer raised ({entry.retired}); was: {meaning}"
        elif entry.warning:
            meaning = f"warning: {meaning}"
        exit_code = "-" if entry.exit_code is None or entry.retired else str(entry.exit_code)
        out.append(f"| {entry.code} | {meaning} | {exit_code} |")
    return "\n".join(out) + "\n"
