"""The numbers of python-memcached's ``Client`` calls as the library takes
them: an expiry ``time``, an ``incr``/``decr`` delta and the hash value of
a ``(hashvalue, key)`` key."""

from datetime import timedelta

from ._errors import InvalidArgument


def exptime(time):
    """A ``time`` argument (seconds, or a ``timedelta``) as memcached's own
    exptime, which the library sends as it is: 0 for none, up to 30 days
    relative seconds, beyond that a Unix time, negative gone at once. It is
    a signed 32-bit number to memcached, which refuses any other."""
    if isinstance(time, timedelta):
        time = time.total_seconds()
    time = int(time)
    if not -(1 << 31) <= time < 1 << 31:
        raise InvalidArgument('bad time "%d": memcached reads a number from -2147483648 to 2147483647' % time)
    return time


def delta(n):
    """An ``incr``/``decr`` delta: memcached takes 0 to 2**64 - 1 (a
    negative one is its "invalid numeric delta argument")."""
    n = int(n)
    if not 0 <= n < 1 << 64:
        raise InvalidArgument('bad delta "%d": must be a number from 0 to %d' % (n, (1 << 64) - 1))
    return n


def place(hashvalue):
    """The placement value of a ``(hashvalue, key)`` key: its int hash value
    in decimal (python-memcached takes it modulo the servers, so any other
    type is a ``TypeError`` there too)."""
    if not isinstance(hashvalue, int):
        raise TypeError("the hash value of a (hashvalue, key) key must be an int, not "
                        + type(hashvalue).__name__)
    return str(int(hashvalue)).encode()
