"""pylibmc's, pymemcache's and python-memcached's values (text and bytes,
short and zlib compressed with flag 8) read back exactly by this module,
seed interface and Client; this module's compressed values read back
exactly by them. python-memcached is the real one, its memcache.py loaded
under another name from the source distribution python/test.sh downloads
(its module name is this module's)."""

import importlib.util
import os
import tarfile

import pylibmc
import pytest
from pymemcache.client.base import Client as PymemcacheClient
from pymemcache.serde import CompressedSerde

import memcache

TEXT = "caf\u00e9 \U0001F600 " * 300
BYTES = bytes(range(256)) * 20


def python_memcached(tmp_path_factory):
    """python-memcached 1.62's module, as ``python_memcached``."""
    sdist = os.environ.get("MEMCACHE_PM_SDIST")
    if not sdist or not os.path.exists(sdist):
        pytest.fail("python-memcached 1.62's source distribution is missing: run python/test.sh")
    path = tmp_path_factory.mktemp("python-memcached") / "python_memcached.py"
    with tarfile.open(sdist) as archive:
        path.write_bytes(archive.extractfile("python-memcached-1.62/memcache.py").read())
    spec = importlib.util.spec_from_file_location("python_memcached", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def real_python_memcached(tmp_path_factory):
    return python_memcached(tmp_path_factory)


def peers(server, pm):
    """(name, client, extra set() arguments that compress long values)."""
    host, port = server.spec.rsplit(":", 1)
    return [
        ("python-memcached", pm.Client([server.spec]), {"min_compress_len": 100}),
        ("pylibmc", pylibmc.Client([server.spec]), {"min_compress_len": 100}),
        # default_noreply: its sets wait for the server's reply (else the
        # read after them can come first).
        ("pymemcache", PymemcacheClient((host, int(port)), default_noreply=False,
                                        serde=CompressedSerde(min_compress_len=100)), {}),
    ]


def test_their_values_read_back_exactly(server, m, mc, real_python_memcached):
    for name, peer, compress in peers(server, real_python_memcached):
        values = {f"{name}:text": "short \u00e9", f"{name}:bytes": b"\x00\xff short",
                  f"{name}:ztext": TEXT, f"{name}:zbytes": BYTES}
        for key, value in values.items():
            assert peer.set(key, value, **compress)
        for key, value in values.items():
            assert m.get(key) == value, key
            assert type(m.get(key)) is type(value), key
            assert mc.get(key) == value, key
        assert m.mget(list(values)) == values
        assert mc.get_multi(list(values)) == values
        assert m.flags(f"{name}:ztext") == 24
        assert m.flags(f"{name}:zbytes") == 8


def test_our_compressed_values_read_back_exactly_in_theirs(server, mc, real_python_memcached):
    ours = memcache.create(server.spec, compress=100)
    ours.put("seed:ztext", TEXT, 0)
    ours.put("seed:zbytes", BYTES, 0)
    mc.set("client:ztext", TEXT, min_compress_len=100)
    mc.set("client:zbytes", BYTES, min_compress_len=100)
    assert ours.flags("seed:ztext") == 24 and ours.flags("client:zbytes") == 8
    for name, peer, _ in peers(server, real_python_memcached):
        for who in ("seed", "client"):
            assert peer.get(f"{who}:ztext") == TEXT, (name, who)
            assert peer.get(f"{who}:zbytes") == BYTES, (name, who)
