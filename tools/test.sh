#!/usr/bin/env bash
# Install everything the test suite needs into .venv and run all of it:
# lint (ruff), format check, types (mypy --strict), and pytest (including live tests that
# start real servers and a real redis-server, which the tests start and stop themselves).
# Used by the README and by .ci/run. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

# System packages the live and export tests use. Installed when missing and we are root.
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v foreman >/dev/null 2>&1 || need+=(ruby-foreman)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "warning: ${need[*]} missing and cannot be installed here; the tests that need them skip" >&2
  fi
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== bandit"
.venv/bin/bandit -q -c pyproject.toml -r prodserver
echo "== pip-audit"
# Advisories come from PyPI's JSON API (or OSV) over the network. A known vulnerability in the
# installed environment fails the run; advisory data that cannot be fetched (offline, a mirror
# without the JSON API) is a warning. pip-audit itself reports "No known vulnerabilities found"
# even when it could audit nothing, so the JSON report is read to tell the two apart.
audit_report=$(mktemp)
audit_rc=0
.venv/bin/pip-audit --skip-editable --progress-spinner off --format json --output "$audit_report" \
  2>"$audit_report.err" || audit_rc=$?
.venv/bin/python - "$audit_report" "$audit_rc" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    deps = json.load(open(path))["dependencies"]
except (OSError, ValueError, KeyError):
    err = open(path + ".err").read().strip().splitlines()
    print(f"warning: pip-audit could not fetch advisory data (exit {rc}): {err[-1] if err else '?'}")
    sys.exit(0)
vulns = [(d["name"], d["version"], v["id"]) for d in deps for v in d.get("vulns", [])]
for name, version, vid in vulns:
    print(f"vulnerable: {name} {version}: {vid}")
audited = [d for d in deps if "skip_reason" not in d]
if vulns:
    sys.exit(1)
if not audited:
    print(f"warning: pip-audit found no advisory data for any of {len(deps)} packages (offline or a mirror without PyPI's JSON API): not audited")
else:
    print(f"pip-audit: {len(audited)} packages audited, no known vulnerabilities ({len(deps) - len(audited)} without data)")
PY
rm -f "$audit_report" "$audit_report.err"
echo "== pytest"
.venv/bin/python -m pytest "$@"
# The runtime tests a second time on the portable OS plumbing (selectors, sessions, psutil:
# what macOS and Windows use), so that it is tested on every run here too. Skipped when an
# argument names what to test (a test file, directory or node id): that run is a targeted one.
targeted=0
for arg in "$@"; do
  case "$arg" in -*) ;; *) if [ -e "${arg%%::*}" ]; then targeted=1; fi ;; esac
done
if [ "$targeted" = 0 ]; then
  echo "== pytest (PRODSERVER_RUNTIME=portable: runtime, integration, health)"
  PRODSERVER_RUNTIME=portable .venv/bin/python -m pytest "$@" -m "not live" \
    tests/runtime tests/integration tests/health
fi
echo "== docs"
# The documentation site, with every warning (broken link, missing page, bad anchor) an error.
# Not --quiet: it hides the warnings from --strict, which then passes.
docs_site=$(mktemp -d)
trap 'rm -rf "$docs_site"' EXIT
.venv/bin/mkdocs build --strict --site-dir "$docs_site" 2>&1 | { grep -v '^INFO' || true; }
