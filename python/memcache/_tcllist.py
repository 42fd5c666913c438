"""Tcl's list syntax, for ``Memcache.get(key, listindex)``: the data read
as a Tcl list exactly as Tcl's ``lindex`` reads it (braces, quotes,
backslash substitution), so that a list stored from Tcl gives the same
element in Python. Text data gives str elements; bytes data is read as
Tcl reads a byte array (one character per byte) and gives bytes.
"""

import re

from ._errors import InvalidArgument

_SPACE = " \t\n\v\f\r"
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_INDEX = re.compile(r"^\s*(?:(end)|([+-]?\d+))(?:([+-])(\d+))?\s*$")


def _backslash(text, i):
    """The substitution of the backslash sequence at ``text[i]``: (its
    characters, the index after it)."""
    if i + 1 >= len(text):
        return "\\", i + 1
    c = text[i + 1]
    if c in _SIMPLE:
        return _SIMPLE[c], i + 2
    if c == "\n":
        j = i + 2
        while j < len(text) and text[j] in " \t":
            j += 1
        return " ", j
    for mark, most in (("x", 2), ("u", 4), ("U", 8)):
        if c == mark:
            digits = re.match(r"[0-9a-fA-F]{1,%d}" % most, text[i + 2:i + 2 + most])
            if not digits:
                return c, i + 2
            value = int(digits.group(), 16)
            if mark == "U" and value > 0x10FFFF:
                return c, i + 2
            return chr(value & 0xFF if mark == "x" else value), i + 2 + len(digits.group())
    if c in "01234567":
        digits = re.match(r"[0-7]{1,3}", text[i + 1:i + 4]).group()
        return chr(int(digits, 8) & 0xFF), i + 1 + len(digits)
    return c, i + 2


def _substituted(text, i, stops):
    """The characters of ``text`` from ``i`` up to one in ``stops`` (or the
    end), backslash sequences substituted: (them, the index of the stop)."""
    out, n = [], len(text)
    while i < n and text[i] not in stops:
        if text[i] == "\\":
            chars, i = _backslash(text, i)
            out.append(chars)
        else:
            out.append(text[i])
            i += 1
    return "".join(out), i


def split(text):
    """The elements of the Tcl list ``text``."""
    elements, i, n = [], 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            return elements
        if text[i] == "{":
            depth, j = 1, i + 1
            while j < n and depth:
                if text[j] == "\\":
                    j += 2
                    continue
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise InvalidArgument("unmatched open brace in list")
            if j < n and text[j] not in _SPACE:
                raise InvalidArgument(f'list element in braces followed by "{text[j:j + 20]}" instead of space')
            elements.append(text[i + 1:j - 1])
            i = j
        elif text[i] == '"':
            element, j = _substituted(text, i + 1, '"')
            if j >= n:
                raise InvalidArgument("unmatched open quote in list")
            if j + 1 < n and text[j + 1] not in _SPACE:
                raise InvalidArgument(f'list element in quotes followed by "{text[j + 1:j + 21]}" instead of space')
            elements.append(element)
            i = j + 1
        else:
            element, i = _substituted(text, i, _SPACE)
            elements.append(element)


def _position(index, length):
    """The element position of a Tcl index (an int, ``end``, ``end-1``,
    ``2+1``...), or None when it names no element."""
    if isinstance(index, bool):
        index = int(index)
    if isinstance(index, int):
        at = index
    else:
        m = _INDEX.match(str(index))
        if not m:
            raise InvalidArgument(f'bad index "{index}": must be integer?[+-]integer? or end?[+-]integer?')
        at = length - 1 if m[1] else int(m[2])
        if m[3]:
            at += int(m[4]) if m[3] == "+" else -int(m[4])
    return at if 0 <= at < length else None


def check_index(index):
    """Refuses a malformed Tcl index, as Tcl's ``get`` does before it reads."""
    _position(index, 0)


def element(data, index):
    """The element of the Tcl list ``data`` at ``index``; past either end,
    an empty value of the data's type."""
    binary = isinstance(data, bytes)
    elements = split(data.decode("latin-1") if binary else data)
    at = _position(index, len(elements))
    found = "" if at is None else elements[at]
    if binary:
        try:
            return found.encode("latin-1")
        except UnicodeEncodeError:
            # A \u escape past U+00FF: Tcl gives text, and so does this.
            return found
    return found
