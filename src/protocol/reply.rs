//! The reply parser: it borrows from the caller's buffer and says how many
//! bytes it used ("need more bytes" is `Ok(None)`), so the connection
//! decides when to read more; a successful parse never allocates.

use super::{MAX_LINE, MAX_VALUE};
use crate::error::{Error, Kind, Result};

/// Meta reply codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaCode {
    /// "HD": success, no value.
    Hd,
    /// "VA": success with a value.
    Va,
    /// "EN": miss (meta get).
    En,
    /// "NF": not found.
    Nf,
    /// "NS": not stored.
    Ns,
    /// "EX": cas mismatch.
    Ex,
    /// "MN": the answer to "mn", the end marker of a pipeline.
    Mn,
}

/// One reply unit from the server. Borrowed from the input buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n"
    Value {
        key: &'a [u8],
        flags: u32,
        cas: Option<u64>,
        data: &'a [u8],
    },
    End,
    Stored,
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Touched,
    Ok,
    /// incr/decr result: a line of decimal digits (u64; overflow = protocol error)
    Number(u64),
    /// "STAT <name> <value>\r\n" (value = rest of the line after the first space following name; may contain spaces; may be empty)
    Stat {
        name: &'a [u8],
        value: &'a [u8],
    },
    /// "VERSION <text>\r\n"
    Version(&'a [u8]),
    /// "ERROR\r\n" (unknown command), or "ERROR <text>" (memcached's
    /// words: "ERROR Too many open connections" before it closes). The
    /// text is empty for a bare "ERROR".
    Error(&'a [u8]),
    /// "CLIENT_ERROR <msg>\r\n" (msg may be empty; "CLIENT_ERROR\r\n" also valid)
    ClientError(&'a [u8]),
    /// "SERVER_ERROR <msg>\r\n"
    ServerError(&'a [u8]),
    /// Meta reply: "HD <flags>\r\n", "EN\r\n", "NF ...", "NS ...", "EX ...", "MN\r\n",
    /// or "VA <size> <flags>\r\n<data>\r\n" (data is Some only for VA). `flags` is the
    /// raw rest of the line after the code (after the size for VA), without the leading space; may be empty.
    Meta {
        code: MetaCode,
        flags: &'a [u8],
        data: Option<&'a [u8]>,
    },
}

/// How much of the offending bytes an error message quotes: enough for a
/// person to recognise the reply, not a megabyte of garbage in a log.
const QUOTE_MAX: usize = 64;

/// `bytes` escaped (`\r`, `\n`, `\xNN`) and cut to [`QUOTE_MAX`], so a
/// message never carries raw control bytes or invalid UTF-8.
pub(super) fn quote(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(QUOTE_MAX)];
    let mut out: String = shown
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if shown.len() < bytes.len() {
        out.push_str("...");
    }
    out
}

/// A [`Kind::Protocol`] error that names the problem and quotes the line.
fn garbage(what: &str, line: &[u8]) -> Error {
    Error::new(
        Kind::Protocol,
        format!(
            "malformed reply from memcached ({what}): \"{}\"",
            quote(line)
        ),
    )
}

impl Reply<'_> {
    /// The reply's first line as the server sent it (without a data block),
    /// escaped and cut as error messages quote lines: for the message of a
    /// reply that does not answer the request.
    pub fn line(&self) -> String {
        let mut text = Vec::new();
        let words: &[&[u8]] = match *self {
            Reply::Value {
                key,
                flags,
                cas,
                data,
            } => {
                text.extend_from_slice(b"VALUE ");
                text.extend_from_slice(key);
                let mut fields = format!(" {flags} {}", data.len());
                if let Some(cas) = cas {
                    fields.push_str(&format!(" {cas}"));
                }
                text.extend_from_slice(fields.as_bytes());
                &[]
            }
            Reply::End => &[b"END"],
            Reply::Stored => &[b"STORED"],
            Reply::NotStored => &[b"NOT_STORED"],
            Reply::Exists => &[b"EXISTS"],
            Reply::NotFound => &[b"NOT_FOUND"],
            Reply::Deleted => &[b"DELETED"],
            Reply::Touched => &[b"TOUCHED"],
            Reply::Ok => &[b"OK"],
            Reply::Number(n) => {
                text.extend_from_slice(n.to_string().as_bytes());
                &[]
            }
            Reply::Stat { name, value } => &[b"STAT ", name, b" ", value],
            Reply::Version(v) => &[b"VERSION ", v],
            Reply::Error(t) => &[b"ERROR ", t],
            Reply::ClientError(t) => &[b"CLIENT_ERROR ", t],
            Reply::ServerError(t) => &[b"SERVER_ERROR ", t],
            Reply::Meta { code, flags, data } => {
                text.extend_from_slice(code.name());
                if let Some(data) = data {
                    text.extend_from_slice(format!(" {}", data.len()).as_bytes());
                }
                &[b" ", flags]
            }
        };
        for word in words {
            text.extend_from_slice(word);
        }
        while text.last() == Some(&b' ') {
            text.pop();
        }
        quote(&text)
    }
}

impl MetaCode {
    /// The code as it stands on the wire.
    fn name(self) -> &'static [u8] {
        match self {
            MetaCode::Hd => b"HD",
            MetaCode::Va => b"VA",
            MetaCode::En => b"EN",
            MetaCode::Nf => b"NF",
            MetaCode::Ns => b"NS",
            MetaCode::Ex => b"EX",
            MetaCode::Mn => b"MN",
        }
    }
}

