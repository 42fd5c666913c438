"""Bad input and faults, against real memcached (and one process that
never answers: a listening socket nobody reads, named as such)."""

import os
import signal
import socket
import threading
import time

import pytest

import memcache


def test_bad_keys_are_refused_before_sending(m):
    cases = {
        "bad key": 'key "bad key" contains a space at byte 3: keys may not contain whitespace or control characters',
        b"a\x00b": 'key "a\\x00b" contains control character 0x00 at byte 1: keys may not contain whitespace or control characters',
        "": "key is empty",
    }
    for key, message in cases.items():
        with pytest.raises(memcache.BadKey) as e:
            m.get(key)
        assert isinstance(e.value, ValueError)
        assert e.value.message == message
    with pytest.raises(memcache.BadKey, match="^key is 251 bytes long, the limit is 250"):
        m.put("k" * 251, "v")


def test_non_utf8_bytes_keys_work(m):
    m.put(b"\xff\xfe", "v")
    assert m.get(b"\xff\xfe") == "v"


def test_value_over_the_server_limit(m, mc):
    with pytest.raises(memcache.TooLarge) as e:
        m.put("big", b"x" * (2 << 20))
    assert e.value.message.endswith("SERVER_ERROR object too large for cache")
    assert mc.set("big", b"x" * (2 << 20)) == 0


def test_killed_server_then_restarted(server):
    m = memcache.create(server.spec, retry=0)
    try:
        m.put("k", "v")
        server.stop()
        with pytest.raises(memcache.NetworkError) as e:
            m.get("k")
        assert isinstance(e.value, ConnectionError) and isinstance(e.value, OSError)
        assert memcache.IOError is memcache.NetworkError
        assert e.value.kind == "IO"
        assert server.spec in e.value.message
        assert server.start(), "the port was taken while the server was down"
        with pytest.raises(memcache.NotFound):
            m.get("k")
        m.put("k", "again")
        assert m.get("k") == "again"
    finally:
        memcache.delete("all")


def test_hung_server_times_out_and_no_late_reply_is_read():
    """A fake server (a listening socket that accepts and never answers):
    the one fault a real memcached cannot produce."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    m = memcache.create(f"127.0.0.1:{port}", timeout=200, retry=0)
    try:
        start = time.monotonic()
        with pytest.raises(memcache.Timeout) as e:
            m.get("k")
        assert isinstance(e.value, TimeoutError)
        assert e.value.message.endswith("no reply within 200 ms")
        assert time.monotonic() - start < 2
    finally:
        memcache.delete("all")
        listener.close()


def test_threads_share_one_object(m):
    errors = []

    def work(n):
        try:
            for i in range(200):
                m.put(f"t{n}-{i}", f"{n}:{i}")
                assert m.get(f"t{n}-{i}") == f"{n}:{i}"
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(m.mget([f"t{n}-199" for n in range(8)])) == 8


def test_forked_children_use_their_own_connections(m):
    m.put("parent", "p")
    pids = []
    for n in range(4):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for i in range(100):
                    m.put(f"c{n}", str(i))
                    if m.get(f"c{n}") != str(i) or m.get("parent") != "p":
                        code = 1
            except BaseException:
                code = 2
            os._exit(code)
        pids.append(pid)
    for i in range(100):
        assert m.get("parent") == "p"
    assert [os.waitpid(pid, 0)[1] for pid in pids] == [0, 0, 0, 0]
    assert m.mget([f"c{n}" for n in range(4)]) == {f"c{n}": "99" for n in range(4)}


def test_interrupt_during_a_slow_call_leaves_no_reply_behind():
    """KeyboardInterrupt while a call waits on a server (a fake server
    that answers late: a fault a real memcached does not produce). The C
    call finishes first (its reply read whole, or its connection dropped
    at the timeout), then the interrupt is raised: the next call on the
    same connection reads its own reply, never the interrupted one's."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    accepted = []

    def serve():
        conn, _ = listener.accept()
        accepted.append(conn)
        # A get that wants no cas is a get, answered without one.
        assert conn.recv(100) == b"get k\r\n"
        time.sleep(0.5)
        conn.sendall(b"VALUE k 0 4\r\nlate\r\nEND\r\n")
        assert conn.recv(100) == b"get k\r\n"
        conn.sendall(b"VALUE k 0 5\r\nfresh\r\nEND\r\n")

    threading.Thread(target=serve, daemon=True).start()
    m = memcache.create(f"127.0.0.1:{port}", timeout=2000, retry=0)

    def interrupt(*_):
        raise KeyboardInterrupt()

    try:
        signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(KeyboardInterrupt):
            m.get("k")
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        assert m.get("k") == b"fresh"
        assert len(accepted) == 1
    finally:
        memcache.delete("all")
        listener.close()


def test_calls_release_the_gil():
    """A fake server written in Python, in a thread of this process: it
    can only accept and answer while the waiting call has released the
    GIL; with the GIL held, the call would end in its timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve():
        conn, _ = listener.accept()
        with conn:
            assert conn.recv(100) == b"get k\r\n"
            conn.sendall(b"VALUE k 16 2\r\nok\r\nEND\r\n")

    threading.Thread(target=serve, daemon=True).start()
    m = memcache.create(f"127.0.0.1:{listener.getsockname()[1]}", timeout=3000, retry=0)
    try:
        assert m.get("k") == "ok"
    finally:
        memcache.delete("all")
        listener.close()
