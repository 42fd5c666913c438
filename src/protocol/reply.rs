//! The reply parser: it borrows from the caller's buffer and says how many
//! bytes it used ("need more bytes" is `Ok(None)`), so the connection
//! decides when to read more; a successful parse never allocates.

use super::value::{data_block, quick_value, va_header, value_header, value_unit};
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
    /// `VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n`
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
    /// `STAT <name> <value>\r\n` (value = rest of the line after the first space following name; may contain spaces; may be empty)
    Stat {
        name: &'a [u8],
        value: &'a [u8],
    },
    /// `VERSION <text>\r\n`
    Version(&'a [u8]),
    /// "ERROR\r\n" (unknown command), or `ERROR <text>` (memcached's
    /// words: "ERROR Too many open connections" before it closes). The
    /// text is empty for a bare "ERROR".
    Error(&'a [u8]),
    /// `CLIENT_ERROR <msg>\r\n` (msg may be empty; "CLIENT_ERROR\r\n" also valid)
    ClientError(&'a [u8]),
    /// `SERVER_ERROR <msg>\r\n`
    ServerError(&'a [u8]),
    /// Meta reply: `HD <flags>\r\n`, "EN\r\n", "NF ...", "NS ...", "EX ...", "MN\r\n",
    /// or `VA <size> <flags>\r\n<data>\r\n` (data is Some only for VA). `flags` is the
    /// raw rest of the line after the code (after the size for VA), without the leading space; may be empty.
    Meta {
        code: MetaCode,
        flags: &'a [u8],
        data: Option<&'a [u8]>,
    },
}

/// How much of the offending bytes an error message quotes: enough for a
/// person to recognise the reply, not a megabyte of garbage in a log.
pub(super) const QUOTE_MAX: usize = 64;

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
pub(super) fn garbage(what: &str, line: &[u8]) -> Error {
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
pub(super) fn split_line(buf: &[u8]) -> Result<Option<(&[u8], usize)>> {
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
pub(super) fn parse_size(token: &[u8]) -> Option<usize> {
    parse_u64(token)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= MAX_VALUE)
}

/// `bytes` split at the first space (the space itself dropped).
pub(super) fn split_space(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    match bytes.iter().position(|&b| b == b' ') {
        Some(sp) => (&bytes[..sp], Some(&bytes[sp + 1..])),
        None => (bytes, None),
    }
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

/// For a meta reply's `flags`, the value of flag `flag` (e.g. b't' in "t3599 f16" -> Some(b"3599")); None if absent.
///
/// A flag without a value (such as "W") gives `Some(b"")`.
pub fn meta_flag(flags: &[u8], flag: u8) -> Option<&[u8]> {
    flags
        .split(|&b| b == b' ')
        .find(|token| token.first() == Some(&flag))
        .map(|token| &token[1..])
}
