"""The exceptions of both interfaces: one class per error kind of the
library, all under :class:`Error`, each also the standard exception a
Python programmer would catch for it (a miss is a ``KeyError``, a timeout
a ``TimeoutError``, a network failure a ``ConnectionError``...).

Every exception carries ``kind`` (the library's word: ``NOTFOUND``,
``TIMEOUT``, ... the same as Tcl's errorCode and C's ``MC_`` names) and
``message`` (the library's message, with the server's own words where
there were any).
"""


class Error(Exception):
    """Any failure of the memcache library."""

    kind = "ERROR"
    code = -1

    def __init__(self, message=""):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


def _kind(name, code, kind, *bases, doc):
    cls = type(name, (Error,) + bases, {"kind": kind, "code": code, "__doc__": doc})
    cls.__module__ = "memcache"
    # KeyError's str() quotes its argument; ours is a sentence.
    cls.__str__ = Error.__str__
    return cls


NotFound = _kind("NotFound", 1, "NOTFOUND", KeyError, doc="The key has no item.")
NotStored = _kind("NotStored", 2, "NOTSTORED", doc="The server did not store the data (add on an existing key, replace on a missing one).")
Exists = _kind("Exists", 3, "EXISTS", doc="cas on an item changed since it was read.")
BadKey = _kind("BadKey", 4, "BADKEY", ValueError, doc="The key is empty, too long, or has whitespace or control characters; nothing was sent.")
TooLarge = _kind("TooLarge", 5, "TOOLARGE", ValueError, doc="The value is larger than the server's item size limit.")
NotNumeric = _kind("NotNumeric", 6, "NOTNUMERIC", ValueError, doc="incr or decr on a value that is not a decimal number.")
Timeout = _kind("Timeout", 7, "TIMEOUT", TimeoutError, doc="No connection or no reply within the timeout; the connection was dropped.")
NetworkError = _kind("NetworkError", 8, "IO", ConnectionError, doc="A socket error: refused, reset, closed (a ConnectionError, so an IOError).")
ServerError = _kind("ServerError", 9, "SERVER", doc="The server answered SERVER_ERROR.")
ClientError = _kind("ClientError", 10, "CLIENT", doc="The server answered CLIENT_ERROR or ERROR.")
ProtocolError = _kind("ProtocolError", 11, "PROTOCOL", doc="The server's reply could not be understood or did not answer the request; the connection was dropped.")
BadHandle = _kind("BadHandle", 12, "BADHANDLE", LookupError, doc="No such handle, or it was deleted.")
InvalidArgument = _kind("InvalidArgument", 13, "INVALID", ValueError, doc="A bad argument: a malformed server, an unknown option, a value out of range.")
DaemonError = _kind("DaemonError", 14, "DAEMON", doc="A local memcached daemon could not be started or stopped.")
InternalError = _kind("InternalError", 15, "PANIC", doc="A bug in the library was caught; the message says where.")
Conflict = _kind("Conflict", 16, "CONFLICT", doc="An update whose item other writers kept changing, or a lock held by another.")
AuthError = _kind("AuthError", 17, "AUTH", PermissionError, doc="The server requires a login, and it was refused or none was set.")

#: The class of each result code of the C library.
BY_CODE = {cls.code: cls for cls in (
    NotFound, NotStored, Exists, BadKey, TooLarge, NotNumeric, Timeout,
    NetworkError, ServerError, ClientError, ProtocolError, BadHandle,
    InvalidArgument, DaemonError, InternalError, Conflict, AuthError)}
