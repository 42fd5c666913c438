"""The pylibmc, pymemcache and python-memcached side of
tests/python_interop.rs's peer test.

    python3 peers.py store|check SERVER

`store` writes, with each client, text and bytes, short and compressed
(zlib, flag 8): what the Tcl side (tests/python/peers.tcl) and the C side
(tests/c/peers.c) read back. `check` reads what those two wrote, compressed
by this library (-compress, mc_set_compress), with each client. Prints one
line per failed check, then "ok N checks"; exits 1 on a failure.
"""

import sys

import memcache as python_memcached  # python-memcached
import pylibmc
from pymemcache.client.base import Client as PymemcacheClient
from pymemcache.serde import CompressedSerde

failures = []
checks = 0

TEXT = "caf\u00e9 \U0001F600 " * 300
BYTES = bytes(range(256)) * 20


def check(what, got, want):
    global checks
    checks += 1
    if type(got) is not type(want) or got != want:
        failures.append(f"{what}: got {got!r:.80} ({type(got).__name__}), "
                        f"want {want!r:.80} ({type(want).__name__})")


def main():
    phase, server = sys.argv[1:]
    host, port = server.rsplit(":", 1)
    lm = pylibmc.Client([server])
    pm = PymemcacheClient((host, int(port)), default_noreply=False,
                          serde=CompressedSerde(min_compress_len=100))
    py = python_memcached.Client([server])
    if phase == "store":
        check("pylibmc text", lm.set("lm:text", "short \u00e9"), True)
        check("pylibmc bytes", lm.set("lm:bytes", b"\x00\xff short"), True)
        check("pylibmc ztext", lm.set("lm:ztext", TEXT, min_compress_len=100), True)
        check("pylibmc zbytes", lm.set("lm:zbytes", BYTES, min_compress_len=100), True)
        check("pymemcache text", pm.set("pm:text", "short \u00e9"), True)
        check("pymemcache bytes", pm.set("pm:bytes", b"\x00\xff short"), True)
        check("pymemcache ztext", pm.set("pm:ztext", TEXT), True)
        check("pymemcache zbytes", pm.set("pm:zbytes", BYTES), True)
        check("python-memcached text", py.set("py:text", "short \u00e9"), True)
        check("python-memcached bytes", py.set("py:bytes", b"\x00\xff short"), True)
        check("python-memcached ztext", py.set("py:ztext", TEXT, min_compress_len=100), True)
        check("python-memcached zbytes", py.set("py:zbytes", BYTES, min_compress_len=100), True)
    else:
        for who in ("tcl", "c"):
            for name, client in (("pylibmc", lm), ("pymemcache", pm), ("python-memcached", py)):
                check(f"{name} reads {who}:ztext", client.get(f"{who}:ztext"), TEXT)
                check(f"{name} reads {who}:zbytes", client.get(f"{who}:zbytes"), BYTES)
    for line in failures:
        print(line)
    if failures:
        print(f"{len(failures)} of {checks} checks failed")
        sys.exit(1)
    print(f"ok {checks} checks")


main()
