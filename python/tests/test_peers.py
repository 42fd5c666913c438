"""pylibmc's and pymemcache's values (text and bytes, short and zlib
compressed with flag 8) read back exactly by this module, seed interface
and Client; this module's compressed values read back exactly by them."""

import pylibmc
from pymemcache.client.base import Client as PymemcacheClient
from pymemcache.serde import CompressedSerde

import memcache

TEXT = "caf\u00e9 \U0001F600 " * 300
BYTES = bytes(range(256)) * 20


def peers(server):
    """(name, client, extra set() arguments that compress long values)."""
    host, port = server.spec.rsplit(":", 1)
    return [
        ("pylibmc", pylibmc.Client([server.spec]), {"min_compress_len": 100}),
        # default_noreply: its sets wait for the server's reply (else the
        # read after them can come first).
        ("pymemcache", PymemcacheClient((host, int(port)), default_noreply=False,
                                        serde=CompressedSerde(min_compress_len=100)), {}),
    ]


def test_their_values_read_back_exactly(server, m, mc):
    for name, peer, compress in peers(server):
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


def test_our_compressed_values_read_back_exactly_in_theirs(server, mc):
    ours = memcache.create(server.spec, compress=100)
    ours.put("seed:ztext", TEXT, 0)
    ours.put("seed:zbytes", BYTES, 0)
    mc.set("client:ztext", TEXT, min_compress_len=100)
    mc.set("client:zbytes", BYTES, min_compress_len=100)
    assert ours.flags("seed:ztext") == 24 and ours.flags("client:zbytes") == 8
    for name, peer, _ in peers(server):
        for who in ("seed", "client"):
            assert peer.get(f"{who}:ztext") == TEXT, (name, who)
            assert peer.get(f"{who}:zbytes") == BYTES, (name, who)
