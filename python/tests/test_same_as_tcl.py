"""Seed 000's Python interface against its Tcl one, in one process on one
library: a seeded run of random calls, each made through Tcl's
``memcache`` ensemble and through Python's ``Memcache`` (each handle with
a key prefix of its own, so they never share an item), must give the same
result, or fail with the same message (doc/python.md: "each the Tcl
subcommand of the same name with the same defaults and errors")."""

import random

import pytest

import memcache

tkinter = pytest.importorskip("tkinter", reason="this Python has no tkinter (Debian: python3-tk)")

KEYS = ["a", "b", "ctr", "l", "ü", "sp ace", "", "x" * 251]
DATA = ["v", "12", "ünï", "one {two three} four", "", "-5"]
TTLS = [None, 0, 10, -1, "abc", 40 * 86400, 2**32]
FLAGS = [None, 0, 7, -1, 2**32]
INDEXES = [None, 0, 1, "end", "end-1", 99, -1, "x"]
DELTAS = [None, 1, 5, -1, 2**64]


def calls(rnd):
    """(subcommand, its words after the handle), seeded."""
    for _ in range(1500):
        # Not `ttl`: the two items' lifetimes may start a second apart.
        op = rnd.choice(["put", "add", "replace", "append", "prepend", "get", "gets", "valid",
                         "flags", "remove", "touch", "incr", "decr", "mget", "mput", "mremove",
                         "cas"])
        key, data, ttl, flags = rnd.choice(KEYS), rnd.choice(DATA), rnd.choice(TTLS), rnd.choice(FLAGS)
        optional = [] if ttl is None else [ttl] + ([] if flags is None else [flags])
        if op in ("put", "add", "replace", "append"):
            yield op, [key, data] + optional
        elif op == "prepend":
            yield op, [key, data]
        elif op == "get":
            index = rnd.choice(INDEXES)
            yield op, [key] + ([] if index is None else [index])
        elif op in ("gets", "valid", "flags"):
            yield op, [key]
        elif op == "remove":
            yield op, [key] + ([] if ttl is None else [ttl])
        elif op == "touch":
            yield op, [key, 5 if ttl is None else ttl]
        elif op in ("incr", "decr"):
            delta = rnd.choice(DELTAS)
            yield op, [key] + ([] if delta is None else [delta])
        elif op in ("mget", "mremove"):
            yield op, [rnd.sample(KEYS[:6], 3)]
        elif op == "mput":
            yield op, [{k: rnd.choice(DATA) for k in rnd.sample(KEYS[:6], 2)}] + optional[:1]
        else:
            yield op, [key, data, rnd.choice([1, 0, "x"])]


def as_tcl(word):
    """A Python argument as the Tcl word it stands for."""
    if isinstance(word, dict):
        return tuple(x for pair in word.items() for x in pair)
    if isinstance(word, list):
        return tuple(word)
    return word


def test_a_seeded_run_gives_what_tcl_gives(server):
    tcl = tkinter.Tcl()
    memcache.tcl_load(tcl)
    ours = memcache.create(server.spec, prefix="p:")
    theirs = tcl.eval(f"memcache create -prefix t: {server.spec}")
    try:
        for op, words in calls(random.Random(5)):
            try:
                got = tcl.call("memcache", op, theirs, *[as_tcl(w) for w in words])
                tcl_said = ("ok", tcl.splitlist(got) if op in ("mget", "gets", "mput") else str(got))
            except tkinter.TclError as e:
                tcl_said = ("error", str(e).replace('"t:', '"P:'))
            try:
                got = getattr(ours, op)(*words)
                if op == "mget":
                    got = tuple(x for pair in got.items() for x in pair)
                elif op == "gets":
                    got = (got[0], str(got[1]))
                elif op == "mput":
                    got = tuple(got)
                elif isinstance(got, bool):
                    got = str(int(got))
                python_said = ("ok", got if isinstance(got, tuple) else str("" if got is None else got))
            except memcache.Error as e:
                python_said = ("error", e.message.replace('"p:', '"P:'))
            if op == "gets" and tcl_said[0] == python_said[0] == "ok":
                tcl_said = (tcl_said[0], tcl_said[1][0])  # casids differ: two items
                python_said = (python_said[0], python_said[1][0])
            if op in ("put", "append") and words[0] == "" and tcl_said[0] == "ok":
                continue  # a new unique key each
            assert python_said == tcl_said, (op, words)
    finally:
        tcl.eval(f"memcache delete {theirs}")
        memcache.delete(ours)
