"""python-memcached's ``Client`` (version 1.62), drop-in, on libmemcache.

Same constructor, methods, return values, exceptions and messages; the
same bytes on the servers (flags: 1 pickle, 2 int, 8 zlib, 16 text) and
the same server for every key (crc32 modula over the weighted server
list, the same rehash when a server is dead), so both read each other's
data on shared servers.

Safer where python-memcached is not: a connection that saw an error or a
timeout is closed, never read again (no late reply taken as the next
answer); a forked child never uses its parent's sockets; one Client may
be shared by threads (it is not a ``threading.local``: each call takes
its own pooled connection). ``noreply`` is accepted, and the reply is
still read, so a refused store never lingers on a connection.
"""

import pickle
import re
import sys
import zlib
from io import BytesIO

from . import _native
from ._errors import ClientError, Error, ServerError, TooLarge
from ._hosts import _DEAD_RETRY, _SOCKET_TIMEOUT, _Host
from ._numbers import delta as _delta
from ._numbers import exptime as _exptime
from ._numbers import place as _place

SERVER_MAX_KEY_LENGTH = 250
SERVER_MAX_VALUE_LENGTH = 1024 * 1024

valid_key_chars_re = re.compile(b"[\x21-\x7e\x80-\xff]+$")

_SET, _ADD, _REPLACE, _APPEND, _PREPEND, _CAS = range(6)
_STORED, _NOTFOUND = 0, 1
#: The server's reply for each store result code.
_REPLIES = {0: "STORED", 1: "NOT_FOUND", 2: "NOT_STORED", 3: "EXISTS"}


def _server_words(error):
    """The server's own reply in an error message (``host:port: SERVER_ERROR
    ...``), as python-memcached logs it."""
    for mark in ("SERVER_ERROR", "CLIENT_ERROR", "ERROR"):
        at = error.message.find(mark)
        if at >= 0:
            return error.message[at:]
    return error.message


def _identity(key):
    return key


