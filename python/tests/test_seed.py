"""Seed 000's interface: memcache.create/list/delete/ref and Memcache."""

import json
import re
import subprocess

import pytest

import memcache


def test_put_and_get_keep_text_and_bytes_apart(m):
    assert m.put("k", "Grüße") == "k"
    assert m.get("k") == "Grüße"
    assert m.flags("k") == 16
    assert m.put("b", b"\x00\xff\r\n") == "b"
    assert m.get("b") == b"\x00\xff\r\n"
    assert m.flags("b") == 0
    assert m.put("f", b"x", 0, 5) == "f"
    assert m.flags("f") == 5


def test_star_import_reads_as_the_seed(server):
    # Seed 000: `from memcache import *`, then the calls as in Tcl.
    ns = {}
    exec("from memcache import *", ns)
    assert ns["memcache"] is memcache and "list" not in ns and "delete" not in ns
    h = ns["memcache"].create(server.spec)
    assert str(h) in ns["memcache"].list()
    assert h.put("k", "v") == "k" and ns["memcache"].ref(str(h)).get("k") == "v"
    assert ns["memcache"].delete(h) == 1 and str(h) not in ns["memcache"].list()


def test_put_without_a_key_makes_a_unique_one(m):
    key = m.put("data")
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert m.get(key) == "data"
    other = m.put("", "more")
    assert other != key and m.get(other) == "more"


def test_default_ttl_is_8_hours_and_configurable(m):
    m.put("k", "v")
    assert m.ttl("k") in (28800, 28799)
    m.configure(ttl=60)
    assert m.configure("ttl") == 60
    m.put("k2", "v")
    assert m.ttl("k2") in (60, 59)
    m.put("k3", "v", 0)
    assert m.ttl("k3") == -1


def test_attribute_and_item_access(m):
    m.session = "abc"
    assert m.get("session") == "abc"
    assert m.session == "abc"
    m["cart"] = b"\x01"
    assert m["cart"] == b"\x01"
    assert "cart" in m and "nothing" not in m
    del m["cart"]
    assert "cart" not in m
    del m.session
    with pytest.raises(AttributeError, match="no data for key 'session'"):
        m.session
    with pytest.raises(KeyError) as miss:
        m["gone"]
    assert str(miss.value) == 'no data for key "gone"'
    with pytest.raises(AttributeError, match="'put' is a method of Memcache"):
        m.put = "x"
    m.put("get", "a key named like a method")
    assert m.get("get") == "a key named like a method"


def test_miss_is_notfound_a_keyerror_with_kind(m):
    with pytest.raises(memcache.NotFound) as e:
        m.get("missing")
    assert isinstance(e.value, KeyError)
    assert e.value.kind == "NOTFOUND"
    assert e.value.message == 'no data for key "missing"'
    assert not m.valid("missing")


def test_append_adds_or_appends(m):
    assert m.append("log", "a") == "log"
    assert m.append("log", "b") == "log"
    assert m.get("log") == "ab"


def test_add_replace_prepend_cas(m):
    m.add("k", "1")
    with pytest.raises(memcache.NotStored, match='not stored: key "k" already has data'):
        m.add("k", "2")
    with pytest.raises(memcache.NotStored, match='not stored: key "none" has no data'):
        m.replace("none", "2")
    m.replace("k", "3")
    m.prepend("k", "0")
    data, casid = m.gets("k")
    assert data == "03"
    m.cas("k", "4", casid)
    with pytest.raises(memcache.Exists, match='not stored: the data of key "k" changed since it was read'):
        m.cas("k", "5", casid)
    assert m.get("k") == "4"


def test_counters_touch_remove(m):
    m.put("n", "10")
    assert m.incr("n") == 11
    assert m.incr("n", 5) == 16
    assert m.decr("n", 100) == 0
    with pytest.raises(memcache.NotFound):
        m.incr("none")
    m.put("t", "x")
    with pytest.raises(memcache.NotNumeric) as e:
        m.incr("t")
    assert "cannot increment or decrement non-numeric value" in e.value.message
    m.touch("t", 100)
    assert m.ttl("t") in (100, 99)
    m.remove("t")
    with pytest.raises(memcache.NotFound, match='no data for key "t"'):
        m.remove("t")


def test_multi_key_calls(m):
    assert m.mput({"a": "1", "b": b"2", "c": "3"}) == []
    assert m.mget(["c", "nope", "a", "b"]) == {"c": "3", "a": "1", "b": b"2"}
    assert m.mremove(["a", "b", "nope"]) == 2
    assert m.mget(["a", "b", "c"]) == {"c": "3"}
    with pytest.raises(TypeError, match="^mput takes a dict of keys and data, not list$"):
        m.mput(["a", "b"])


