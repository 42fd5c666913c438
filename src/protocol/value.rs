//! The replies that carry a data block: the "VALUE" and "VA" header lines
//! (a fast one-pass read of the usual "VALUE" line, and the general one),
//! the block itself, and [`parse_start`] for a reader that puts a value's
//! data in memory of its own.

use super::reply::{garbage, meta_flag, parse, parse_size, parse_u64, split_line, split_space};
use super::reply::{Reply, QUOTE_MAX};
use super::MAX_VALUE;
use crate::error::Result;

/// The fields of a "VALUE" line.
pub(super) struct ValueHeader<'a> {
    pub(super) key: &'a [u8],
    pub(super) flags: u32,
    pub(super) size: usize,
    pub(super) cas: Option<u64>,
}

/// Parses what follows "VALUE ". Fields are separated by exactly one space,
/// as memcached writes them; anything else means we are out of step. The
/// numbers are read in one pass, without overflow checks for their first
/// 19 digits (a multi-get reads three per hit: measured, `make bench`'s
/// mget100 instruction count, half the cost of a checked parse per field).
pub(super) fn value_header(rest: &[u8]) -> std::result::Result<ValueHeader<'_>, &'static str> {
    /// What is wrong when field `n` (flags, size, cas, more) is.
    const BAD: [&str; 4] = [
        "VALUE with bad flags",
        "VALUE with bad size",
        "VALUE with bad cas",
        "VALUE with extra fields",
    ];
    let sp = memchr::memchr(b' ', rest).ok_or(BAD[0])?;
    let (key, fields) = (&rest[..sp], &rest[sp + 1..]);
    if key.is_empty() {
        return Err("VALUE without key");
    }
    let mut numbers = [0u64; 3];
    let mut count = 0;
    let (mut n, mut digits) = (0u64, 0);
    for &b in fields {
        let digit = b.wrapping_sub(b'0');
        if digit <= 9 {
            n = if digits < 19 {
                n * 10 + u64::from(digit)
            } else {
                n.checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(digit)))
                    .ok_or(BAD[count])?
            };
            digits += 1;
        } else if b == b' ' && digits > 0 && count < 2 {
            numbers[count] = n;
            count += 1;
            (n, digits) = (0, 0);
        } else {
            return Err(BAD[if b == b' ' && digits > 0 { 3 } else { count }]);
        }
    }
    if digits == 0 {
        return Err(BAD[count]);
    }
    numbers[count] = n;
    if count == 0 {
        return Err(BAD[1]);
    }
    let flags = u32::try_from(numbers[0]).map_err(|_| BAD[0])?;
    let size = usize::try_from(numbers[1]).map_err(|_| BAD[1])?;
    if size > MAX_VALUE {
        return Err("VALUE larger than memcached's 1 GiB item limit");
    }
    Ok(ValueHeader {
        key,
        flags,
        size,
        cas: (count == 2).then_some(numbers[2]),
    })
}

/// A well-formed "VALUE" line at the start of `buf` and the offset past
/// its "\r\n", read in one pass that finds the line's end as it goes
/// (without the search for "\n" first: measured, 80 instructions a hit);
/// `None` for anything else, incomplete or not, which the general path
/// ([`split_line`], [`value_header`]) then answers. Fields of up to 19
/// digits, as every number memcached sends but a cas near 2^64.
///
/// Always inlined into its two callers: as a call it cost 33 instructions
/// a value more (callgrind: C get, and each hit of mget100).
#[inline(always)]
pub(super) fn quick_value(buf: &[u8]) -> Option<(ValueHeader<'_>, usize)> {
    let rest = buf.strip_prefix(b"VALUE ")?;
    // A key memcached can send (up to 250 bytes), ended by a space, not by
    // the line's end (that line is malformed: the general path says so).
    let window = &rest[..rest.len().min(crate::key::MAX_LEN + 1)];
    let sp = memchr::memchr2(b' ', b'\n', window)?;
    if sp == 0 || rest[sp] != b' ' {
        return None;
    }
    let (flags, size, cas, after) = quick_fields(buf, 6 + sp + 1)?;
    let header = ValueHeader {
        key: &rest[..sp],
        flags,
        size,
        cas,
    };
    Some((header, after))
}

/// The unit of a "VALUE" line for `key` at the start of `buf`, when it is
/// complete and well-formed (as `quick_value` reads it): its flags, cas,
/// data and the bytes it used. `None` for anything else, which [`parse`]
/// then answers. A multi-get's reply answers the keys in the order asked
/// (the misses left out), so its reader knows which key most likely comes
/// next: comparing it costs less than searching for the key's end.
#[inline(always)]
pub fn value_of<'a>(buf: &'a [u8], key: &[u8]) -> Option<(u32, Option<u64>, &'a [u8], usize)> {
    let rest = buf.strip_prefix(b"VALUE ")?;
    if rest.get(key.len()) != Some(&b' ') || !rest.starts_with(key) || key.is_empty() {
        return None;
    }
    let (flags, size, cas, after) = quick_fields(buf, 6 + key.len() + 1)?;
    // The block's end checked here rather than by `data_block`, whose
    // error `parse` then makes anyway: through it, 22 instructions a hit
    // more (callgrind, C mget100). `size` is at most 1 GiB: no overflow.
    let end = after + size;
    match buf.get(end..end + 2) {
        Some(b"\r\n") => Some((flags, cas, &buf[after..end], end + 2)),
        _ => None,
    }
}

