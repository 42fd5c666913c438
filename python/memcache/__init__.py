"""memcache: a memcached client on libmemcache's Rust core.

Two interfaces in one module, over the same handles, connections and
speed as the library's Tcl and C bindings:

* seed 000's ``memcache`` ensemble in Python form::

      import memcache
      m = memcache.create("./state.sock")      # starts a daemon if needed
      key = m.put("some data")                  # a new unique key
      m.put("counter", "0", ttl=60)
      m.session = "abc"                         # m.put("session", "abc")
      print(m["session"], m.get(key), "counter" in m)
      memcache.ref(str(m)) == m                 # the handle by its name

* python-memcached's ``Client``, drop-in::

      mc = memcache.Client(["127.0.0.1:11211"])
      mc.set("k", {"any": "picklable"}); mc.get("k")

Handles are the library's, shared by every language in the process: a
handle made by Tcl's ``memcache create`` (tkinter) or C's ``mc_create`` is
``memcache.ref("memcache0")`` here, and ``str(m)`` names this one there,
as long as they use the library at ``memcache.LIBRARY``
(:func:`tcl_load` loads it into a Tcl interpreter).

Values: ``bytes`` are stored as they are (flag 0), ``str`` as UTF-8 with
flag 16 and read back as ``str``, the convention of the Tcl binding and
of python-memcached. Errors are the classes below :class:`Error`.

Every call that waits on the network releases the GIL; one object may be
used by many threads at once (each call takes its own pooled connection),
and a forked child never uses a connection of its parent.
"""

import ctypes as _ctypes
import fnmatch as _fnmatch
import importlib.util as _importlib_util
import os as _os
import sys as _sys


def _load_library():
    """Binds the package to one libmemcache: the one already in the
    process if there is one (loaded by Tcl or a C program: found by its
    soname), else the package's own. RTLD_GLOBAL, so that the _native
    module's C calls resolve to it."""
    mode = _os.RTLD_GLOBAL | _os.RTLD_NOW
    try:
        return _ctypes.CDLL("libmemcache.so.0", mode=mode | _os.RTLD_NOLOAD)
    except OSError:
        pass
    spec = _importlib_util.find_spec("memcache.libmemcache")
    if spec is None or spec.origin is None:
        raise ImportError("memcache: its library (memcache/libmemcache*.so) is missing: reinstall the package")
    return _ctypes.CDLL(spec.origin, mode=mode)


_library = _load_library()

from . import _native  # noqa: E402  (needs the library loaded first)
from ._errors import (  # noqa: E402
    BY_CODE as _BY_CODE,
    AuthError, BadHandle, BadKey, ClientError, Conflict, DaemonError, Error,
    Exists, InternalError, InvalidArgument, NetworkError, NotFound,
    NotNumeric, NotStored, ProtocolError, ServerError, Timeout, TooLarge,
)

_native.init(dict(_BY_CODE))

from ._memcache import KEEP, OPTIONS, TEXT_FLAG, Memcache, _settings  # noqa: E402

# Its documented home: memcache.Memcache.
Memcache.__module__ = "memcache"

#: The I/O error by its kind's name (``memcache.IOError``): the same class
#: as :class:`NetworkError`, a ``ConnectionError`` (so an ``OSError``).
#: Not exported by ``from memcache import *``, where it would hide the
#: builtin ``IOError``.
IOError = NetworkError  # noqa: A001

#: The path of the libmemcache this module uses: the file to ``load`` into
#: Tcl (or open with ctypes) to share its handles.
LIBRARY = _native.library_path()


def create(*servers, **options):
    """A new handle for the servers: ``host``, ``host:port``,
    ``[::1]:port``, or a socket file (a name with ``/``, a leading dot, or
    ``|``/``=`` around it), for which a daemon is started if nothing
    answers. Options as :meth:`Memcache.configure`, applied first."""
    if not servers:
        raise TypeError("create() needs at least one server")
    # python-memcached's flags unless told otherwise, as Tcl's handles:
    # 16 is text, 8 zlib.
    settings = _settings({"valueformat": "python", **options})
    return Memcache(_native.create([str(s) for s in servers], settings))


def ref(name):
    """The :class:`Memcache` of the handle called ``name`` (made here, in
    Tcl or in C); :class:`BadHandle` if there is none."""
    if isinstance(name, Memcache):
        name = str(name)
    return Memcache(_native.find(str(name)))


def list(pattern=None):  # noqa: A001  (seed 000's name)
    """The names of the live handles, oldest first; with ``pattern``,
    those that match it (glob style, as Tcl's ``string match``)."""
    names = [f"memcache{h}" for h in _native.handles()]
    if pattern is None:
        return names
    return [n for n in names if _fnmatch.fnmatchcase(n, pattern)]


def delete(*handles):
    """``delete("all")`` deletes every handle of the process;
    ``delete(m, ...)`` the ones given (objects or names). Returns how
    many were deleted."""
    if handles == ("all",):
        return _native.delete_all()
    for handle in handles:
        _native.delete(_native.find(str(handle)))
    return len(handles)


def tcl_load(interp):
    """Loads this module's library into a Tcl interpreter (a
    ``tkinter.Tcl()`` or ``Tk()``) as the ``memcache`` command, so that
    Tcl and Python share handles. Returns the package version."""
    tk = getattr(interp, "tk", interp)
    tk.call("load", LIBRARY, "Memcache")
    return tk.call("package", "provide", "memcache")


from ._client import Client, _Host  # noqa: E402, F401  (_Host: python-memcached's name)

# Their documented home: memcache.Client, memcache.Error.
Client.__module__ = Error.__module__ = "memcache"
from . import _client as _client_module  # noqa: E402

SERVER_MAX_KEY_LENGTH = _client_module.SERVER_MAX_KEY_LENGTH
SERVER_MAX_VALUE_LENGTH = _client_module.SERVER_MAX_VALUE_LENGTH
_DEAD_RETRY = _client_module._DEAD_RETRY
_SOCKET_TIMEOUT = _client_module._SOCKET_TIMEOUT
__version__ = "0.1.0"
__author__ = "the memcache developers"

#: The module itself: after seed 000's ``from memcache import *`` its
#: calls read as in Tcl, ``memcache.create(...)``, ``memcache.list()``,
#: ``memcache.delete("all")``.
memcache = _sys.modules[__name__]

__all__ = [
    # Not `list` and `delete`: they would hide the builtin `list` of a
    # program that does `from memcache import *`; use memcache.list().
    "memcache", "Memcache", "Client", "create", "ref", "tcl_load", "KEEP",
    "LIBRARY", "OPTIONS", "TEXT_FLAG", "SERVER_MAX_KEY_LENGTH", "SERVER_MAX_VALUE_LENGTH",
    "Error", "NotFound", "NotStored", "Exists", "BadKey", "TooLarge",
    "NotNumeric", "Timeout", "NetworkError", "ServerError", "ClientError",
    "ProtocolError", "BadHandle", "InvalidArgument", "DaemonError",
    "InternalError", "Conflict", "AuthError",
]