def test_listindex_reads_the_data_as_a_tcl_list(m):
    m.put("l", 'one {two three} "four five" six\\ seven')
    assert m.get("l", 0) == "one"
    assert m.get("l", 1) == "two three"
    assert m.get("l", 2) == "four five"
    assert m.get("l", "end") == "six seven"
    assert m.get("l", "end-1") == "four five"
    assert m.get("l", 10) == ""
    m.put("bad", "{unclosed")
    with pytest.raises(memcache.InvalidArgument, match="unmatched open brace in list"):
        m.get("bad", 0)
    # A bad index is refused before the key is read, as Tcl's get does.
    for key in ("nope", "a b"):
        with pytest.raises(memcache.InvalidArgument, match=r'^bad index "x": must be integer\?\[\+-\]integer\? or end\?\[\+-\]integer\?$'):
            m.get(key, "x")


def test_arguments_are_checked_in_tcls_order(m):
    # The TTL before the flags, as `memcache put` reads its words.
    for call in (lambda: m.put("k", "v", -1, 2**32), lambda: m.add("k", "v", "x", -1),
                 lambda: m.append("k", "v", 2**32, -1), lambda: m.replace("k", "v", -1, -1)):
        with pytest.raises(memcache.InvalidArgument, match='^bad ttl ".*": must be a number of seconds from 0 to 4294967295$'):
            call()


def test_handles_list_ref_delete(server):
    a = memcache.create(server.spec)
    b = memcache.create(server.spec)
    try:
        assert str(a) == f"memcache{a._h}"
        assert memcache.list() == [str(a), str(b)]
        assert memcache.list("*" + str(b)[-1]) == [str(b)]
        assert memcache.ref(str(a)) == a
        a.put("shared", "yes")
        assert memcache.ref(str(a)).get("shared") == "yes"
        assert memcache.delete(a) == 1
        with pytest.raises(memcache.BadHandle) as e:
            a.get("shared")
        assert e.value.message == f'invalid memcache handle "{a}": no such handle, or deleted'
        with pytest.raises(memcache.BadHandle):
            memcache.ref(str(a))
    finally:
        assert memcache.delete("all") == len(memcache.list()) or True
    assert memcache.list() == []


def test_configure_lists_every_option_and_hides_the_password(m):
    options = m.configure()
    assert tuple(options) == memcache.OPTIONS
    assert options["timeout"] == 3000 and options["distribution"] == "ketama"
    m.configure(username="u", password="secret", timeout=250, failover=True, retry=0.5)
    assert m.configure("password") == "********"
    assert m.configure("timeout") == 250
    assert m.configure("failover") is True
    assert m.configure("retry") == 0.5
    with pytest.raises(memcache.InvalidArgument) as e:
        m.configure(distribution="ring")
    assert e.value.message == 'bad distribution "ring": must be ketama or modula'
    with pytest.raises(memcache.InvalidArgument, match='^bad option "colour": must be ttl, timeout,'):
        m.configure(colour="red")


def test_servers_stats_status_version(servers):
    m = memcache.create(*(s.spec for s in servers))
    try:
        assert m.servers() == [s.spec for s in servers]
        status = m.status()
        assert [int(s["pid"]) for s in status] == [s.process.pid for s in servers]
        assert set(m.version()) == {s.spec for s in servers}
        assert m.serverof("k") in m.servers()
        single = memcache.create(servers[0].spec)
        assert int(single.status()["pid"]) == servers[0].process.pid
    finally:
        memcache.delete("all")


def test_socket_file_server_is_started_and_stopped(tmp_path):
    path = str(tmp_path / "cache.sock")
    m = memcache.create(path, memory=8)
    try:
        m.put("k", "v")
        assert m.get("k") == "v"
        assert m.status()["limit_maxbytes"] == str(8 * 1024 * 1024)
        assert m.stop() == 1
        assert m.start() == 1
        with pytest.raises(memcache.NotFound):
            m.get("k")
        assert m.stop() == 1
    finally:
        memcache.delete("all")


def test_wrong_types_are_type_errors(m):
    with pytest.raises(TypeError, match="key must be str or bytes, not int"):
        m.get(5)
    with pytest.raises(TypeError, match="data must be str or bytes, not dict"):
        m.put("k", {})
    with pytest.raises(memcache.InvalidArgument, match='bad ttl "-1"'):
        m.put("k", "v", -1)


def test_server_list_and_dead_marks(servers):
    m = memcache.create(servers[0].spec)
    try:
        m.put("k", "on the first")
        m.setservers(servers[1].spec, servers[2].spec)
        assert m.servers() == [servers[1].spec, servers[2].spec]
        assert "k" not in m
        m.put("k", "on the others")
        m.forgetdead()
        assert m.get("k") == "on the others"
        assert set(m.stats("settings")) == {servers[1].spec, servers[2].spec}
        assert m.stats("settings")[servers[1].spec]["tcpport"] == str(servers[1].port)
        m.flush()
        assert m.mget(["k"]) == {}
    finally:
        memcache.delete("all")