class Client(_native.ClientBase):
    """A pool of memcached servers, as python-memcached's ``Client``.

    Keys are str (sent as UTF-8) or bytes, or ``(hashvalue, key)`` tuples
    whose integer hash value picks the server. Values: bytes, str, int,
    or anything picklable. Network failures are not raised: as in
    python-memcached the call returns its failure value (``None``, ``0``,
    ``False``, the keys not stored) and the server is left alone for
    ``dead_retry`` seconds, its keys going to the next server meanwhile.
    """

    _FLAG_PICKLE = 1 << 0
    _FLAG_INTEGER = 1 << 1
    _FLAG_LONG = 1 << 2
    _FLAG_COMPRESSED = 1 << 3
    _FLAG_TEXT = 1 << 4

    _SERVER_RETRIES = 10

    class MemcachedKeyError(Exception):
        pass

    class MemcachedKeyLengthError(MemcachedKeyError):
        pass

    class MemcachedKeyCharacterError(MemcachedKeyError):
        pass

    class MemcachedKeyNoneError(MemcachedKeyError):
        pass

    class MemcachedKeyTypeError(MemcachedKeyError):
        pass

    class MemcachedStringEncodingError(Exception):
        pass

    def __init__(self, servers, debug=0, pickleProtocol=0,
                 pickler=pickle.Pickler, unpickler=pickle.Unpickler,
                 compressor=zlib.compress, decompressor=zlib.decompress,
                 pload=None, pid=None,
                 server_max_key_length=None, server_max_value_length=None,
                 dead_retry=_DEAD_RETRY, socket_timeout=_SOCKET_TIMEOUT,
                 cache_cas=False, flush_on_reconnect=0, check_keys=True,
                 key_encoder=None):
        self._h = None
        self.debug = debug
        self.dead_retry = dead_retry
        self.socket_timeout = socket_timeout
        self.flush_on_reconnect = flush_on_reconnect
        self.stats = {}  # kept by the base class, which counts its own calls
        self.cache_cas = cache_cas
        self.reset_cas()
        self.do_check_key = check_keys
        self.pickleProtocol = pickleProtocol
        self.pickler = pickler
        self.unpickler = unpickler
        self.compressor = compressor
        self.decompressor = decompressor
        self.persistent_load = pload
        self.persistent_id = pid
        self.key_encoder = key_encoder if key_encoder is not None else _identity
        self.server_max_key_length = (SERVER_MAX_KEY_LENGTH if server_max_key_length is None
                                      else server_max_key_length)
        self.server_max_value_length = (SERVER_MAX_VALUE_LENGTH if server_max_value_length is None
                                        else server_max_value_length)
        try:
            self.pickler(BytesIO(), protocol=self.pickleProtocol)
            self.picklerIsKeyword = True
        except TypeError:
            self.picklerIsKeyword = False
        self.set_servers(servers)

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in ("key_encoder", "decompressor"):
            self._refresh()

    def _refresh(self):
        """Whether get and set may take the base class's fast path (the
        hooks are the defaults), and whether the library decompresses flag
        8 itself (zlib's decompressor)."""
        zlib_values = getattr(self, "decompressor", None) is zlib.decompress
        self._fast = zlib_values and getattr(self, "key_encoder", None) is _identity
        if self._h is not None:
            _native.set_value_format(self._h, 1 if zlib_values else 0)

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            try:
                _native.delete(self._h)
            except Exception:
                pass

    # ----- setup -----

    def set_servers(self, servers):
        """Sets the pool of servers: ``"host:port"`` strings or
        ``("host:port", weight)`` tuples."""
        if isinstance(servers, str):
            servers = [servers]
        self.servers = [_Host(s, self.debug, dead_retry=self.dead_retry,
                              socket_timeout=self.socket_timeout,
                              flush_on_reconnect=self.flush_on_reconnect)
                        for s in servers]
        for index, host in enumerate(self.servers):
            host._client, host._index = self, index
        specs = [s.spec if s.weight == 1 else f"{s.spec}*{int(s.weight)}" for s in self.servers]
        settings = [
            ("distribution", "modula"), ("failover", "1"), ("autostart", "0"),
            ("retry", str(self.dead_retry)),
            ("timeout", str(max(1, int(self.socket_timeout * 1000)))),
            ("connecttimeout", str(max(1, int(self.socket_timeout * 1000)))),
        ]
        old, self._h = self._h, (_native.create(specs, settings) if specs else None)
        if old is not None:
            _native.delete(old)
        self._refresh()

    def reset_cas(self):
        """Empties the cache of CAS values kept by :meth:`gets` (with
        ``cache_cas=True``)."""
        self.cas_ids = {}

    def debuglog(self, str):
        if self.debug:
            sys.stderr.write("MemCached: %s\n" % str)

    def forget_dead_hosts(self):
        """Resets every server to alive."""
        if self._h is not None:
            _native.forget_dead(self._h)

    def disconnect_all(self):
        """Closes every idle connection (they reopen when needed)."""
        if self._h is not None:
            _native.disconnect(self._h)

    quit_all = disconnect_all

    # ----- keys -----

    def _encode_key(self, key):
        if isinstance(key, tuple):
            if isinstance(key[1], str):
                return (key[0], key[1].encode("utf8"))
        elif isinstance(key, str):
            return key.encode("utf8")
        return key

    def check_key(self, key, key_extra_len=0):
        """Checks a key as python-memcached 1.62 does (the calls check it as
        bytes: an empty one is a ``MemcachedKeyCharacterError`` there)."""
        if isinstance(key, tuple):
            key = key[1]
        if key is None:
            raise Client.MemcachedKeyNoneError("Key is None")
        if key == "":
            if key_extra_len == 0:
                raise Client.MemcachedKeyNoneError("Key is empty")
            return
        if not isinstance(key, bytes):
            raise Client.MemcachedKeyTypeError("Key must be a binary string")
        if (self.server_max_key_length != 0
                and len(key) + key_extra_len > self.server_max_key_length):
            raise Client.MemcachedKeyLengthError("Key length is > %s" % self.server_max_key_length)
        if not valid_key_chars_re.match(key):
            raise Client.MemcachedKeyCharacterError(
                "Control/space characters not allowed (key=%r)" % key)

    def _key(self, key):
        """``(key bytes, place)`` of a key argument, checked."""
        key = self._encode_key(self.key_encoder(key))
        if self.do_check_key:
            self.check_key(key)
        if isinstance(key, tuple):
            return key[1], _place(key[0])
        if not isinstance(key, bytes):
            raise Client.MemcachedKeyTypeError("Key must be a binary string")
        return key, None

    # ----- values -----

    def _val_to_store_info(self, val, min_compress_len):
        """``(flags, length, bytes)`` of a value, or 0 when it is over
        ``server_max_value_length`` (not stored, as python-memcached)."""
        flags = 0
        val_type = type(val)
        if val_type == bytes:
            pass
        elif val_type == str:
            flags |= Client._FLAG_TEXT
            val = val.encode("utf-8")
        elif val_type == int:
            flags |= Client._FLAG_INTEGER
            val = ("%d" % val).encode("ascii")
            min_compress_len = 0
        else:
            flags |= Client._FLAG_PICKLE
            file = BytesIO()
            if self.picklerIsKeyword:
                pickler = self.pickler(file, protocol=self.pickleProtocol)
            else:
                pickler = self.pickler(file, self.pickleProtocol)
            if self.persistent_id:
                pickler.persistent_id = self.persistent_id
            pickler.dump(val)
            val = file.getvalue()
        lv = len(val)
        if min_compress_len and lv > min_compress_len:
            comp_val = self.compressor(val)
            if len(comp_val) < lv:
                flags |= Client._FLAG_COMPRESSED
                val = comp_val
        if self.server_max_value_length != 0 and len(val) > self.server_max_value_length:
            return 0
        return (flags, len(val), val)

    def _recv_value(self, buf, flags):
        if flags & Client._FLAG_COMPRESSED:
            buf = self.decompressor(buf)
            flags &= ~Client._FLAG_COMPRESSED
        if flags == 0:
            return buf
        if flags & Client._FLAG_TEXT:
            return buf.decode("utf-8")
        if flags & (Client._FLAG_INTEGER | Client._FLAG_LONG):
            return int(buf)
        if flags & Client._FLAG_PICKLE:
            try:
                unpickler = self.unpickler(BytesIO(buf))
                if self.persistent_load:
                    unpickler.persistent_load = self.persistent_load
                return unpickler.load()
            except Exception as e:
                self.debuglog("Pickle error: %s\n" % e)
                return None
        self.debuglog("unknown flags on get: %x\n" % flags)
        raise ValueError("Unknown flags on get: %x" % flags)

    def _failed(self, error):
        self.debuglog(str(error))

    def _unexpected(self, expected, reply):
        self.debuglog("while expecting %r, got unexpected response %r" % (expected, reply))

    # ----- storing -----

    def _set(self, verb, key, val, time, min_compress_len, noreply):
        key, place = self._key(key)
        if self._h is None:
            return 0
        self._statlog(("set", "add", "replace", "append", "prepend", "cas")[verb])
        time, cas = _exptime(time), 0
        if verb == _CAS:
            if key not in self.cas_ids:
                verb = _SET
            else:
                cas = self.cas_ids[key]
        info = self._val_to_store_info(val, min_compress_len)
        if not info:
            return 0
        flags, _, data = info
        try:
            code = _native.store(self._h, verb, key, data, flags, time, cas, place, True)
        except Error as e:
            return self._store_failed(e)
        return self._store_result(code, noreply)

    def _store_failed(self, error):
        """What a store that raised returns: False for the server's refusal
        (with python-memcached's log line), 0 for a failure to reach it."""
        if isinstance(error, (TooLarge, ServerError, ClientError)):
            self._unexpected("STORED", _server_words(error))
            return False
        if isinstance(error, Error):
            self._failed(error)
            return 0
        raise error

    def _store_result(self, code, noreply):
        if code != _STORED:
            self._unexpected("STORED", _REPLIES[code])
        return True if noreply else code == _STORED

    def add(self, key, val, time=0, min_compress_len=0, noreply=False):
        """Stores only if the key has no value."""
        return self._set(_ADD, key, val, time, min_compress_len, noreply)

    def replace(self, key, val, time=0, min_compress_len=0, noreply=False):
        """Stores only if the key has a value."""
        return self._set(_REPLACE, key, val, time, min_compress_len, noreply)

    def append(self, key, val, time=0, min_compress_len=0, noreply=False):
        """Appends to the key's value (only if it has one)."""
        return self._set(_APPEND, key, val, time, min_compress_len, noreply)

    def prepend(self, key, val, time=0, min_compress_len=0, noreply=False):
        """Prepends to the key's value (only if it has one)."""
        return self._set(_PREPEND, key, val, time, min_compress_len, noreply)

    def cas(self, key, val, time=0, min_compress_len=0, noreply=False):
        """Stores only if unchanged since :meth:`gets` (with
        ``cache_cas``); a plain set for a key never read by gets."""
        return self._set(_CAS, key, val, time, min_compress_len, noreply)

    # ----- reading -----

    def _get(self, key, default, want_cas):
        key, place = self._key(key)
        if self._h is None:
            return None
        self._statlog("gets" if want_cas else "get")
        try:
            hit = _native.get(self._h, key, place)
        except Error as e:
            return self._get_failed(e)
        if hit is None:
            return default
        if want_cas and self.cache_cas:
            self.cas_ids[key] = hit[2]
        return self._recv_value(hit[0], hit[1])

    def _get_failed(self, error):
        if not isinstance(error, Error):
            raise error
        self._failed(error)
        return None

    def gets(self, key):
        """As :meth:`get`, keeping the CAS value for :meth:`cas` (with
        ``cache_cas=True``)."""
        return self._get(key, None, True)

    def _map_keys(self, keys, key_prefix):
        """The prefixed keys, each with its place and original key."""
        key_prefix = self._encode_key(key_prefix)
        extra = len(key_prefix)
        if key_prefix and self.do_check_key:
            self.check_key(key_prefix)
        mapped = []
        for orig_key in keys:
            if isinstance(orig_key, tuple):
                serverhash, key = orig_key
                place = _place(serverhash)
            else:
                key, place = orig_key, None
            key = self._encode_key(self.key_encoder(key))
            if not isinstance(key, bytes):
                key = str(key).encode("utf8")
            if orig_key is None:
                self.check_key(orig_key, key_extra_len=extra)
            if self.do_check_key:
                self.check_key(key, key_extra_len=extra)
            mapped.append((key_prefix + key, place, orig_key))
        return mapped

    def _get_multi(self, keys, key_prefix=""):
        """``get_multi`` in full (see the base class's ``get_multi``)."""
        self._statlog("get_multi")
        mapped = self._map_keys(keys, key_prefix)
        if self._h is None or not mapped:
            return {}
        originals = {sent: orig for sent, _, orig in mapped}
        out = {}
        for place, sent in self._by_place(mapped):
            try:
                hits = _native.get_multi(self._h, sent, place, place is None)
            except Error as e:
                self._failed(e)
                continue
            for key, data, flags, _cas in hits:
                out[originals[key]] = self._recv_value(data, flags)
        return out

    @staticmethod
    def _by_place(mapped):
        """The keys grouped by placement value, in order."""
        groups = {}
        for sent, place, _ in mapped:
            groups.setdefault(place, []).append(sent)
        return groups.items()

    def set_multi(self, mapping, time=0, key_prefix="", min_compress_len=0, noreply=False):
        """Stores every ``key: value``; returns the original keys not
        stored. One pipelined request per server."""
        self._statlog("set_multi")
        mapped = self._map_keys(mapping.keys(), key_prefix)
        if self._h is None:
            return [*mapping.keys()]
        time = _exptime(time)
        notstored = []
        plain, placed = [], []
        for sent, place, orig in mapped:
            info = self._val_to_store_info(mapping[orig], min_compress_len)
            if not info:
                notstored.append(orig)
            elif place is None:
                plain.append((sent, info[2], info[0], orig))
            else:
                placed.append((sent, place, info, orig))
        if plain:
            try:
                codes = _native.set_multi(self._h, [(k, v, f) for k, v, f, _ in plain], time, True)
                notstored += [o for (_, _, _, o), code in zip(plain, codes) if code != _STORED]
            except Error as e:
                self._failed(e)
                notstored += [o for _, _, _, o in plain]
        for sent, place, (flags, _, data), orig in placed:
            try:
                if _native.store(self._h, _SET, sent, data, flags, time, 0, place, True) != _STORED:
                    notstored.append(orig)
            except Error as e:
                self._failed(e)
                notstored.append(orig)
        return notstored

    # ----- other changes -----

    def delete(self, key, time=None, noreply=False):
        """Deletes the key now: 1 if it had a value, else 0 (a ``time``, the
        hold memcached dropped in 1.4, is accepted and left out)."""
        key, place = self._key(key)
        if self._h is None:
            return 0
        self._statlog("delete")
        try:
            if _native.remove(self._h, key, place) or noreply:
                return 1
        except Error as e:
            self._failed(e)
            return 0
        self.debuglog("delete expected DELETED, got: %r" % b"NOT_FOUND")
        return 0

    def delete_multi(self, keys, time=None, key_prefix="", noreply=False):
        """Deletes the keys: 1 unless a server could not be reached."""
        self._statlog("delete_multi")
        mapped = self._map_keys(keys, key_prefix)
        if self._h is None:
            return 0
        rc = 1
        for place, sent in self._by_place(mapped):
            try:
                if place is None:
                    found = [code == _STORED for code in _native.remove_multi(self._h, sent)]
                else:
                    found = [_native.remove(self._h, key, place) for key in sent]
                for had in found:
                    if not had:
                        self._unexpected("DELETED", "NOT_FOUND")
            except Error as e:
                self._failed(e)
                rc = 0
        return rc

    def touch(self, key, time=0, noreply=False):
        """Gives the key a new expiry: 1 if it had a value, else 0."""
        key, place = self._key(key)
        if self._h is None:
            return 0
        self._statlog("touch")
        time = _exptime(time)
        try:
            if _native.touch(self._h, key, time, place, True) or noreply:
                return 1
        except Error as e:
            self._failed(e)
            return 0
        self.debuglog("touch expected TOUCHED, got: %r" % b"NOT_FOUND")
        return 0

    def _incrdecr(self, key, delta, down, noreply):
        key, place = self._key(key)
        if self._h is None:
            return None
        self._statlog("decr" if down else "incr")
        try:
            value = _native.count(self._h, key, _delta(delta), down, place)
        except ValueError:
            raise
        except Error as e:
            self._failed(e)
            return None
        return None if noreply else value

    def incr(self, key, delta=1, noreply=False):
        """Adds ``delta`` to a decimal value: the new value, or None."""
        return self._incrdecr(key, delta, False, noreply)

    def decr(self, key, delta=1, noreply=False):
        """Subtracts ``delta`` (stopping at 0): the new value, or None."""
        return self._incrdecr(key, delta, True, noreply)

    # ----- servers -----

    def _server_names(self):
        return [server.name for server in self.servers]

    def get_stats(self, stat_args=None):
        """``[(server name, {statistic: value})]`` of the servers that
        answer (``stat_args``: ``"items"``, ``"slabs"``...)."""
        if self._h is None:
            return []
        names = self._server_names()
        data = {}
        for i in range(len(names)):
            try:
                rows = _native.stats_of(self._h, i, stat_args or None)
            except Error as e:
                self._failed(e)
                continue
            data[i] = dict(rows)
        return [(names[i], stats) for i, stats in sorted(data.items())]

    def get_slab_stats(self):
        """``stats slabs`` of each server, by slab number."""
        out = []
        for name, stats in self.get_stats("slabs"):
            server = {}
            for stat, value in stats.items():
                if stat in ("active_slabs", "total_malloced"):
                    server[stat] = value
                else:
                    slab, field = stat.split(":", 1)
                    server.setdefault(slab, {})[field] = value
            out.append((name, server))
        return out

    def get_slabs(self):
        """``stats items`` of each server, by slab number."""
        out = []
        for name, stats in self.get_stats("items"):
            server = {}
            for stat, value in stats.items():
                parts = stat.split(":", 2)
                if len(parts) == 3:
                    server.setdefault(parts[1], {})[parts[2]] = value
            out.append((name, server))
        return out

    def flush_all(self):
        """Invalidates every item on the servers that answer."""
        if self._h is None:
            return
        try:
            _native.flush(self._h, 0)
        except Error as e:
            self._failed(e)
