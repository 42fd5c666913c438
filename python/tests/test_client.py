"""python-memcached's Client, drop-in: values, return values, key errors
and placement byte-compatible with python-memcached 1.62."""

import socket
import zlib

import pytest

import memcache
from memcache import Client


def test_values_round_trip_with_python_memcacheds_flags(mc, server):
    raw = memcache.create(server.spec)
    try:
        assert mc.set("s", "text") is True
        assert mc.set("b", b"\x00bytes") is True
        assert mc.set("i", 42) is True
        assert mc.set("o", {"a": [1, 2]}) is True
        assert mc.set("t", True) is True
        assert [raw.flags(k) for k in "sbiot"] == [16, 0, 2, 1, 1]
        assert raw.get("i") == b"42"
        assert mc.get("s") == "text" and mc.get("b") == b"\x00bytes"
        assert mc.get("i") == 42 and mc.get("o") == {"a": [1, 2]} and mc.get("t") is True
        assert mc.get("missing") is None
        assert mc.get("missing", "dflt") == "dflt"
    finally:
        raw.delete()


def test_store_variants_return_python_memcacheds_values(mc):
    assert mc.add("k", "1") is True
    assert mc.add("k", "2") is False
    assert mc.replace("nope", "x") is False
    assert mc.replace("k", "3") is True
    assert mc.append("k", "4") is True
    assert mc.prepend("k", "2") is True
    assert mc.get("k") == "234"
    assert mc.append("none", "x") is False
    assert mc.set("k", "v", noreply=True) is True


def test_cas_with_cache_cas(server):
    mc = Client([server.spec], cache_cas=True)
    mc.set("k", "1")
    assert mc.gets("k") == "1"
    other = Client([server.spec])
    other.set("k", "changed")
    assert mc.cas("k", "2") is False
    assert mc.gets("k") == "changed"
    assert mc.cas("k", "3") is True
    assert mc.get("k") == "3"
    mc.reset_cas()
    assert mc.cas_ids == {}


def test_delete_touch_incr_decr(mc):
    mc.set("n", "10")
    assert mc.incr("n") == 11
    assert mc.decr("n", 20) == 0
    assert mc.incr("none") is None
    assert mc.delete("n") == 1
    assert mc.delete("n") == 0
    mc.set("t", "x", time=10)
    assert mc.touch("t", 100) == 1
    assert mc.touch("none", 100) == 0
    with pytest.raises(ValueError):
        mc.incr("t")


def test_multi_calls_with_key_prefix(mc):
    assert mc.set_multi({"a": 1, "b": "two", 3: b"three"}, key_prefix="p_") == []
    assert mc.get("p_a") == 1 and mc.get("p_3") == b"three"
    assert mc.get_multi(["a", "b", 3, "zz"], key_prefix="p_") == {"a": 1, "b": "two", 3: b"three"}
    assert mc.delete_multi(["a", "b"], key_prefix="p_") == 1
    assert mc.get_multi(["a", "b", 3], key_prefix="p_") == {3: b"three"}


def test_key_errors_are_python_memcacheds(mc):
    with pytest.raises(Client.MemcachedKeyCharacterError, match=r"^Control/space characters not allowed \(key=b'a b'\)$"):
        mc.set("a b", 1)
    with pytest.raises(Client.MemcachedKeyLengthError, match="^Key length is > 250$"):
        mc.get("k" * 251)
    with pytest.raises(Client.MemcachedKeyNoneError, match="^Key is None$"):
        mc.get(None)
    with pytest.raises(Client.MemcachedKeyTypeError, match="^Key must be a binary string$"):
        mc.get(5)
    # The calls check a key as bytes: empty is a character error there, as
    # in python-memcached 1.62; check_key itself says so of the str ''.
    with pytest.raises(Client.MemcachedKeyCharacterError, match=r"^Control/space characters not allowed \(key=b''\)$"):
        mc.set("", 1)
    with pytest.raises(Client.MemcachedKeyCharacterError, match=r"^Control/space characters not allowed \(key=b''\)$"):
        mc.get_multi(["a", b""])
    for call in (lambda: mc.get_multi(["a", ""], key_prefix="p_"),
                 lambda: mc.set_multi({"": 1}, key_prefix="p_"),
                 lambda: mc.delete_multi([""], key_prefix="p_")):
        with pytest.raises(Client.MemcachedKeyCharacterError, match=r"^Control/space characters not allowed \(key=b''\)$"):
            call()
    with pytest.raises(Client.MemcachedKeyNoneError, match="^Key is empty$"):
        mc.check_key("")
    for call in (lambda: mc.get(("7", "k")), lambda: mc.get_multi([("7", "k")])):
        with pytest.raises(TypeError, match=r"^the hash value of a \(hashvalue, key\) key must be an int, not str$"):
            call()
    assert issubclass(Client.MemcachedKeyLengthError, Client.MemcachedKeyError)


