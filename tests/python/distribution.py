"""The python-memcached side of tests/python_interop.rs's distribution test.

    python3 distribution.py PHASE SERVER*WEIGHT ...

Servers are given as this library writes them ("127.0.0.1:PORT*3") and
handed to python-memcached as (spec, weight) tuples, in the same order.
Prints one line per failed check, then "ok N checks"; exits 1 on a failure.

PHASE store: stores "py-dist-<i>" (2000 keys) and, with (hashvalue, key)
             tuples, "py-placed-<i>" (hash values from HASHVALUES).
PHASE check: reads what the Rust side stored: "rust-dist-<i>" and
             (hashvalue, "rust-placed-<i>").
PHASE store-rehash / check-rehash: the same with "py-rehash-<i>" and
             "rust-rehash-<i>" (500 keys), for a server list where a
             server is down: python-memcached marks it dead and rehashes.
"""

import sys

import memcache  # python-memcached

KEYS = 2000
REHASH_KEYS = 500
# Hash values for (hashvalue, key): small, negative, beyond 64 bits.
HASHVALUES = [0, 1, 2, 7, 42, 12345, -1, -7, 2**70 + 3, -(2**65)]

failures = []
checks = 0


def check(what, got, want):
    global checks
    checks += 1
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


def main():
    phase, *specs = sys.argv[1:]
    servers = []
    for spec in specs:
        host, weight = spec.rsplit("*", 1)
        servers.append((host, int(weight)))
    mc = memcache.Client(servers)
    # The rule this test relies on is python-memcached's own default.
    check("serverHashFunction", memcache.serverHashFunction, memcache.cmemcache_hash)

    if phase == "store":
        for i in range(KEYS):
            key = f"py-dist-{i}"
            check(f"set {key}", mc.set(key, f"py {key}"), True)
        for i in range(200):
            hv = HASHVALUES[i % len(HASHVALUES)]
            key = f"py-placed-{i}"
            check(f"set ({hv}, {key})", mc.set((hv, key), f"py {hv} {key}"), True)
    elif phase == "check":
        keys = [f"rust-dist-{i}" for i in range(KEYS)]
        got = mc.get_multi(keys)
        check("get_multi of the Rust keys", len(got), KEYS)
        for key in keys:
            check(f"get {key}", got.get(key), f"rust {key}")
        for i in range(200):
            hv = HASHVALUES[i % len(HASHVALUES)]
            key = f"rust-placed-{i}"
            check(f"get ({hv}, {key})", mc.get((hv, key)), f"rust {hv} {key}")
    elif phase == "store-rehash":
        for i in range(REHASH_KEYS):
            key = f"py-rehash-{i}"
            check(f"set {key}", mc.set(key, f"py {key}"), True)
    elif phase == "check-rehash":
        keys = [f"rust-rehash-{i}" for i in range(REHASH_KEYS)]
        got = mc.get_multi(keys)
        for key in keys:
            check(f"get_multi {key}", got.get(key), f"rust {key}")
            check(f"get {key}", mc.get(key), f"rust {key}")
    else:
        failures.append(f"unknown phase {phase}")

    for line in failures[:50]:
        print(line)
    print(f"ok {checks} checks" if not failures else f"{len(failures)} of {checks} checks failed")
    sys.exit(1 if failures else 0)


main()
