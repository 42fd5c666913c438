"""bench/bench.py: the Python rows of `make bench` (bench/run.sh runs it).

    bench.py run --tcp HOST:PORT --clients a,b --workloads w,x --reps N
                 --time S --pass P --out raw.csv
    bench.py count HOST:PORT CLIENT WORKLOAD N     (N operations, for callgrind)
    bench.py report raw.csv instructions.csv       (the Python table)

Clients: "memcache" (this module, seed 000's interface), "memcache-client"
(this module's python-memcached Client), "pylibmc" (C, libmemcached),
"pymemcache", "python-memcached". python-memcached is also imported as
`memcache`, so it runs in a virtual environment of its own: run.sh calls
this file once per environment with the clients that environment has.

Workloads as the C and Tcl benches: get, set (a 100-byte value), mget100
and mset100 (100 keys in one call), get512k (a 512 KiB value), get4t (four
threads sharing one client object, or the library's own pool where a
client must not be shared: pylibmc's ThreadMappedPool, pymemcache's
PooledClient). Raw rows: py,client,workload,tcp,pass,rep,ops,wall_s,cpu_s
with ops counted in operations (keys for mget100/mset100).
"""

import argparse
import csv
import os
import statistics
import sys
import threading
import time

VALUE = b"v" * 100
BIG = b"b" * (512 * 1024)
KEYS = [f"bench:key:{i}" for i in range(100)]
CLIENTS = ["memcache", "memcache-client", "pylibmc", "pymemcache", "python-memcached"]
WORKLOADS = ["get", "set", "mget100", "mset100", "get512k", "get4t"]


class Ops:
    """One client's get, set, get_multi, set_multi, and a factory for the
    get4t threads' client (the same object where it may be shared)."""

    def __init__(self, name, server):
        host, port = server.rsplit(":", 1)
        self.name = name
        if name == "memcache":
            import memcache
            m = memcache.create(server, ttl=0)
            self.get, self.set = m.get, m.put
            self.get_multi = m.mget
            self.set_multi = m.mput
            self.shared = lambda: m
        elif name in ("memcache-client", "python-memcached"):
            import memcache
            c = memcache.Client([server])
            self.get, self.set = c.get, c.set
            self.get_multi, self.set_multi = c.get_multi, c.set_multi
            self.shared = lambda: c
        elif name == "pylibmc":
            import pylibmc
            c = pylibmc.Client([server])
            self.get, self.set = c.get, c.set
            self.get_multi, self.set_multi = c.get_multi, c.set_multi
            pool = pylibmc.ThreadMappedPool(c)

            class Pooled:
                def get(self, key):
                    with pool.reserve() as mc:
                        return mc.get(key)
            self.shared = lambda: Pooled()
        elif name == "pymemcache":
            from pymemcache.client.base import Client, PooledClient
            c = Client((host, int(port)), default_noreply=False)
            self.get, self.set = c.get, c.set
            self.get_multi, self.set_multi = c.get_many, c.set_many
            pooled = PooledClient((host, int(port)), default_noreply=False, max_pool_size=8)
            self.shared = lambda: pooled
        else:
            raise SystemExit(f"bench.py: unknown client {name}")
        self.set("bench:get", VALUE)
        self.set("bench:big", BIG)
        self.set_multi({k: VALUE for k in KEYS})
        assert self.get("bench:get") == VALUE, f"{name}: get gave the wrong value"
        assert self.get("bench:big") == BIG, f"{name}: 512 KiB get gave the wrong value"
        assert len(self.get_multi(KEYS)) == 100, f"{name}: get_multi missed keys"

    def step(self, workload):
        """The operation of a workload, and how many operations it counts."""
        get, set_, get_multi, set_multi = self.get, self.set, self.get_multi, self.set_multi
        if workload == "get":
            return (lambda: get("bench:get")), 1
        if workload == "set":
            return (lambda: set_("bench:set", VALUE)), 1
        if workload == "mget100":
            return (lambda: get_multi(KEYS)), 100
        if workload == "mset100":
            items = {k: VALUE for k in KEYS}
            return (lambda: set_multi(items)), 100
        if workload == "get512k":
            return (lambda: get("bench:big")), 1
        raise SystemExit(f"bench.py: unknown workload {workload}")


def trial(ops, workload, seconds):
    """(operations, wall seconds, CPU seconds) of one timed trial."""
    if workload == "get4t":
        return threaded(ops, seconds)
    step, per = ops.step(workload)
    n = 0
    c0, t0 = time.process_time(), time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        for _ in range(20):
            step()
        n += 20
    return n * per, time.perf_counter() - t0, time.process_time() - c0


