"""Seed 000's interface object, :class:`Memcache` (re-exported by the
package as ``memcache.Memcache``), with the conversions between Python
values and the library's bytes and flags that it shares with the module
functions of ``memcache``.

Its ``get``, ``put`` and ``mget`` are the base class's (``_native.Handle``,
in Rust, for speed): they take the common case and call the methods
``_get``, ``_put``, ``_mget``, ``_miss`` and ``_refused`` here for the
rest.
"""

import builtins as _builtins

from . import _native
from ._errors import Exists, InvalidArgument, NotFound, NotStored

#: The text flag: values stored from ``str`` (python-memcached, pymemcache
#: and the Tcl binding use the same).
TEXT_FLAG = 16

_VERBS = {"set": 0, "add": 1, "replace": 2, "append": 3, "prepend": 4, "cas": 5, "append_or_add": 6}
_STORED, _NOTFOUND, _NOTSTORED, _EXISTS = 0, 1, 2, 3


def _key(key):
    """A key as bytes: str is encoded as UTF-8 (the same string always
    names the same item in every language)."""
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    raise TypeError(f"key must be str or bytes, not {type(key).__name__}")


def _show(key):
    return key.decode("utf-8", "backslashreplace")


def _data(data, flags, text_flag):
    """``(bytes, flags)`` to store: str as UTF-8 with ``text_flag`` (the
    handle's format's: 16 in python, none in php)."""
    if isinstance(data, str):
        return data.encode("utf-8"), flags | text_flag
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), flags
    raise TypeError(f"data must be str or bytes, not {type(data).__name__}")


def _value(data, flags, fmt):
    """What was stored: str for UTF-8 that the handle's format ``fmt``
    reads as text (python: flagged 16; php: a PHP string, number or
    boolean), else bytes."""
    if _native.is_text(fmt, flags):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data
    return data


