#!/usr/bin/env bash
# Run the Django integration and `prodserver init` tests against each supported Django line:
# the LTS (4.2) and the latest 5.x. Each gets its own throw-away virtualenv, installed from
# PyPI (or pip's cache) only. Not part of tools/test.sh: the two installs take minutes the
# everyday suite should not pay; the suite itself runs the same tests on the Django in .venv.
#
#   tools/django_matrix.sh                 # 4.2 and latest 5.x
#   DJANGO_SPECS="django~=4.2.0" tools/django_matrix.sh
#   tools/django_matrix.sh -k checks       # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SPECS=${DJANGO_SPECS:-"django>=4.2,<5.0 django>=5.0,<6.0"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/prodserver-django-matrix.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

status=0
for spec in $SPECS; do
  venv="$WORK/venv-$(echo "$spec" | tr -c 'A-Za-z0-9.' '_')"
  echo "== $spec"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # one resolver run, so that every extra is chosen compatible with this Django line; when
  # some extra has no release for this line (or the index lacks one of its dependencies),
  # install the others: the tests that need the missing backend skip and say so
  extras="gunicorn,uvicorn,granian,hypercorn,daphne,waitress,celery,flower,rq,rq-scheduler,dramatiq,django-q2,django-tasks"
  if ! "$venv/bin/python" -m pip install --quiet -e ".[$extras]" "$spec" pyyaml pytest pytest-timeout 2>"$WORK/pip.err"; then
    echo "   (django-tasks not installable with $spec here; its tests will skip)"
    "$venv/bin/python" -m pip install --quiet -e ".[${extras%,django-tasks}]" "$spec" pyyaml pytest pytest-timeout
  fi
  "$venv/bin/python" -c 'import django; print("Django", django.get_version())'
  if ! "$venv/bin/python" -m pytest -q -rs -p no:cacheprovider tests/django tests/init "$@"; then
    status=1
  fi
done
exit $status
