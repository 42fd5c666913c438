#!/usr/bin/env bash
# The Python suite (python/tests, pytest against real memcached): builds
# and installs the package into a virtual environment under target/ with
# `pip install .` (setuptools-rust; its cargo builds go to
# target/python-build, apart from the main build), then runs pytest.
# Run by `make test`; pytest's summary line is counted in its total.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/python-venv
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || { echo "python/test.sh: cannot make a virtual environment (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check pytest setuptools setuptools-rust wheel \
  pylibmc pymemcache
CARGO_TARGET_DIR="$PWD/target/python-build" \
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall .
# python-memcached's own test suite, run against this module by
# test_python_memcached_suite.py: its source distribution (tests included),
# downloaded once, never installed.
if ! ls target/python-memcached/python-memcached-1.62.tar.gz >/dev/null 2>&1; then
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    python-memcached==1.62 -d target/python-memcached
fi
export MEMCACHE_PM_SDIST="$PWD/target/python-memcached/python-memcached-1.62.tar.gz"
# From the tests' directory: `memcache` must come from the installed
# package, not from the source tree's python/memcache (no library there).
cd python/tests
# -rs: a skipped test prints its reason.
exec "../../$venv/bin/python" -m pytest -p no:cacheprovider -rs "$@"