def ask(server, request):
    """memcached's whole reply to ``request`` (ending in END), on a plain
    socket."""
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(request)
        reply = b""
        while not reply.endswith(b"END\r\n"):
            reply += s.recv(65536)
    return reply


def server_time(server):
    return int(ask(server, b"stats\r\n").split(b"STAT time ")[1].split(b"\r\n")[0])


def server_exptime(server, key):
    """The Unix time memcached will drop a key at: its ``mg <key> t`` read
    between two of its ``time`` stats that agree (its clock did not tick
    in between), so the sum is exact."""
    while True:
        reply = ask(server, b"stats\r\nmg " + key + b" t\r\nstats\r\n")
        before, after = [int(t.split(b"\r\n")[0]) for t in reply.split(b"STAT time ")[1:]]
        if before == after:
            return before + int(reply.split(b"\r\nHD t")[1].split(b"\r\n")[0])


def test_times_are_memcacheds_exptimes(mc, server):
    # Up to 30 days relative, beyond a Unix time (python-memcached's `time`).
    at = server_time(server) + 3600
    assert mc.set("abs", 1, time=at) is True
    assert server_exptime(server, b"abs") == at
    assert mc.set_multi({"abs2": 2}, time=at + 1) == []
    assert server_exptime(server, b"abs2") == at + 1
    assert mc.touch("abs2", at + 2) == 1
    assert server_exptime(server, b"abs2") == at + 2
    assert mc.set("far", 1, time=2**31 - 1) is True
    assert server_exptime(server, b"far") == 2**31 - 1
    # A Unix time past, or a negative time: stored, gone at once.
    for time in (-1, at - 7200):
        assert mc.set("gone", 1, time=time) is True
        assert mc.get("gone") is None
    assert mc.set("gone", 1) is True and mc.touch("gone", -5) == 1
    assert mc.get("gone") is None
    assert mc.set_multi({"gone": 1, "gone2": 2}, time=-1) == []
    assert mc.get_multi(["gone", "gone2"]) == {}
    with pytest.raises(memcache.InvalidArgument, match='^bad time "2147483648": memcached reads a number from -2147483648 to 2147483647$'):
        mc.set("t", 1, time=2**31)
    with pytest.raises(ValueError, match='^bad time "-2147483649": memcached reads a number from -2147483648 to 2147483647$'):
        mc.touch("t", -2**31 - 1)


def test_delete_takes_the_seeds_time(mc):
    # Client.delete(key, time=0) and delete_multi(keys, time=0, ...): the
    # key is deleted now (memcached has no delayed delete since 1.4).
    assert mc.set_multi({"d1": 1, "d2": 2, "d3": 3}) == []
    assert mc.delete("d1", time=0) == 1 and mc.delete("d2", 5) == 1
    assert mc.delete("d2", time=0) == 0
    assert mc.delete_multi(["d3"], time=5) == 1
    assert mc.get_multi(["d1", "d2", "d3"]) == {}


def test_deltas_as_memcached_reads_them(mc):
    assert mc.set("n", 5) is True
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match='^bad delta "%d": must be a number from 0 to 18446744073709551615$' % bad):
            mc.incr("n", bad)
    assert mc.decr("n", 2**64 - 1) == 0


def raw_get(server, key):
    """``(flags, data)`` of a key as the server holds it (a plain socket)."""
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"get " + key + b"\r\n")
        reply = b""
        while not reply.endswith(b"END\r\n"):
            reply += s.recv(65536)
    head, _, rest = reply.partition(b"\r\n")
    _, _, flags, size = head.split()
    return int(flags), rest[:int(size)]


def test_compression_is_zlib_with_flag_8(mc, server):
    value = "x" * 5000
    assert mc.set("z", value, min_compress_len=100) is True
    flags, data = raw_get(server, b"z")
    assert flags == 16 | 8
    assert zlib.decompress(data) == value.encode()
    assert mc.get("z") == value
    seed = memcache.create(server.spec)
    try:
        assert seed.get("z") == value
        # flags are what the server holds, as Tcl's: compression included.
        assert seed.flags("z") == 24
    finally:
        seed.delete()


def test_value_over_server_max_value_length_is_not_stored(mc):
    assert mc.set("big", b"x" * (1024 * 1024 + 1)) == 0
    assert mc.get("big") is None


def test_placement_is_python_memcacheds_modula(servers):
    specs = [s.spec for s in servers]
    mc = Client(specs)
    for i in range(30):
        mc.set(f"key{i}", i)
    for i in range(30):
        home = memcache.create(specs[(zlib.crc32(f"key{i}".encode()) >> 16 & 0x7FFF) % 3])
        assert home.get(f"key{i}") == str(i).encode()
    mc.set((7, "placed"), "v")
    assert memcache.create(specs[7 % 3]).get("placed") == "v"
    assert mc.get((7, "placed")) == "v"
    memcache.delete("all")