def test_put_get_fast_and_general_paths_agree(m):
    """The Rust fast path (key and data as str or bytes, no listindex) and
    the Python one (anything else) store and read alike."""
    assert m.put(b"bk", "text") == b"bk" and m.get("bk") == "text"
    assert m.put("k", b"data", 30) == "k" and m.ttl("k") in (30, 29)
    assert m.put("k2", "d", ttl=0) == "k2" and m.ttl("k2") == -1
    assert m.put("k3", "d", 30, 7) == "k3" and m.flags("k3") == 23
    with pytest.raises(memcache.InvalidArgument, match='bad ttl "True"'):
        m.put("k", "v", ttl=True)
    with pytest.raises(TypeError, match="key must be str or bytes, not float"):
        m.get(1.5)
    m.put("invalid-utf8", b"\xff\xfe", 0, 16)
    assert m.get("invalid-utf8") == b"\xff\xfe"
    assert m.mget(["invalid-utf8", b"bk"]) == {"invalid-utf8": b"\xff\xfe", b"bk": "text"}


def test_large_values_land_whole(m, server):
    """Values from 64 KiB on are read straight into their bytes object,
    smaller ones through a scratch buffer: both exact, on every path."""
    blob = bytes(range(256)) * 2400            # 614,400 bytes
    text = "Grüße " * 100_000                  # 700,000 bytes of UTF-8
    m.put("blob", blob)
    m.put("text", text)
    assert m.get("blob") == blob
    assert m.get("text") == text
    assert m.gets("blob")[0] == blob
    assert m.mget(["blob", "text"]) == {"blob": blob, "text": text}
    mc = memcache.Client([server.spec])
    assert mc.get("blob") == blob and mc.get("text") == text
    for size in (65535, 65536, 65537):
        m.put("edge", blob[:size])
        assert m.get("edge") == blob[:size]


def test_update_adds_without_lost_writes(m):
    """Two writers' updates both land: each change is computed from the
    data it read, and one that lost the race reads and computes again."""
    calls = []

    def add_item(old):
        calls.append(old)
        if len(calls) == 1:
            # Another writer changes the cart between the read and the
            # store: this update must read again.
            m.put("cart", (old or "") + " pear")
        return (old or "") + " apple"

    m.put("cart", "fig")
    assert m.update("cart", add_item) == "fig pear apple"
    assert calls == ["fig", "fig pear"]
    assert m.get("cart") == "fig pear apple"
    assert m.update("new", lambda old: b"\x00" if old is None else old) == b"\x00"
    assert m.get("new") == b"\x00" and m.ttl("new") in (28800, 28799)
    assert m.update("cart", lambda old: memcache.KEEP) is None
    assert m.get("cart") == "fig pear apple"
    assert m.update("cart", lambda old: None) is None
    assert "cart" not in m
    with pytest.raises(ZeroDivisionError):
        m.update("new", lambda old: 1 / 0)
    assert m.get("new") == b"\x00"
    with pytest.raises(TypeError, match="update function must return str, bytes, None"):
        m.update("new", lambda old: 5)


def test_locks(m):
    token = m.lock("report", ttl=30, wait=0)
    assert len(token) == 32
    with pytest.raises(memcache.Conflict) as e:
        m.lock("report", wait=50)
    assert e.value.kind == "CONFLICT"
    assert m.unlock("report", "0" * 32) is False
    assert m.unlock("report", token) is True
    with m.locked("report") as held:
        assert len(held) == 32 and "report" in m
    assert "report" not in m


def test_fetch_computes_once_across_processes(m, server):
    """8 forked processes fetch a missing key whose function sleeps 200 ms
    and counts its runs: it ran once, every process got its value."""
    import os
    import time

    def compute():
        m.append("runs", "x", 0)
        time.sleep(0.2)
        return "computed"

    pids = []
    for _ in range(8):
        pid = os.fork()
        if pid == 0:
            child = memcache.create(server.spec)
            ok = child.fetch("page", compute, 60, lease=5, wait=5000) == "computed"
            os._exit(0 if ok else 1)
        pids.append(pid)
    assert [os.waitpid(pid, 0)[1] for pid in pids] == [0] * 8
    assert m.get("runs") == "x"
    assert m.fetch("page", lambda: "never called", 60) == "computed"
    assert m.fetch("bytes", lambda: b"\x00\xff", 60) == b"\x00\xff" and m.flags("bytes") == 0