/// The first line of `buf` without its "\r\n", and the offset just past it.
///
/// The scan for "\n" stops after `MAX_LINE + 2` bytes, so a buffer holding
/// a header and a megabyte of value costs only the header to look at.
fn split_line(buf: &[u8]) -> Result<Option<(&[u8], usize)>> {
    let window = &buf[..buf.len().min(MAX_LINE + 2)];
    match memchr::memchr(b'\n', window) {
        Some(nl) => {
            if nl == 0 || window[nl - 1] != b'\r' {
                return Err(garbage("line ended by a bare \\n", &window[..nl]));
            }
            Ok(Some((&window[..nl - 1], nl + 1)))
        }
        None if window.len() >= MAX_LINE + 2 => {
            Err(garbage("line longer than the limit without \\r\\n", window))
        }
        None => Ok(None),
    }
}

/// A decimal u64: digits only, no sign, no overflow.
pub fn parse_u64(token: &[u8]) -> Option<u64> {
    if token.is_empty() {
        return None;
    }
    if token.len() < 20 {
        // At most 19 digits cannot overflow: no checked arithmetic.
        let mut n = 0u64;
        for &b in token {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            n = n * 10 + u64::from(digit);
        }
        return Some(n);
    }
    token.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// A data block length: at most [`MAX_VALUE`].
fn parse_size(token: &[u8]) -> Option<usize> {
    parse_u64(token)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= MAX_VALUE)
}

/// `bytes` split at the first space (the space itself dropped).
fn split_space(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    match bytes.iter().position(|&b| b == b' ') {
        Some(sp) => (&bytes[..sp], Some(&bytes[sp + 1..])),
        None => (bytes, None),
    }
}

/// The fields of a "VALUE" line.
struct ValueHeader<'a> {
    key: &'a [u8],
    flags: u32,
    size: usize,
    cas: Option<u64>,
}

/// Parses what follows "VALUE ". Fields are separated by exactly one space,
/// as memcached writes them; anything else means we are out of step. The
/// numbers are read in one pass, without overflow checks for their first
/// 19 digits (a multi-get reads three per hit: measured, `make bench`'s
/// mget100 instruction count, half the cost of a checked parse per field).
fn value_header(rest: &[u8]) -> std::result::Result<ValueHeader<'_>, &'static str> {
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
fn quick_value(buf: &[u8]) -> Option<(ValueHeader<'_>, usize)> {
    let rest = buf.strip_prefix(b"VALUE ")?;
    // A key memcached can send (up to 250 bytes), ended by a space, not by
    // the line's end (that line is malformed: the general path says so).
    let window = &rest[..rest.len().min(crate::key::MAX_LEN + 1)];
    let sp = memchr::memchr2(b' ', b'\n', window)?;
    if sp == 0 || rest[sp] != b' ' {
        return None;
    }
    let mut at = 6 + sp + 1;
    let mut numbers = [0u64; 3];
    let mut count = 0;
    loop {
        // Up to 20 digits looked at: a 20th means the general path.
        let mut n = 0u64;
        let mut len = 0;
        for &b in buf[at..].iter().take(20) {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            n = n.wrapping_mul(10).wrapping_add(u64::from(digit));
            len += 1;
        }
        if len == 0 || len > 19 {
            return None;
        }
        numbers[count] = n;
        count += 1;
        at += len;
        match buf.get(at..at + 2)? {
            b"\r\n" if count >= 2 => break,
            [b' ', _] if count < 3 => at += 1,
            _ => return None,
        }
    }
    let flags = u32::try_from(numbers[0]).ok()?;
    let size = usize::try_from(numbers[1])
        .ok()
        .filter(|&n| n <= MAX_VALUE)?;
    let header = ValueHeader {
        key: &rest[..sp],
        flags,
        size,
        cas: (count == 3).then_some(numbers[2]),
    };
    Some((header, at + 2))
}

/// Parses what follows "VA ": the size and the raw flags.
fn va_header(rest: &[u8]) -> std::result::Result<(usize, &[u8]), &'static str> {
    let (size, flags) = split_space(rest);
    let size = parse_size(size).ok_or("VA with bad size or over 1 GiB")?;
    Ok((size, flags.unwrap_or(b"")))
}

