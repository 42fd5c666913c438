"""One registry per process: Tcl (tkinter's interpreter) and C (ctypes
on the same library) see the handles made here, and the reverse."""

import ctypes

import pytest

import memcache

tkinter = pytest.importorskip("tkinter", reason="this Python has no tkinter (Debian: python3-tk)")


def test_tcl_and_python_share_handles_and_values(server):
    tcl = tkinter.Tcl()
    assert memcache.tcl_load(tcl) == "0.1.0"
    m = memcache.create(server.spec)
    try:
        m.put("from-python", "Grüße")
        assert tcl.eval(f"memcache get {m} from-python") == "Grüße"
        name = tcl.eval(f"memcache create {server.spec}")
        tcl.eval(f"memcache put {name} from-tcl {{a list}}")
        t = memcache.ref(name)
        assert t.get("from-tcl") == "a list"
        assert t.get("from-tcl", 1) == "list"
        assert sorted(memcache.list()) == sorted(tcl.eval("memcache list").split())
        tcl.eval(f"memcache delete {m}")
        with pytest.raises(memcache.BadHandle):
            m.get("from-python")
    finally:
        memcache.delete("all")


def test_c_sees_python_handles(server):
    lib = ctypes.CDLL(memcache.LIBRARY)
    m = memcache.create(server.spec)
    try:
        handle = ctypes.c_uint64()
        assert lib.mc_find(str(m).encode(), ctypes.byref(handle)) == 0
        assert handle.value == m._h
        assert lib.mc_set(handle, b"c-key", b"c-value", 7, 0, 0) == 0
        assert m.get("c-key") == b"c-value"
    finally:
        memcache.delete("all")