def test_weighted_servers_and_stats(servers):
    mc = Client([(servers[0].spec, 2), servers[1].spec, "inet:" + servers[2].spec])
    names = [name for name, _ in mc.get_stats()]
    assert names == [f"{servers[0].spec} (2)", f"{servers[1].spec} (1)", f"{servers[2].spec} (1)"]
    assert [int(stats["pid"]) for _, stats in mc.get_stats()] == [s.process.pid for s in servers]
    slabs = mc.get_slabs()
    assert [name for name, _ in slabs] == names


def test_dead_server_fails_quietly_and_over(servers):
    mc = Client([s.spec for s in servers], dead_retry=30)
    servers[1].stop()
    for i in range(20):
        assert mc.set(f"k{i}", i) is True
    assert mc.get_multi([f"k{i}" for i in range(20)]) == {f"k{i}": i for i in range(20)}
    assert len(mc.get_stats()) == 2


def test_flush_all_and_disconnect_all(mc):
    mc.set("k", "v")
    mc.disconnect_all()
    assert mc.get("k") == "v"
    mc.flush_all()
    assert mc.get("k") is None


def test_module_constants_match_python_memcached():
    assert memcache.SERVER_MAX_KEY_LENGTH == 250
    assert memcache.SERVER_MAX_VALUE_LENGTH == 1024 * 1024
    assert (Client._FLAG_PICKLE, Client._FLAG_INTEGER, Client._FLAG_COMPRESSED, Client._FLAG_TEXT) == (1, 2, 8, 16)


def test_setup_calls(servers, capsys):
    mc = Client([servers[0].spec], debug=1)
    mc.set("k", "v")
    mc.set_servers([servers[1].spec])
    assert mc.get("k") is None
    mc.set("k", "w")
    mc.forget_dead_hosts()
    mc.quit_all()
    assert mc.get("k") == "w"
    mc.debuglog("hello")
    assert capsys.readouterr().err == "MemCached: hello\n"
    Client([servers[0].spec]).debuglog("silent")
    assert capsys.readouterr().err == ""
    mc.check_key(b"fine")
    with pytest.raises(Client.MemcachedKeyLengthError):
        mc.check_key(b"k" * 250, key_extra_len=1)
    assert mc.stats["set"] == 2 and mc.stats["get"] == 2


def test_mark_dead_sends_keys_elsewhere(servers, capsys):
    mc = Client([s.spec for s in servers], debug=1)
    for host in mc.servers:
        host.mark_dead("test")
    assert "Marking dead." in capsys.readouterr().err
    assert sorted(mc.set_multi({"a": 1, "b": 2})) == ["a", "b"]
    mc.forget_dead_hosts()
    assert mc.set_multi({"a": 1, "b": 2}) == []


def test_slab_stats(mc):
    mc.set("k", "v")
    (name, stats), = mc.get_slab_stats()
    assert "active_slabs" in stats and "total_malloced" in stats
    assert any(isinstance(v, dict) and "chunk_size" in v for v in stats.values())


def test_fast_and_general_paths_agree(mc, server):
    """Values and keys the Rust fast path takes, and those it hands to the
    Python methods, give python-memcached's results alike."""
    cases = {"big int": 2 ** 70, "bool": False, "float": 1.5, "none": None, "tuple": (1, "a")}
    for name, value in cases.items():
        key = name.replace(" ", "_")
        assert mc.set(key, value) is True
        assert mc.get(key) == value and type(mc.get(key)) is type(value)
    assert [raw_get(server, k)[0] for k in (b"big_int", b"bool", b"float")] == [2, 1, 1]
    assert mc.set(b"bytes-key", "v") is True and mc.get("bytes-key") == "v"
    assert mc.get_multi([b"bytes-key", "big_int", 7, "nope"]) == {b"bytes-key": "v", "big_int": 2 ** 70}
    mc.key_encoder = str.upper
    assert mc.set("lower", "x") is True
    assert raw_get(server, b"LOWER") == (16, b"x")
    assert mc.get("lower") == "x" and mc.get_multi(["lower"]) == {"lower": "x"}


def test_one_client_shared_by_threads_and_forked_children(mc):
    import os
    import threading

    errors = []

    def work(n):
        for i in range(200):
            if not mc.set(f"t{n}", i) or mc.get(f"t{n}") != i:
                errors.append((n, i))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert mc.get_multi([f"t{n}" for n in range(8)]) == {f"t{n}": 199 for n in range(8)}
    assert mc.stats["set"] == 1600 and mc.stats["get"] == 1600
    pids = []
    for n in range(3):
        pid = os.fork()
        if pid == 0:
            ok = all(mc.set(f"c{n}", i) and mc.get(f"c{n}") == i for i in range(100))
            os._exit(0 if ok else 1)
        pids.append(pid)
    assert all(mc.get(f"t{n}") == 199 for n in range(8))
    assert [os.waitpid(pid, 0)[1] for pid in pids] == [0, 0, 0]
    assert mc.get_multi(["c0", "c1", "c2"]) == {"c0": 99, "c1": 99, "c2": 99}