/// The numbers of a "VALUE" line from `at` (flags, size, an optional cas,
/// each of 1 to 19 digits, one space apart) and the offset past the line's
/// "\r\n"; `None` for anything else.
#[inline(always)]
fn quick_fields(buf: &[u8], at: usize) -> Option<(u32, usize, Option<u64>, usize)> {
    let (flags, at) = quick_number(buf, at)?;
    if buf.get(at) != Some(&b' ') {
        return None;
    }
    let (size, mut at) = quick_number(buf, at + 1)?;
    let mut cas = None;
    if buf.get(at) == Some(&b' ') {
        let (number, after) = quick_cas(buf, at + 1)?;
        (cas, at) = (Some(number), after);
    }
    if buf.get(at..at + 2) != Some(b"\r\n") {
        return None;
    }
    let flags = u32::try_from(flags).ok()?;
    let size = usize::try_from(size).ok().filter(|&n| n <= MAX_VALUE)?;
    Some((flags, size, cas, at + 2))
}

/// The number of 1 to 19 digits at `at`, and the offset past it; `None`
/// for no digit or more (a 20th digit is left to the general path, which
/// checks for overflow). An iterator with `take(20)`: a `while` loop over
/// the indexes cost a multi-get 36 instructions a hit more (callgrind).
#[inline(always)]
fn quick_number(buf: &[u8], at: usize) -> Option<(u64, usize)> {
    let (mut n, mut len) = (0u64, 0);
    for &b in buf[at..].iter().take(20) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(digit));
        len += 1;
    }
    matches!(len, 1..=19).then_some((n, at + len))
}

/// [`quick_number`] for a cas: memcached counts every store in it, so a
/// server's cas is soon seven digits or more, read here eight at a time
/// with word arithmetic (callgrind, C mget100 with a cas of seven digits:
/// 47 instructions a hit less than byte by byte, with one of three digits
/// 6 more; flags and sizes, mostly short, stay byte by byte).
/// Sixteen digits or more, or fewer than eight bytes buffered, go byte by
/// byte.
#[inline(always)]
fn quick_cas(buf: &[u8], at: usize) -> Option<(u64, usize)> {
    let Some((high, len)) = word_digits(buf, at) else {
        return quick_number(buf, at);
    };
    if len < 8 {
        return (len > 0).then_some((high, at + len));
    }
    match word_digits(buf, at + 8) {
        Some((low, len)) if len < 8 => Some((high * 10u64.pow(len as u32) + low, at + 8 + len)),
        _ => quick_number(buf, at),
    }
}

/// The digits that start the eight bytes at `at` (None when fewer are
/// buffered): their number and how many (0 to 8). The bytes are read as
/// one little-endian word; a byte that is not a digit has its top bit set
/// in `(b - '0') | (b - '0' + 0x76)`, exactly for the first one (a borrow
/// or carry only reaches the bytes after it); the digits, moved to the top
/// of the word, are summed in pairs, fours and eights.
#[inline(always)]
fn word_digits(buf: &[u8], at: usize) -> Option<(u64, usize)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let word = u64::from_le_bytes(*buf.get(at..)?.first_chunk::<8>()?);
    let d = word.wrapping_sub(ONES * u64::from(b'0'));
    let not_digits = (d | d.wrapping_add(ONES * 0x76)) & (ONES * 0x80);
    let len = (not_digits.trailing_zeros() / 8) as usize;
    if len == 0 {
        return Some((0, 0));
    }
    let v = d << (64 - 8 * len);
    let v = (v & (ONES * 0x0f)).wrapping_mul(10 * 256 + 1) >> 8;
    let v = (v & 0x00ff_00ff_00ff_00ff).wrapping_mul(100 * 65536 + 1) >> 16;
    let v = (v & 0x0000_ffff_0000_ffff).wrapping_mul(10000 * (1 << 32) + 1) >> 32;
    Some((v, len))
}

/// Parses what follows "VA ": the size and the raw flags.
pub(super) fn va_header(rest: &[u8]) -> std::result::Result<(usize, &[u8]), &'static str> {
    let (size, flags) = split_space(rest);
    let size = parse_size(size).ok_or("VA with bad size or over 1 GiB")?;
    Ok((size, flags.unwrap_or(b"")))
}

/// The data block of `size` bytes that starts at `start`, and the offset
/// past its "\r\n". The block is located by length alone: it may hold any
/// bytes, "\r\nEND\r\n" included.
pub(super) fn data_block<'a>(
    buf: &'a [u8],
    line: &[u8],
    start: usize,
    size: usize,
) -> Result<Option<(&'a [u8], usize)>> {
    let end = start
        .checked_add(size)
        .and_then(|e| e.checked_add(2))
        .ok_or_else(|| garbage("data block too large", line))?;
    let Some(block) = buf.get(start..end) else {
        return Ok(None);
    };
    let (data, crlf) = block.split_at(size);
    if crlf != b"\r\n" {
        return Err(garbage("data block not followed by \\r\\n", line));
    }
    Ok(Some((data, end)))
}

