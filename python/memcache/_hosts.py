"""python-memcached's servers: how its server strings read (``"host:port"``,
``("host:port", weight)``, ``"unix:/path"``, ``"inet:host:port"``,
``"inet6:[::1]:port"``), as libmemcache server specs and as the names
``get_stats`` gives them; and ``_Host``, its server class, for programs
that import it."""

import re
import socket
import sys

from . import _native

_DEAD_RETRY = 30
_SOCKET_TIMEOUT = 3


def _spec(server):
    """A python-memcached server (``"host:port"``, ``("host:port",
    weight)``, ``"unix:/path"``, ``"inet:host:port"``,
    ``"inet6:[::1]:port"``) as a libmemcache server spec."""
    for proto in ("unix:", "inet6:", "inet:"):
        if server.startswith(proto):
            server = server[len(proto):]
            break
    if not re.match(r"^(/.*|\[[^\[\]]+\](:[0-9]+)?|[^:]+(:[0-9]+)?)$", server):
        raise ValueError('Unable to parse connection string: "%s"' % server)
    return server


def _stat_name(server, weight):
    """python-memcached's name of a server in ``get_stats``."""
    if server.startswith("unix:"):
        return "unix:%s (%d)" % (server[5:], weight)
    m = re.match(r"^(?:inet6:)?\[([^\[\]]+)\](?::([0-9]+))?$", server)
    if m:
        return "[%s]:%s (%d)" % (m[1], m[2] or 11211, weight)
    host, _, port = server[5:].partition(":") if server.startswith("inet:") else server.partition(":")
    return "%s:%s (%d)" % (host, port or 11211, weight)


class _Host:
    """One server of a :class:`Client` (python-memcached's name, kept for
    programs that import it): its address as python-memcached parses it
    and its weight. The connections themselves are the library's."""

    def __init__(self, host, debug=0, dead_retry=_DEAD_RETRY,
                 socket_timeout=_SOCKET_TIMEOUT, flush_on_reconnect=0):
        self.debug = debug
        self.dead_retry = dead_retry
        self.socket_timeout = socket_timeout
        self.flush_on_reconnect = flush_on_reconnect
        self.weight = 1
        self._client, self._index = None, 0
        if isinstance(host, tuple):
            host, self.weight = host
        self.spec = _spec(host)
        self.name = _stat_name(host, self.weight)
        if host.startswith("unix:"):
            self.family, self.address = socket.AF_UNIX, host[5:]
        else:
            m = re.match(r"^(?:inet6:)?\[([^\[\]]+)\](?::([0-9]+))?$", host)
            self.family = socket.AF_INET6 if m else socket.AF_INET
            if not m:
                m = re.match(r"^(?:inet:)?([^:]+)(?::([0-9]+))?$", host)
            self.ip, self.port = m[1], int(m[2] or 11211)
            self.address = (self.ip, self.port)

    def debuglog(self, str):
        if self.debug:
            sys.stderr.write("MemCached: %s\n" % str)

    def mark_dead(self, reason):
        """Leaves this server alone for a while, as if it had failed: its
        keys go to the next server (one second the first time, doubling
        up to ``dead_retry``)."""
        self.debuglog("MemCache: {}: {}.  Marking dead.".format(self, reason))
        if self._client is not None and self._client._h is not None:
            _native.mark_dead(self._client._h, self._index, str(reason))

    def __str__(self):
        if self.family == socket.AF_INET:
            return "inet:%s:%d" % self.address
        if self.family == socket.AF_INET6:
            return "inet6:[%s]:%d" % self.address
        return "unix:%s" % self.address