/// The data block of `size` bytes that starts at `start`, and the offset
/// past its "\r\n". The block is located by length alone: it may hold any
/// bytes, "\r\nEND\r\n" included.
fn data_block<'a>(
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

/// The meta code a line starts with, when the code is the whole first token.
fn meta_code(line: &[u8]) -> Option<(MetaCode, &[u8])> {
    let (token, rest) = split_space(line);
    let code = match token {
        b"HD" => MetaCode::Hd,
        b"VA" => MetaCode::Va,
        b"EN" => MetaCode::En,
        b"NF" => MetaCode::Nf,
        b"NS" => MetaCode::Ns,
        b"EX" => MetaCode::Ex,
        b"MN" => MetaCode::Mn,
        _ => return None,
    };
    Some((code, rest.unwrap_or(b"")))
}

/// Parses one reply unit at the start of `buf`.
/// Ok(None): incomplete, read more and call again with the longer buffer.
/// Ok(Some((reply, n))): `n` bytes consumed.
/// Err(Kind::Protocol): garbage (unknown line, bad number, data not followed by "\r\n",
///   a line longer than MAX_LINE without "\r\n", a VALUE size over u32, ...). The message quotes
///   (a bounded, escaped prefix of) the offending line so a person can see what came back.
///
/// Every decision depends only on the bytes before the unit's end, so a
/// longer buffer never changes an answer already given: the caller may
/// always just append and retry.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>> {
    if let Some(done) = common(buf) {
        return Ok(Some(done));
    }
    if let Some((h, after)) = quick_value(buf) {
        return value_unit(buf, &buf[..after - 2], after, h);
    }
    let Some((line, after)) = split_line(buf)? else {
        return Ok(None);
    };
    parse_unit(buf, line, after)
}

/// As [`parse`], for a request whose reply carries no data block (all but
/// the retrievals): a "VALUE" or "VA" line is refused as soon as it is
/// complete, before its data is waited for or any room is made for it.
pub fn parse_dataless(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>> {
    if let Some(done) = common(buf) {
        return Ok(Some(done));
    }
    let Some((line, after)) = split_line(buf)? else {
        return Ok(None);
    };
    if line.starts_with(b"VALUE ") || line.starts_with(b"VA ") {
        return Err(garbage("a value where none was asked for", line));
    }
    parse_unit(buf, line, after)
}

/// The replies that end most requests (a get's `END`, a set's `STORED`),
/// recognised by their bytes before any line is looked for: the line scan
/// and the keyword match cost a get or a set about 120 instructions
/// (measured, `make bench`'s callgrind count).
fn common(buf: &[u8]) -> Option<(Reply<'static>, usize)> {
    if buf.starts_with(b"END\r\n") {
        Some((Reply::End, 5))
    } else if buf.starts_with(b"STORED\r\n") {
        Some((Reply::Stored, 8))
    } else {
        None
    }
}

/// The reply whose first line is `line`, ending at `after` in `buf`.
fn parse_unit<'a>(
    buf: &'a [u8],
    line: &'a [u8],
    after: usize,
) -> Result<Option<(Reply<'a>, usize)>> {
    let reply = match line {
        b"END" => Reply::End,
        b"STORED" => Reply::Stored,
        b"NOT_STORED" => Reply::NotStored,
        b"EXISTS" => Reply::Exists,
        b"NOT_FOUND" => Reply::NotFound,
        b"DELETED" => Reply::Deleted,
        b"TOUCHED" => Reply::Touched,
        b"OK" => Reply::Ok,
        b"ERROR" => Reply::Error(b""),
        b"VERSION" => Reply::Version(b""),
        b"CLIENT_ERROR" => Reply::ClientError(b""),
        b"SERVER_ERROR" => Reply::ServerError(b""),
        _ => return parse_long(buf, line, after),
    };
    Ok(Some((reply, after)))
}