/// The VALUE unit whose header line `line` (fields `h`) ends at `after`.
/// Always inlined into [`parse`](super::parse): 11 instructions a hit less.
#[inline(always)]
pub(super) fn value_unit<'a>(
    buf: &'a [u8],
    line: &[u8],
    after: usize,
    h: ValueHeader<'a>,
) -> Result<Option<(Reply<'a>, usize)>> {
    Ok(data_block(buf, line, after, h.size)?.map(|(data, n)| {
        let reply = Reply::Value {
            key: h.key,
            flags: h.flags,
            cas: h.cas,
            data,
        };
        (reply, n)
    }))
}

/// Given a buffer starting with a complete VALUE/VA header line, the total
/// number of bytes the whole unit needs (header + data + 2); None when the
/// buffer does not start with a complete, valid such header.
///
/// Lets the connection layer read a big value in one go (and size its
/// buffer once) instead of calling [`parse`] after every read.
pub fn needed(buf: &[u8]) -> Option<usize> {
    let (line, after) = split_line(buf).ok()??;
    let size = if let Some(rest) = line.strip_prefix(b"VALUE ") {
        value_header(rest).ok()?.size
    } else if let Some(rest) = line.strip_prefix(b"VA ") {
        va_header(rest).ok()?.0
    } else {
        return None;
    };
    after.checked_add(size)?.checked_add(2)
}

/// The start of a retrieval reply, for a reader that puts a value's data
/// in memory of its own (the caller's final buffer) rather than leaving it
/// in the read buffer: see [`parse_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    /// A "VALUE" line of `header` bytes (its "\r\n" included). The data
    /// block of `size` bytes and its "\r\n" ([`block_end`]) follow, and may
    /// not be buffered yet. Or a meta "VA" line: `key` is then its opaque
    /// token (`O`, empty without one), `flags` and `cas` its `f` and `c`.
    Value {
        key: &'a [u8],
        flags: u32,
        cas: Option<u64>,
        size: usize,
        header: usize,
    },
    /// Any other reply, whole, and the bytes it used (as [`parse`]).
    Other(Reply<'a>, usize),
}

impl<'a> ValueHeader<'a> {
    /// The [`Start`] of a VALUE line of `header` bytes with these fields.
    fn start(self, header: usize) -> Start<'a> {
        Start::Value {
            key: self.key,
            flags: self.flags,
            cas: self.cas,
            size: self.size,
            header,
        }
    }
}

/// Parses the start of one reply unit: a "VALUE" header line on its own,
/// or any other whole unit. Ok(None): incomplete (read more and call again).
/// Errors as [`parse`].
pub fn parse_start(buf: &[u8]) -> Result<Option<Start<'_>>> {
    if let Some((h, after)) = quick_value(buf) {
        return Ok(Some(h.start(after)));
    }
    let Some((line, after)) = split_line(buf)? else {
        return Ok(None);
    };
    if let Some(rest) = line.strip_prefix(b"VALUE ") {
        let h = value_header(rest).map_err(|what| garbage(what, line))?;
        return Ok(Some(h.start(after)));
    }
    if let Some(rest) = line.strip_prefix(b"VA ") {
        let (size, tokens) = va_header(rest).map_err(|what| garbage(what, line))?;
        let number = |flag| meta_flag(tokens, flag).map(parse_u64);
        let flags = match number(b'f') {
            None => 0,
            Some(f) => f
                .and_then(|f| u32::try_from(f).ok())
                .ok_or_else(|| garbage("VA with bad flags", line))?,
        };
        let cas = number(b'c')
            .map(|c| c.ok_or_else(|| garbage("VA with a bad cas", line)))
            .transpose()?;
        return Ok(Some(Start::Value {
            key: meta_flag(tokens, b'O').unwrap_or(b""),
            flags,
            cas,
            size,
            header: after,
        }));
    }
    Ok(parse(buf)?.map(|(reply, used)| Start::Other(reply, used)))
}

/// The end of a data block, when `buf` starts right after its data:
/// Ok(Some(2)) for "\r\n", Ok(None) when fewer than 2 bytes are there, and
/// a protocol error quoting `line` (the block's header line, or as much of
/// it as `QUOTE_MAX` shows) for anything else: the length was wrong.
pub fn block_end(buf: &[u8], line: &[u8]) -> Result<Option<usize>> {
    match buf.get(..2) {
        None if buf.first().is_none_or(|&b| b == b'\r') => Ok(None),
        Some(b"\r\n") => Ok(Some(2)),
        _ => Err(garbage("data block not followed by \\r\\n", line)),
    }
}

/// How much of a header line [`block_end`] needs to quote it as [`parse`]
/// does: `QUOTE_MAX` bytes, and one more to show it was cut.
pub const QUOTED_LINE: usize = QUOTE_MAX + 1;