def test_fetch_errors_and_invalidate(m):
    with pytest.raises(ZeroDivisionError):
        m.fetch("k", lambda: 1 / 0, 60)
    assert "k" not in m
    assert m.fetch("k", lambda: "v", 60) == "v"
    with pytest.raises(TypeError, match="fetch function must return str or bytes, not int"):
        m.fetch("k2", lambda: 5, 60)
    m.invalidate("k")
    assert m.fetch("k", lambda: "fresh", 60) == "fresh"
    assert m.get("k") == "fresh"
    with pytest.raises(memcache.NotFound, match='no data for key "none"'):
        m.invalidate("none")
    with pytest.raises(memcache.InvalidArgument, match="lease of at least 1 second"):
        m.fetch("k", lambda: "v", 60, lease=0)


def test_mget_takes_any_iterable_once(m):
    """A generator is read once: the fast path and the general one (which
    reports a bad key) see the same keys."""
    m.put("g1", "a")
    assert m.mget(k for k in ["g1", "g2"]) == {"g1": "a"}
    with pytest.raises(memcache.BadKey, match='^key "bad key" contains a space'):
        m.mget(k for k in ["g1", "bad key"])


def test_the_php_value_format(server, m):
    p = memcache.create(server.spec, valueformat="php", compress=100)
    raw = memcache.create(server.spec, valueformat="raw")
    text = "Gr\u00fc\u00dfe \u2713"
    long = "caf\u00e9 " * 100
    assert (p.configure("valueformat"), m.configure("valueformat")) == ("php", "python")
    # A str is a PHP string (flags 0); long ones zlib-compressed as PHP does.
    p.put("t", text, 0)
    p.put("z", long, 0)
    p.put("b", b"\x00\xff", 0)
    assert [p.flags(k) for k in "tzb"] == [0, 48, 0]
    assert (p.get("t"), p.get("z"), p.get("b")) == (text, long, b"\x00\xff")
    assert raw.get("t") == text.encode()
    packed = raw.get("z")
    assert int.from_bytes(packed[:4], "little") == len(long.encode()) and packed[4] == 0x78
    # PHP's integer, float and boolean read as text; its serialized data as bytes.
    raw.put("n", b"42", 0, 1)
    raw.put("f", b"1.5", 0, 2)
    raw.put("a", b"a:0:{}", 0, 4)
    assert p.mget(["t", "n", "f", "a"]) == {"t": text, "n": "42", "f": "1.5", "a": b"a:0:{}"}
    # update and fetch store str the format's way.
    p.update("t", lambda old: old + "!")
    assert (p.get("t"), p.flags("t")) == (text + "!", 0)
    assert p.fetch("computed", lambda: "made", 60) == "made" and p.flags("computed") == 0
    # The format follows configure.
    m.configure(valueformat="php")
    m.put("x", "y", 0)
    assert m.flags("x") == 0
    m.configure(valueformat="python")
    m.put("x", "y", 0)
    assert m.flags("x") == 16
    with pytest.raises(memcache.InvalidArgument) as e:
        m.configure(valueformat="json")
    assert e.value.message == 'bad value format "json": must be raw, python or php'
    # PHP's Memcached extension reads the str as a PHP string.
    host, port = server.spec.rsplit(":", 1)
    script = (f'$m = new Memcached(); $m->addServer("{host}", {port}); '
              'echo json_encode([$m->get("t"), $m->get("z") === str_repeat("caf\\u{e9} ", 100)]);')
    out = subprocess.run(["php", "-r", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [text + "!", True]



def test_binary_keys(server):
    b = memcache.create(server.spec, binarykeys=True)
    off = memcache.create(server.spec)
    assert (b.configure("binarykeys"), off.configure("binarykeys")) == (True, False)
    keys = ["a key with spaces", "two\nlines", "smile \U0001F600", b"\xff\x01 raw"]
    for i, key in enumerate(keys):
        b.put(key, f"value {i}", 0)
        assert b.get(key) == f"value {i}"
        assert b[key] == f"value {i}"
    assert b.mget(keys) == {k: f"value {i}" for i, k in enumerate(keys)}
    # What the server holds, by a raw meta get of the key in base64.
    import base64
    import socket
    host, port = server.spec.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"mg " + base64.b64encode("two\nlines".encode()) + b" b v\r\n")
        assert s.recv(100) == b"VA 7\r\nvalue 1\r\n"
    assert b.mremove(keys) == 4
    with pytest.raises(memcache.BadKey) as e:
        off.get("a key")
    assert e.value.message == (
        'key "a key" contains a space at byte 1: keys may not contain whitespace or control characters')
    with pytest.raises(memcache.BadKey) as e:
        b.put(" " * 187, "v")
    assert "is 187 bytes long; in base64 that is 252 bytes" in e.value.message
    memcache.delete(b, off)
