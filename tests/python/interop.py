"""The python-memcached side of tests/python_interop.rs.

    python3 interop.py store|check SERVER S1 S2 S3

`store` writes what the Tcl side checks (tests/python/interop.tcl);
`check` reads back what the Tcl side wrote. SERVER is one memcached,
S1 S2 S3 three more in that order (the same order the Tcl side uses).
Prints one line per failed check, then "ok N checks"; exits 1 on a failure.
"""

import sys
import zlib

import memcache  # python-memcached

failures = []
checks = 0


def check(what, got, want):
    global checks
    checks += 1
    if type(got) is not type(want) or got != want:
        failures.append(f"{what}: got {got!r} ({type(got).__name__}), want {want!r} ({type(want).__name__})")


def pick(key, n):
    """python-memcached's choice of server for key among n (no dead servers)."""
    return ((zlib.crc32(key.encode("utf-8")) & 0xFFFFFFFF) >> 16 & 0x7FFF) % n


def main():
    phase, server, *three = sys.argv[1:]
    assert phase in ("store", "check") and len(three) == 3, sys.argv
    one = memcache.Client([server])
    multi = memcache.Client(three)
    singles = [memcache.Client([s]) for s in three]
    # The hash rule this test relies on is python-memcached's own.
    check("serverHashFunction is cmemcache_hash", memcache.serverHashFunction, memcache.cmemcache_hash)
    keys = [f"py-key-{i}" for i in range(100)] + ["py-\u00e9\u20ac"]
    tcl_keys = [f"tcl-key-{i}" for i in range(100)] + ["tcl-\u00e9\u20ac"]

    if phase == "store":
        check("set s", one.set("s", "text \u00e9 \U0001F600"), True)
        check("set b", one.set("b", b"\x00\xff\r\nEND\r\n"), True)
        check("set i", one.set("i", 42), True)
        check("set e", one.set("e", ""), True)
        # Compressed (zlib, flag 8): text (24) and bytes (8).
        check("set z", one.set("z", "compressed \u00e9 " * 200, min_compress_len=1), True)
        check("set zb", one.set("zb", b"\x00\x01" * 1000, min_compress_len=1), True)
        for key in keys:
            check(f"set {key}", multi.set(key, f"py value {key}"), True)
        # Where python-memcached put them: the server of the hash rule.
        for key in keys:
            at = [n for n, c in enumerate(singles) if c.get(key) is not None]
            check(f"server of {key}", at, [pick(key, 3)])
    else:
        check("get ts", one.get("ts"), "tcl text \u00e9 \U0001F600 \x00 end")
        check("get tb", one.get("tb"), bytes(range(256)))
        check("get tn", one.get("tn"), 17)
        check("get tl", one.get("tl"), "a {b c} d")
        check("get tz (compressed by Tcl)", one.get("tz"), "tcl compressed \u00e9 " * 100)
        got = multi.get_multi(tcl_keys)
        check("get_multi of the Tcl keys", got, {k: f"tcl value {k}" for k in tcl_keys})
        for key in tcl_keys:
            check(f"get {key}", multi.get(key), f"tcl value {key}")

    for line in failures:
        print(line)
    print(f"ok {checks} checks" if not failures else f"{len(failures)} of {checks} checks failed")
    sys.exit(1 if failures else 0)


main()
