"""python-memcached 1.62's own test suite (tests/ of its source
distribution, downloaded by python/test.sh) run against this module with
only its server address changed.

Three of its tests exercise python-memcached's socket layer, not its
interface, and are left out, each for its reason:

- test_memcache.py::TestMemcache::test_touch and
  test_touch_unexpected_reply patch ``_Host.send_cmd`` and
  ``_Host.readline`` (python-memcached's socket reader) and assert on the
  bytes passed to them; this module's connections are the library's.
- test_setmulti.py::test_Memcached_Set_Multi::test_Socket_Disconnect
  replaces ``socket.socket`` with a fake and names an unresolvable host,
  "memcached" (a host here must resolve when the client is made).

The suite's tests/utils.py is not in the distribution: its one helper,
``captured_stderr``, is written below.
"""

import os
import subprocess
import sys
import tarfile

import pytest

UTILS = '''
import contextlib, io, sys

@contextlib.contextmanager
def captured_stderr():
    saved, sys.stderr = sys.stderr, io.StringIO()
    try:
        yield sys.stderr
    finally:
        sys.stderr = saved
'''

SOCKET_LAYER = [
    "tests/test_memcache.py::TestMemcache::test_touch",
    "tests/test_memcache.py::TestMemcache::test_touch_unexpected_reply",
    "tests/test_setmulti.py::test_Memcached_Set_Multi::test_Socket_Disconnect",
]


def test_python_memcacheds_suite_passes(server, tmp_path):
    sdist = os.environ.get("MEMCACHE_PM_SDIST")
    if not sdist or not os.path.exists(sdist):
        pytest.fail("python-memcached 1.62's source distribution is missing: run python/test.sh")
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            parts = member.name.split("/")
            if len(parts) == 3 and parts[1] == "tests" and parts[2].endswith(".py"):
                data = archive.extractfile(member).read().decode()
                (tmp_path / "tests").mkdir(exist_ok=True)
                (tmp_path / "tests" / parts[2]).write_text(data.replace("127.0.0.1:11211", server.spec))
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "utils.py").write_text(UTILS)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests",
         *(f"--deselect={t}" for t in SOCKET_LAYER)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    summary = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 0, run.stdout + run.stderr
    assert summary.startswith("23 passed, 3 deselected"), run.stdout