def threaded(ops, seconds):
    counts = [0] * 4
    start = threading.Barrier(5)

    def work(i):
        client = ops.shared()
        get = client.get
        start.wait()
        end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < end:
            for _ in range(20):
                get("bench:get")
            n += 20
        counts[i] = n

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    c0, t0 = time.process_time(), time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    return sum(counts), time.perf_counter() - t0, time.process_time() - c0


def run(args):
    clients = [Ops(name, args.tcp) for name in args.clients.split(",")]
    with open(args.out, "a", newline="") as out:
        rows = csv.writer(out)
        for workload in args.workloads.split(","):
            for rep in range(args.reps):
                for ops in clients:
                    n, wall, cpu = trial(ops, workload, args.time)
                    rows.writerow(["py", ops.name, workload, "tcp", args.pass_, rep, n,
                                   f"{wall:.6f}", f"{cpu:.6f}"])


def count(server, client, workload, n):
    """N operations and nothing else to speak of: callgrind's run of N
    less its run of 0 is the instructions of N operations."""
    ops = Ops(client, server)
    step, _ = ops.step(workload)
    for _ in range(n):
        step()


UNITS = {"get": (1, "ops/s"), "set": (1, "ops/s"), "mget100": (1, "keys/s"),
         "mset100": (1, "keys/s"), "get512k": (0.5, "MB/s"), "get4t": (1, "ops/s")}


def report(raw, instructions):
    trials = {}
    with open(raw) as f:
        for lang, client, workload, transport, pass_, rep, n, wall, cpu in csv.reader(f):
            if lang != "py" or float(wall) <= 0 or int(n) == 0:
                continue
            per = UNITS[workload][0]
            rate = int(n) * per / float(wall)
            cpu_us = float(cpu) * 1e6 / int(n)
            trials.setdefault((client, workload), {})[(pass_, rep)] = (rate, cpu_us)
    ins = {}
    if instructions and os.path.exists(instructions):
        with open(instructions) as f:
            for lang, client, workload, perop in csv.reader(f):
                if lang == "py":
                    ins[(client, workload)] = perop

    def ratio(a, b, field):
        both = [a[k][field] / b[k][field] for k in a if k in b and b[k][field] > 0]
        return statistics.median(both) if both else None

    def fmt(x):
        return "-" if x is None else f"{x:.2f}"

    print("Python: rate = operations (keys, MB) per second; CPU = process CPU µs per")
    print("operation (keys for mget100/mset100); ×pylibmc, ×pymemc = medians of per-round rate")
    print("ratios; CPU÷pylibmc = CPU per op over pylibmc's (≤ 1: cheaper); instr/op: callgrind.")
    print(f"{'workload':<8} {'client':<17} {'rate':>11} {'unit':<6} {'CPU/op':>8} "
          f"{'×pylibmc':>8} {'×pymemc':>8} {'CPU÷pylibmc':>11} {'instr/op':>9}")
    for workload in WORKLOADS:
        libmc = trials.get(("pylibmc", workload), {})
        pymc = trials.get(("pymemcache", workload), {})
        for client in CLIENTS:
            s = trials.get((client, workload))
            if not s:
                continue
            rate = statistics.median(v[0] for v in s.values())
            cpu = statistics.median(v[1] for v in s.values())
            print(f"{workload:<8} {client:<17} {rate:>11.0f} {UNITS[workload][1]:<6} {cpu:>8.2f} "
                  f"{fmt(None if client == 'pylibmc' else ratio(s, libmc, 0)):>8} "
                  f"{fmt(None if client == 'pymemcache' else ratio(s, pymc, 0)):>8} "
                  f"{fmt(None if client == 'pylibmc' else ratio(s, libmc, 1)):>11} "
                  f"{ins.get((client, workload), '-'):>9}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "count", "report"])
    parser.add_argument("rest", nargs="*")
    parser.add_argument("--tcp")
    parser.add_argument("--clients", default="memcache,memcache-client,pylibmc,pymemcache")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--time", type=float, default=0.15)
    parser.add_argument("--pass", dest="pass_", type=int, default=1)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.mode == "run":
        run(args)
    elif args.mode == "count":
        server, client, workload, n = args.rest
        count(server, client, workload, int(n))
    else:
        report(*args.rest)


if __name__ == "__main__":
    sys.exit(main())