def _seconds(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgument(f'bad {what} "{value}": must be a number of seconds from 0 to 4294967295')
    return value


def _flags(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgument(f'bad flags "{value}": must be a number from 0 to 4294967295')
    return value


def _text(value):
    """An option's value as the library's text."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (_builtins.list, tuple)):
        return "\n".join(str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


_NUMERIC = {"ttl", "timeout", "connecttimeout", "memory", "compress"}
_BOOLEAN = {"failover", "autostart", "persist", "tls", "tlsverify", "binarykeys"}


def _option(name, text):
    """An option's text from the library as a Python value."""
    if name in _NUMERIC:
        return int(text)
    if name in _BOOLEAN:
        return text == "1"
    if name == "retry":
        number = float(text)
        return int(number) if number.is_integer() else number
    if name == "daemonargs":
        return text.split("\n") if text else []
    return text


def _settings(options):
    """The (name, text) pairs of keyword settings."""
    return [(name.lstrip("-"), _text(value)) for name, value in options.items()]


class Memcache(_native.Handle):
    """A handle of the library (seed 000's interface object).

    Made by :func:`create`, found by :func:`ref`; ``str(m)`` is its name
    (``memcache0``), usable from Tcl and C in the same process. Items can
    also be reached as attributes (``m.key = data``, ``m.key``) and items
    (``m[key] = data``, ``m[key]``, ``del m[key]``, ``key in m``); a key
    named like a method is reached only through :meth:`get` and
    :meth:`put`.
    """

    # get and put are the base class's (in Rust, for speed): they handle
    # the common case and call _get, _put, _miss and _refused for the rest.
    __slots__ = ("_name",)

    def __init__(self, handle):
        object.__setattr__(self, "_name", f"memcache{handle}")

    def __str__(self):
        return self._name

    def __repr__(self):
        return f"<memcache.Memcache {self._name}>"

    def __eq__(self, other):
        return isinstance(other, Memcache) and other._h == self._h

    def __hash__(self):
        return hash(self._h)

    # ----- storing -----

    def _put(self, *args, ttl=None, flags=0):
        """``put`` in full (see the base class's ``put``)."""
        return self._store_any("set", args, ttl, flags)

    def _refused(self, key):
        raise NotStored(f'not stored: the server refused to store key "{_show(_key(key))}"')

    def append(self, *args, ttl=None, flags=0):
        """As :meth:`put`, but appends to the data of an existing key
        (atomically, also against other clients); returns the key."""
        return self._store_any("append_or_add", args, ttl, flags)

    def _store_any(self, verb, args, ttl, flags):
        if len(args) == 1:
            key, data = "", args[0]
        elif len(args) in (2, 3, 4):
            key, data = args[0], args[1]
            if len(args) >= 3:
                ttl = args[2]
            if len(args) == 4:
                flags = args[3]
        else:
            raise TypeError(f"{verb if verb == 'set' else 'append'}() takes (data) or (key, data, ttl=None, flags=0)")
        given = _key(key)
        ttl = self._ttl(ttl)  # before the flags, as Tcl reads them
        value, flags = _data(data, _flags(flags), _native.text_flag(self._format))
        made = given or _native.unique_key().encode()
        code = _native.store(self._h, _VERBS[verb], made, value, flags, ttl)
        if code != _STORED:
            why = ("key kept changing while appending to it" if verb == "append_or_add"
                   else "the server refused to store key")
            raise NotStored(f'not stored: {why} "{_show(made)}"')
        return key if given else made.decode()

    def _ttl(self, ttl):
        if ttl is None:
            return int(_native.option(self._h, "ttl"))
        return _seconds(ttl, "ttl")

    def _store_if(self, verb, key, data, ttl, flags, cas=0):
        raw = _key(key)
        ttl = self._ttl(ttl)  # before the flags, as Tcl reads them
        value, flags = _data(data, _flags(flags), _native.text_flag(self._format))
        code = _native.store(self._h, _VERBS[verb], raw, value, flags, ttl, cas)
        if code == _STORED:
            return key
        if code == _EXISTS:
            raise Exists(f'not stored: the data of key "{_show(raw)}" changed since it was read')
        if code == _NOTFOUND:
            raise NotFound(f'no data for key "{_show(raw)}"')
        why = {"add": 'key "{}" already has data', "cas": 'the server refused to store key "{}"'}
        raise NotStored("not stored: " + why.get(verb, 'key "{}" has no data').format(_show(raw)))

    def add(self, key, data, ttl=None, flags=0):
        """Stores only if the key has no data (else :class:`NotStored`)."""
        return self._store_if("add", key, data, ttl, flags)

    def replace(self, key, data, ttl=None, flags=0):
        """Stores only if the key has data (else :class:`NotStored`)."""
        return self._store_if("replace", key, data, ttl, flags)

    def prepend(self, key, data):
        """Puts the data in front of the key's data (else :class:`NotStored`)."""
        return self._store_if("prepend", key, data, 0, 0)

    def cas(self, key, data, casid, ttl=None, flags=0):
        """Stores only if the item is unchanged since :meth:`gets` gave
        ``casid`` (else :class:`Exists`; :class:`NotFound` if gone)."""
        if isinstance(casid, bool) or not isinstance(casid, int) or not 0 <= casid < 1 << 64:
            raise InvalidArgument(f'bad casid "{casid}": must be a number from 0 to 18446744073709551615')
        return self._store_if("cas", key, data, ttl, flags, casid)

    def mput(self, items, ttl=None, flags=0):
        """Stores every ``key: data`` of a dict (pipelined: one write per
        server); returns the list of keys not stored."""
        ttl, flags = self._ttl(ttl), _flags(flags)
        if not hasattr(items, "keys"):
            raise TypeError("mput takes a dict of keys and data, not " + type(items).__name__)
        keys = [*items.keys()]
        text_flag = _native.text_flag(self._format)
        entries = [(_key(k),) + _data(items[k], flags, text_flag) for k in keys]
        codes = _native.set_multi(self._h, entries, ttl)
        return [k for k, code in zip(keys, codes) if code != _STORED]

    # ----- reading -----

    def _get(self, key, listindex=None):
        """``get`` in full (see the base class's ``get``): with
        ``listindex``, the data is read as a Tcl list and only that element
        is returned (an int, or ``"end"``, ``"end-1"``...; past the end:
        ``""``)."""
        from ._tcllist import check_index, element
        raw = _key(key)
        if listindex is not None:
            check_index(listindex)  # before the key is read, as in Tcl
        hit = _native.get(self._h, raw)
        if hit is None:
            raise NotFound(f'no data for key "{_show(raw)}"')
        data = _value(hit[0], hit[1], self._format)
        return data if listindex is None else element(data, listindex)

    def _miss(self, key):
        raise NotFound(f'no data for key "{_show(_key(key))}"')

    def gets(self, key):
        """``(data, casid)`` of the key, for :meth:`cas`."""
        raw = _key(key)
        hit = _native.get(self._h, raw)
        if hit is None:
            raise NotFound(f'no data for key "{_show(raw)}"')
        return _value(hit[0], hit[1], self._format), hit[2]

    def _mget(self, keys):
        """``mget`` in full (see the base class's ``mget``)."""
        raws = [_key(k) for k in keys]
        found = {}
        for key, data, flags, _cas in _native.get_multi(self._h, raws):
            found[key] = _value(data, flags, self._format)
        return {k: found[r] for k, r in zip(keys, raws) if r in found}

    def valid(self, key):
        """Whether the key has data (never an error for a miss)."""
        return _native.exists(self._h, _key(key))

    def ttl(self, key):
        """Seconds the key's data has left, -1 for no expiry."""
        raw = _key(key)
        left = _native.ttl(self._h, raw)
        if left is None:
            raise NotFound(f'no data for key "{_show(raw)}"')
        return left

    def flags(self, key):
        """The flags stored with the key's data, as the server holds them
        (the text flag and a compression flag included), as Tcl's."""
        raw = _key(key)
        flags = _native.flags(self._h, raw)
        if flags is None:
            raise NotFound(f'no data for key "{_show(raw)}"')
        return flags

    # ----- other changes -----

    def remove(self, key, ttl=0):
        """Deletes the key's data, now or in ``ttl`` seconds (:class:`NotFound` if none)."""
        raw = _key(key)
        ttl = _seconds(ttl, "ttl")
        had = _native.remove(self._h, raw) if ttl == 0 else _native.touch(self._h, raw, ttl)
        if not had:
            raise NotFound(f'no data for key "{_show(raw)}"')

    def mremove(self, keys):
        """Deletes many keys (pipelined); returns how many had data."""
        codes = _native.remove_multi(self._h, [_key(k) for k in keys])
        return sum(1 for code in codes if code == _STORED)

    def touch(self, key, ttl):
        """Gives the key's data a new TTL (:class:`NotFound` if none)."""
        raw = _key(key)
        if not _native.touch(self._h, raw, _seconds(ttl, "ttl")):
            raise NotFound(f'no data for key "{_show(raw)}"')

    def incr(self, key, delta=1):
        """Adds ``delta`` to a decimal counter; returns the new value."""
        return self._count(key, delta, False)

    def decr(self, key, delta=1):
        """Subtracts ``delta`` from a decimal counter (stops at 0)."""
        return self._count(key, delta, True)

    def _count(self, key, delta, down):
        raw = _key(key)
        if isinstance(delta, bool) or not isinstance(delta, int) or not 0 <= delta < 1 << 64:
            raise InvalidArgument(f'bad delta "{delta}": must be a number from 0 to 18446744073709551615')
        value = _native.count(self._h, raw, delta, down)
        if value is None:
            raise NotFound(f'no data for key "{_show(raw)}"')
        return value

    def flush(self, delay=0):
        """Invalidates every item on every server (after ``delay`` seconds)."""
        _native.flush(self._h, _seconds(delay, "delay"))

    # ----- CGI state: updates without lost writes, locks -----

    def update(self, key, change, ttl=None):
        """Changes the key's data with ``change(old)`` and no lost writes:
        ``old`` is the data (None when there is none); ``change`` returns
        the new data (str or bytes; its other flags kept), None to remove
        the item, or :data:`KEEP` to store nothing. The data is stored only
        if no other writer changed the item since it was read (added when
        there was none); when one did, it is read again and ``change`` called
        again (up to 64 times, then :class:`Conflict`), so ``change`` must
        compute from ``old`` alone. An exception from ``change`` stores
        nothing and is raised. Returns the data stored, or None."""
        raw = _key(key)
        ttl = int(_native.option(self._h, "ttl")) if ttl is None else _seconds(ttl, "ttl")
        return _native.update(self._h, raw, ttl, change, KEEP)

    def fetch(self, key, compute, ttl=None, lease=30, wait=10000, recache=0):
        """The key's data; on a miss, ``compute()`` (no arguments, returning
        str or bytes) is called by one caller among all that ask at once, in
        every thread and process, and its result stored with ``ttl`` (default:
        the handle's) and returned; the others wait for it (``wait``
        milliseconds, then each calls ``compute`` itself and stores only if
        the winner has not). The winner has ``lease`` seconds to store. Data
        marked stale (:meth:`invalidate`) is returned at once to every caller
        but one, who recomputes; with ``recache`` (seconds), so is data with
        less than that left to live. An exception from ``compute`` stores
        nothing, gives the lease back at once and is raised unchanged."""
        raw = _key(key)
        ttl = int(_native.option(self._h, "ttl")) if ttl is None else _seconds(ttl, "ttl")
        if _seconds(lease, "lease") == 0:
            # The C call reads 0 as "the default": the Tcl binding's error.
            raise InvalidArgument("a fetch needs a lease of at least 1 second, so that a caller that dies cannot keep it")
        data, flags = _native.fetch(self._h, raw, ttl, _seconds(lease, "lease"),
                                    _seconds(wait, "wait"), _seconds(recache, "recache"), compute)
        return _value(data, flags, self._format)

    def invalidate(self, key, ttl=None):
        """Marks the key's data stale instead of removing it: the next
        :meth:`fetch` calls get it at once while one of them recomputes it.
        ``ttl``: how long it may still be served (default: its lifetime is
        kept). :class:`NotFound` if there is no data."""
        raw = _key(key)
        if not _native.invalidate(self._h, raw, 0 if ttl is None else _seconds(ttl, "ttl")):
            raise NotFound(f'no data for key "{_show(raw)}"')

    def lock(self, name, ttl=60, wait=10000):
        """Takes the lock ``name`` (an item of that key) and returns its
        token, 32 hex digits only this holder knows. While another holds
        it, tries again with a growing random pause for ``wait``
        milliseconds, then :class:`Conflict`. The lock lives ``ttl``
        seconds at most, so a holder that crashed cannot keep it."""
        return _native.lock(self._h, _key(name), _seconds(ttl, "ttl"), _seconds(wait, "wait"))

    def unlock(self, name, token):
        """Releases the lock if ``token`` still holds it: True; False when
        it no longer does (it expired; another holder keeps it)."""
        return _native.unlock(self._h, _key(name), str(token))

    def locked(self, name, ttl=60, wait=10000):
        """``with m.locked(name):``, the lock held for the block."""
        return _Locked(self, name, ttl, wait)

    # ----- servers and daemons -----

    def servers(self):
        """The server names, in the order given."""
        return _native.servers(self._h)

    def setservers(self, *servers):
        """Replaces the server list (daemons started for socket files)."""
        _native.set_servers(self._h, [*servers])

    def serverof(self, key):
        """The name of the server the key goes to."""
        return self.servers()[_native.server_for_key(self._h, _key(key))]

    def forgetdead(self):
        """Clears the dead marks of the servers."""
        _native.forget_dead(self._h)

    def stats(self, group=None):
        """``{server name: {statistic: value}}`` (``group``: ``items``, ``slabs``...)."""
        names = self.servers()
        out = {name: {} for name in names}
        for server, name, value in _native.stats(self._h, group or None):
            out[names[server]][name] = value
        return out

    def status(self):
        """The statistics of the server (a dict), or a list of dicts for
        several servers, in the order named (seed 000's ``status``)."""
        all_stats = [*self.stats().values()]
        return all_stats[0] if len(all_stats) == 1 else all_stats

    def version(self):
        """``{server name: version}``."""
        return {name: _native.version(self._h, i) for i, name in enumerate(self.servers())}

    def start(self):
        """Starts the local daemons nothing answers for: 1 started, -1 nothing to do."""
        return _native.start(self._h)

    def stop(self):
        """Stops the local daemons: 1 stopped, -1 none was running."""
        return _native.stop(self._h)

    def configure(self, *names, **options):
        """With no argument, every option as a dict; with one name, its
        value; with keyword arguments, sets them (names of Tcl's
        ``configure`` options without the dash: ``ttl``, ``timeout``,
        ``connecttimeout``, ``prefix``, ``memcached``, ``memory``,
        ``socketmode``, ``daemonargs``, ``distribution``, ``retry``,
        ``failover``, ``autostart``, ``persist``, ``username``, ``password``,
        ``compress``, ``tls``, ``tlsca``, ``tlscert``, ``tlskey``, ``tlsname``,
        ``tlsverify``, ``valueformat``: ``python``, ``php`` or ``raw``,
        ``binarykeys``: keys of any bytes, see :doc:`python`). The
        password is never read back; file names may be ``str`` or
        ``pathlib.Path``."""
        if options:
            if names:
                raise TypeError("configure() takes option names or keyword settings, not both")
            _native.configure(self._h, _settings(options))
            self._refresh_format()
            return None
        if len(names) == 1:
            name = names[0].lstrip("-")
            return _option(name, _native.option(self._h, name))
        if names:
            raise TypeError("configure() takes at most one option name")
        return {name: _option(name, _native.option(self._h, name)) for name in OPTIONS}

    def delete(self):
        """Deletes this handle (its items stay on the servers)."""
        _native.delete(self._h)

    # ----- attribute and item access -----

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        hit = _native.get(self._h, _key(name))
        if hit is None:
            raise AttributeError(f"no data for key {name!r}")
        return _value(hit[0], hit[1], self._format)

    def __setattr__(self, name, data):
        if hasattr(type(self), name):
            raise AttributeError(f"{name!r} is a method of Memcache: store it with put({name!r}, data)")
        self.put(name, data)

    def __delattr__(self, name):
        try:
            self.remove(name)
        except NotFound:
            raise AttributeError(f"no data for key {name!r}") from None

    def __getitem__(self, key):
        return self.get(key)

    def __setitem__(self, key, data):
        self.put(key, data)

    def __delitem__(self, key):
        self.remove(key)

    def __contains__(self, key):
        return self.valid(key)


class _Keep:
    """The value a :meth:`Memcache.update` function returns to store
    nothing (Tcl's ``break``)."""

    def __repr__(self):
        return "memcache.KEEP"


#: Returned by an update function: store nothing.
KEEP = _Keep()


class _Locked:
    """The context manager of :meth:`Memcache.locked`."""

    def __init__(self, handle, name, ttl, wait):
        self.handle, self.name, self.ttl, self.wait = handle, name, ttl, wait
        self.token = None

    def __enter__(self):
        self.token = self.handle.lock(self.name, self.ttl, self.wait)
        return self.token

    def __exit__(self, *exc):
        self.handle.unlock(self.name, self.token)
        return False


#: The option names of :meth:`Memcache.configure`, in Tcl's order.
OPTIONS = ("ttl", "timeout", "connecttimeout", "prefix", "memcached", "memory",
           "socketmode", "daemonargs", "distribution", "retry", "failover",
           "autostart", "persist", "username", "password", "compress",
           "tls", "tlsca", "tlscert", "tlskey", "tlsname", "tlsverify", "valueformat",
           "binarykeys")