/// The replies that carry fields: everything but the bare keywords.
fn parse_long<'a>(
    buf: &'a [u8],
    line: &'a [u8],
    after: usize,
) -> Result<Option<(Reply<'a>, usize)>> {
    if let Some(rest) = line.strip_prefix(b"VALUE ") {
        let h = value_header(rest).map_err(|what| garbage(what, line))?;
        return value_unit(buf, line, after, h);
    }
    let reply = if let Some(rest) = line.strip_prefix(b"STAT ") {
        let (name, value) = split_space(rest);
        if name.is_empty() {
            return Err(garbage("STAT without name", line));
        }
        Reply::Stat {
            name,
            value: value.unwrap_or(b""),
        }
    } else if let Some(text) = line.strip_prefix(b"VERSION ") {
        Reply::Version(text)
    } else if let Some(msg) = line.strip_prefix(b"CLIENT_ERROR ") {
        Reply::ClientError(msg)
    } else if let Some(msg) = line.strip_prefix(b"SERVER_ERROR ") {
        Reply::ServerError(msg)
    } else if let Some(text) = line.strip_prefix(b"ERROR ") {
        Reply::Error(text)
    } else if line.first().is_some_and(u8::is_ascii_digit) {
        // incr/decr; memcached may pad a shrunken number with spaces.
        let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
        let (number, pad) = line.split_at(digits);
        if pad.iter().any(|&b| b != b' ') {
            return Err(garbage("bad number", line));
        }
        Reply::Number(parse_u64(number).ok_or_else(|| garbage("number over 64 bits", line))?)
    } else if let Some((code, rest)) = meta_code(line) {
        if code == MetaCode::Va {
            let (size, flags) = va_header(rest).map_err(|what| garbage(what, line))?;
            return Ok(data_block(buf, line, after, size)?.map(|(data, n)| {
                let reply = Reply::Meta {
                    code,
                    flags,
                    data: Some(data),
                };
                (reply, n)
            }));
        }
        Reply::Meta {
            code,
            flags: rest,
            data: None,
        }
    } else {
        return Err(garbage("unknown reply", line));
    };
    Ok(Some((reply, after)))
}

/// The VALUE unit whose header line `line` (fields `h`) ends at `after`.
fn value_unit<'a>(
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

/// Parses the start of one reply unit: a "VALUE" header line on its own,
/// or any other whole unit. Ok(None): incomplete (read more and call again).
/// Errors as [`parse`].
pub fn parse_start(buf: &[u8]) -> Result<Option<Start<'_>>> {
    if let Some((h, after)) = quick_value(buf) {
        return Ok(Some(Start::Value {
            key: h.key,
            flags: h.flags,
            cas: h.cas,
            size: h.size,
            header: after,
        }));
    }
    let Some((line, after)) = split_line(buf)? else {
        return Ok(None);
    };
    if let Some(rest) = line.strip_prefix(b"VALUE ") {
        let h = value_header(rest).map_err(|what| garbage(what, line))?;
        return Ok(Some(Start::Value {
            key: h.key,
            flags: h.flags,
            cas: h.cas,
            size: h.size,
            header: after,
        }));
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
/// it as [`QUOTE_MAX`] shows) for anything else: the length was wrong.
pub fn block_end(buf: &[u8], line: &[u8]) -> Result<Option<usize>> {
    match buf.get(..2) {
        None if buf.first().is_none_or(|&b| b == b'\r') => Ok(None),
        Some(b"\r\n") => Ok(Some(2)),
        _ => Err(garbage("data block not followed by \\r\\n", line)),
    }
}

/// How much of a header line [`block_end`] needs to quote it as [`parse`]
/// does: [`QUOTE_MAX`] bytes, and one more to show it was cut.
pub const QUOTED_LINE: usize = QUOTE_MAX + 1;

/// For a meta reply's `flags`, the value of flag `flag` (e.g. b't' in "t3599 f16" -> Some(b"3599")); None if absent.
///
/// A flag without a value (such as "W") gives `Some(b"")`.
pub fn meta_flag(flags: &[u8], flag: u8) -> Option<&[u8]> {
    flags
        .split(|&b| b == b' ')
        .find(|token| token.first() == Some(&flag))
        .map(|token| &token[1..])
}
