//! The memcached text protocol: request encoders and a reply parser.
//!
//! Pure on purpose: no I/O, so the connection layer alone owns sockets,
//! buffering and timeouts, and everything here can be tested (and fuzzed) on
//! byte slices. Encoders append to the caller's buffer, so a pipeline of
//! requests is built in one allocation. The parser borrows from the caller's
//! buffer and says how many bytes it used, so the caller decides when to read
//! more and when to compact; a successful parse never allocates.
//!
//! Keys are not checked here: the caller validates them once, before
//! encoding, where a bad key can still become a [`Kind::BadKey`] error.

use crate::error::{Error, Kind, Result};

/// The longest reply line accepted before a "\r\n". memcached's own lines
/// are far shorter (a `VALUE` line is at most ~300 bytes); the limit only
/// stops a peer that is not memcached from making us buffer without end.
pub const MAX_LINE: usize = 8192;

/// The largest data block a reply may announce: memcached's own limit on
/// an item (`-I` accepts at most 1024 MiB). A larger size cannot come from
/// memcached, and a reader never trusts a size to decide how much memory
/// to take (see the connection layer), but a number no server can send is
/// refused at once, before anything waits for its data.
pub const MAX_VALUE: usize = 1 << 30;

// ---------------------------------------------------------------------------
// Encoders
// ---------------------------------------------------------------------------

/// Storage commands. Cas carries the unique value from `gets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreVerb {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas(u64),
}

impl StoreVerb {
    fn name(self) -> &'static [u8] {
        match self {
            StoreVerb::Set => b"set",
            StoreVerb::Add => b"add",
            StoreVerb::Replace => b"replace",
            StoreVerb::Append => b"append",
            StoreVerb::Prepend => b"prepend",
            StoreVerb::Cas(_) => b"cas",
        }
    }
}

/// Retrieval commands: `gets` also returns each item's cas unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrieveVerb {
    Get,
    Gets,
}

/// `incr` or `decr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Incr,
    Decr,
}

/// Appends `n` in decimal. Hand-written because this runs for every request
/// and `write!` would go through the formatting machinery.
fn put_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20]; // u64::MAX has 20 digits
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn put_sp_u64(buf: &mut Vec<u8>, n: u64) {
    buf.push(b' ');
    put_u64(buf, n);
}

fn put_keys<K: AsRef<[u8]>>(buf: &mut Vec<u8>, keys: &[K]) {
    for key in keys {
        buf.push(b' ');
        buf.extend_from_slice(key.as_ref());
    }
}

fn put_end(buf: &mut Vec<u8>, noreply: bool) {
    if noreply {
        buf.extend_from_slice(b" noreply");
    }
    buf.extend_from_slice(b"\r\n");
}

/// Writes "<verb> <key> <flags> <exptime> <len>[ <cas>][ noreply]\r\n" (header only).
///
/// Header only so that a caller holding the value elsewhere (a C or Tcl
/// buffer) can send it without first copying it in here. `append` and
/// `prepend` take the same form as `set`: memcached requires the flags and
/// exptime fields and then ignores them.
pub fn store_header(
    buf: &mut Vec<u8>,
    verb: StoreVerb,
    key: &[u8],
    flags: u32,
    exptime: u32,
    len: usize,
    noreply: bool,
) {
    buf.extend_from_slice(verb.name());
    buf.push(b' ');
    buf.extend_from_slice(key);
    put_sp_u64(buf, u64::from(flags));
    put_sp_u64(buf, u64::from(exptime));
    put_sp_u64(buf, len as u64);
    if let StoreVerb::Cas(unique) = verb {
        put_sp_u64(buf, unique);
    }
    put_end(buf, noreply);
}

/// Header + value + "\r\n".
pub fn store(
    buf: &mut Vec<u8>,
    verb: StoreVerb,
    key: &[u8],
    flags: u32,
    exptime: u32,
    value: &[u8],
    noreply: bool,
) {
    // One reservation: a big value must not be copied by repeated growth.
    // 96 covers the verb, four numbers, the spaces, " noreply" and CRLFs.
    buf.reserve(key.len() + value.len() + 96);
    store_header(buf, verb, key, flags, exptime, value.len(), noreply);
    buf.extend_from_slice(value);
    buf.extend_from_slice(b"\r\n");
}

/// "get k1 k2 ...\r\n" / "gets ..." (keys: at least one; caller guarantees)
pub fn retrieve<K: AsRef<[u8]>>(buf: &mut Vec<u8>, verb: RetrieveVerb, keys: &[K]) {
    buf.extend_from_slice(match verb {
        RetrieveVerb::Get => b"get",
        RetrieveVerb::Gets => b"gets",
    });
    put_keys(buf, keys);
    buf.extend_from_slice(b"\r\n");
}

/// "gat <exptime> k1 ...\r\n" or "gats <exptime> ..." (cas = false -> gat, true -> gats)
pub fn get_and_touch<K: AsRef<[u8]>>(buf: &mut Vec<u8>, cas: bool, exptime: u32, keys: &[K]) {
    buf.extend_from_slice(if cas { b"gats" } else { b"gat" });
    put_sp_u64(buf, u64::from(exptime));
    put_keys(buf, keys);
    buf.extend_from_slice(b"\r\n");
}

/// "touch <key> <exptime>[ noreply]\r\n"
pub fn touch(buf: &mut Vec<u8>, key: &[u8], exptime: u32, noreply: bool) {
    buf.extend_from_slice(b"touch ");
    buf.extend_from_slice(key);
    put_sp_u64(buf, u64::from(exptime));
    put_end(buf, noreply);
}

/// "delete <key>[ noreply]\r\n". No time argument: memcached 1.6 rejects
/// any but 0 (use `touch` to delete later).
pub fn delete(buf: &mut Vec<u8>, key: &[u8], noreply: bool) {
    buf.extend_from_slice(b"delete ");
    buf.extend_from_slice(key);
    put_end(buf, noreply);
}

/// "incr <key> <delta>[ noreply]\r\n" / "decr ...".
pub fn arith(buf: &mut Vec<u8>, verb: Arith, key: &[u8], delta: u64, noreply: bool) {
    buf.extend_from_slice(match verb {
        Arith::Incr => b"incr ",
        Arith::Decr => b"decr ",
    });
    buf.extend_from_slice(key);
    put_sp_u64(buf, delta);
    put_end(buf, noreply);
}

/// "flush_all[ <delay>][ noreply]\r\n"
pub fn flush_all(buf: &mut Vec<u8>, delay: Option<u32>, noreply: bool) {
    buf.extend_from_slice(b"flush_all");
    if let Some(delay) = delay {
        put_sp_u64(buf, u64::from(delay));
    }
    put_end(buf, noreply);
}

/// "stats[ <group>]\r\n". A group may hold spaces ("cachedump 1 10"), but
/// a control character (a CR or LF would end the request early and send
/// the rest as a command of its own) is refused: an `Invalid` error, and
/// nothing is written.
pub fn stats(buf: &mut Vec<u8>, group: Option<&[u8]>) -> Result<()> {
    if let Some(group) = group {
        if let Some(at) = group.iter().position(|&b| b < b' ' || b == 0x7f) {
            return Err(Error::new(
                Kind::Invalid,
                format!(
                    "stats group \"{}\" contains control character 0x{:02x} at byte {at}",
                    crate::key::show(group),
                    group[at]
                ),
            ));
        }
    }
    buf.extend_from_slice(b"stats");
    if let Some(group) = group {
        buf.push(b' ');
        buf.extend_from_slice(group);
    }
    buf.extend_from_slice(b"\r\n");
    Ok(())
}

/// "version\r\n"
pub fn version(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"version\r\n");
}

/// "verbosity <level>[ noreply]\r\n"
pub fn verbosity(buf: &mut Vec<u8>, level: u32, noreply: bool) {
    buf.extend_from_slice(b"verbosity");
    put_sp_u64(buf, u64::from(level));
    put_end(buf, noreply);
}

/// Meta get: "mg <key>[ <flag>...]\r\n", flags given as tokens such as b"t", b"v", b"f", b"c", b"s".
pub fn meta_get(buf: &mut Vec<u8>, key: &[u8], flags: &[&[u8]]) {
    buf.extend_from_slice(b"mg ");
    buf.extend_from_slice(key);
    put_keys(buf, flags);
    buf.extend_from_slice(b"\r\n");
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

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
fn quote(bytes: &[u8]) -> String {
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
fn parse_u64(token: &[u8]) -> Option<u64> {
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

/// A decimal field at the start of `bytes` and what follows the one space
/// after it (`None`: the field ends the line), read in one pass: digits
/// only, no sign, at least one digit, no overflow.
fn number_field(bytes: &[u8]) -> Option<(u64, Option<&[u8]>)> {
    let mut n = 0u64;
    for (i, &b) in bytes.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit <= 9 {
            n = n.checked_mul(10)?.checked_add(u64::from(digit))?;
        } else if b == b' ' && i > 0 {
            return Some((n, Some(&bytes[i + 1..])));
        } else {
            return None;
        }
    }
    (!bytes.is_empty()).then_some((n, None))
}

/// Parses what follows "VALUE ". Fields are separated by exactly one space,
/// as memcached writes them; anything else means we are out of step.
fn value_header(rest: &[u8]) -> std::result::Result<ValueHeader<'_>, &'static str> {
    let sp = memchr::memchr(b' ', rest).ok_or("VALUE with bad flags")?;
    let (key, rest) = (&rest[..sp], &rest[sp + 1..]);
    if key.is_empty() {
        return Err("VALUE without key");
    }
    let (flags, rest) = number_field(rest)
        .and_then(|(n, rest)| Some((u32::try_from(n).ok()?, rest)))
        .ok_or("VALUE with bad flags")?;
    let (size, rest) = number_field(rest.ok_or("VALUE with bad size")?)
        .and_then(|(n, rest)| Some((usize::try_from(n).ok()?, rest)))
        .ok_or("VALUE with bad size")?;
    if size > MAX_VALUE {
        return Err("VALUE larger than memcached's 1 GiB item limit");
    }
    let cas = match rest {
        None => None,
        Some(rest) => match number_field(rest).ok_or("VALUE with bad cas")? {
            (cas, None) => Some(cas),
            (_, Some(_)) => return Err("VALUE with extra fields"),
        },
    };
    Ok(ValueHeader {
        key,
        flags,
        size,
        cas,
    })
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
    let Some((line, after)) = split_line(buf)? else {
        return Ok(None);
    };
    parse_unit(buf, line, after)
}

/// As [`parse`], for a request whose reply carries no data block (all but
/// the retrievals): a "VALUE" or "VA" line is refused as soon as it is
/// complete, before its data is waited for or any room is made for it.
pub fn parse_dataless(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>> {
    let Some((line, after)) = split_line(buf)? else {
        return Ok(None);
    };
    if line.starts_with(b"VALUE ") || line.starts_with(b"VA ") {
        return Err(garbage("a value where none was asked for", line));
    }
    parse_unit(buf, line, after)
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
        return Ok(data_block(buf, line, after, h.size)?.map(|(data, n)| {
            let reply = Reply::Value {
                key: h.key,
                flags: h.flags,
                cas: h.cas,
                data,
            };
            (reply, n)
        }));
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
    /// not be buffered yet.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut buf = Vec::new();
        f(&mut buf);
        buf
    }

    /// Parses exactly one unit that fills `buf`.
    fn one(buf: &[u8]) -> Reply<'_> {
        match parse(buf) {
            Ok(Some((reply, n))) => {
                assert_eq!(n, buf.len(), "consumed count for {:?}", quote(buf));
                reply
            }
            other => panic!("{:?} -> {other:?}", quote(buf)),
        }
    }

    fn err(buf: &[u8]) -> Error {
        match parse(buf) {
            Err(e) => {
                assert_eq!(e.kind(), Kind::Protocol);
                e
            }
            other => panic!("{:?} should be an error, got {other:?}", quote(buf)),
        }
    }

    // --- encoders -------------------------------------------------------

    #[test]
    fn put_u64_edges() {
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(enc(|b| put_u64(b, n)), n.to_string().as_bytes());
        }
    }

    #[test]
    fn store_verbs() {
        let cases: [(StoreVerb, &[u8]); 6] = [
            (StoreVerb::Set, b"set k 1 2 5\r\nhello\r\n"),
            (StoreVerb::Add, b"add k 1 2 5\r\nhello\r\n"),
            (StoreVerb::Replace, b"replace k 1 2 5\r\nhello\r\n"),
            (StoreVerb::Append, b"append k 1 2 5\r\nhello\r\n"),
            (StoreVerb::Prepend, b"prepend k 1 2 5\r\nhello\r\n"),
            (StoreVerb::Cas(77), b"cas k 1 2 5 77\r\nhello\r\n"),
        ];
        for (verb, want) in cases {
            assert_eq!(enc(|b| store(b, verb, b"k", 1, 2, b"hello", false)), want);
        }
    }

    #[test]
    fn store_noreply_and_extremes() {
        assert_eq!(
            enc(|b| store(b, StoreVerb::Set, b"key", 0, 0, b"", true)),
            b"set key 0 0 0 noreply\r\n\r\n"
        );
        assert_eq!(
            enc(|b| store(
                b,
                StoreVerb::Cas(u64::MAX),
                b"key",
                u32::MAX,
                u32::MAX,
                b"v",
                true
            )),
            b"cas key 4294967295 4294967295 1 18446744073709551615 noreply\r\nv\r\n".to_vec()
        );
        assert_eq!(
            enc(|b| store(b, StoreVerb::Append, b"a", 16, 3600, b"xy", true)),
            b"append a 16 3600 2 noreply\r\nxy\r\n"
        );
    }

    #[test]
    fn store_header_only_and_appends() {
        let mut buf = b"prev\r\n".to_vec();
        store_header(&mut buf, StoreVerb::Set, b"big", 3, 4, 1_048_576, false);
        assert_eq!(buf, b"prev\r\nset big 3 4 1048576\r\n");
        let mut buf = Vec::new();
        store_header(&mut buf, StoreVerb::Cas(0), b"c", 0, 0, 0, true);
        assert_eq!(buf, b"cas c 0 0 0 0 noreply\r\n");
    }

    #[test]
    fn retrieval() {
        assert_eq!(
            enc(|b| retrieve(b, RetrieveVerb::Get, &[b"a"])),
            b"get a\r\n"
        );
        assert_eq!(
            enc(|b| retrieve(b, RetrieveVerb::Gets, &["a", "bb", "ccc"])),
            b"gets a bb ccc\r\n"
        );
        assert_eq!(
            enc(|b| retrieve(b, RetrieveVerb::Get, &[b"x".to_vec(), b"y".to_vec()])),
            b"get x y\r\n"
        );
        assert_eq!(
            enc(|b| get_and_touch(b, false, 60, &["k"])),
            b"gat 60 k\r\n"
        );
        assert_eq!(
            enc(|b| get_and_touch(b, true, 0, &["k1", "k2"])),
            b"gats 0 k1 k2\r\n"
        );
    }

    #[test]
    fn simple_commands() {
        assert_eq!(enc(|b| touch(b, b"k", 10, false)), b"touch k 10\r\n");
        assert_eq!(enc(|b| touch(b, b"k", 0, true)), b"touch k 0 noreply\r\n");
        assert_eq!(enc(|b| delete(b, b"k", false)), b"delete k\r\n");
        assert_eq!(enc(|b| delete(b, b"k", true)), b"delete k noreply\r\n");
        assert_eq!(
            enc(|b| arith(b, Arith::Incr, b"n", 1, false)),
            b"incr n 1\r\n"
        );
        assert_eq!(
            enc(|b| arith(b, Arith::Decr, b"n", u64::MAX, true)),
            b"decr n 18446744073709551615 noreply\r\n".to_vec()
        );
        assert_eq!(enc(|b| flush_all(b, None, false)), b"flush_all\r\n");
        assert_eq!(enc(|b| flush_all(b, None, true)), b"flush_all noreply\r\n");
        assert_eq!(enc(|b| flush_all(b, Some(30), false)), b"flush_all 30\r\n");
        assert_eq!(
            enc(|b| flush_all(b, Some(0), true)),
            b"flush_all 0 noreply\r\n"
        );
        assert_eq!(enc(|b| stats(b, None).unwrap()), b"stats\r\n");
        assert_eq!(
            enc(|b| stats(b, Some(b"slabs")).unwrap()),
            b"stats slabs\r\n"
        );
        let mut buf = Vec::new();
        let e = stats(&mut buf, Some(b"items\r\nflush_all")).unwrap_err();
        assert_eq!(e.kind(), Kind::Invalid);
        assert_eq!(
            e.message(),
            "stats group \"items\\x0d\\x0aflush_all\" contains control character 0x0d at byte 5"
        );
        assert!(buf.is_empty());
        assert_eq!(enc(version), b"version\r\n");
        assert_eq!(enc(|b| verbosity(b, 1, false)), b"verbosity 1\r\n");
        assert_eq!(enc(|b| verbosity(b, 0, true)), b"verbosity 0 noreply\r\n");
        assert_eq!(enc(|b| meta_get(b, b"k", &[])), b"mg k\r\n");
        assert_eq!(
            enc(|b| meta_get(b, b"k", &[b"t", b"v", b"f", b"c", b"s"])),
            b"mg k t v f c s\r\n"
        );
        assert_eq!(
            enc(|b| meta_get(b, b"k", &[b"O123", b"q"])),
            b"mg k O123 q\r\n"
        );
    }

    // --- replies --------------------------------------------------------

    #[test]
    fn keyword_replies() {
        let cases: [(&[u8], Reply); 9] = [
            (b"END\r\n", Reply::End),
            (b"STORED\r\n", Reply::Stored),
            (b"NOT_STORED\r\n", Reply::NotStored),
            (b"EXISTS\r\n", Reply::Exists),
            (b"NOT_FOUND\r\n", Reply::NotFound),
            (b"DELETED\r\n", Reply::Deleted),
            (b"TOUCHED\r\n", Reply::Touched),
            (b"OK\r\n", Reply::Ok),
            (b"ERROR\r\n", Reply::Error(b"")),
        ];
        for (buf, want) in cases {
            assert_eq!(one(buf), want);
        }
        assert_eq!(
            one(b"ERROR unknown command\r\n"),
            Reply::Error(b"unknown command")
        );
    }

    #[test]
    fn value_replies() {
        assert_eq!(
            one(b"VALUE foo 5 3\r\nbar\r\n"),
            Reply::Value {
                key: b"foo",
                flags: 5,
                cas: None,
                data: b"bar"
            }
        );
        assert_eq!(
            one(b"VALUE foo 4294967295 0 18446744073709551615\r\n\r\n"),
            Reply::Value {
                key: b"foo",
                flags: u32::MAX,
                cas: Some(u64::MAX),
                data: b""
            }
        );
        assert_eq!(
            one(b"VALUE k 0 2 42\r\nhi\r\n"),
            Reply::Value {
                key: b"k",
                flags: 0,
                cas: Some(42),
                data: b"hi"
            }
        );
    }

    #[test]
    fn value_with_binary_data() {
        let mut data: Vec<u8> = (0..=255u8).collect();
        data.extend_from_slice(b"\r\nEND\r\n");
        data.extend((0..=255u8).rev());
        data.extend_from_slice(b"\r\n");
        let mut buf = format!("VALUE bin 7 {}\r\n", data.len()).into_bytes();
        let header = buf.len();
        buf.extend_from_slice(&data);
        buf.extend_from_slice(b"\r\nEND\r\n");
        let total = buf.len() - 5;
        for cut in 0..total {
            assert_eq!(parse(&buf[..cut]).unwrap(), None, "cut {cut}");
        }
        assert_eq!(needed(&buf[..header]), Some(total));
        let (reply, n) = parse(&buf).unwrap().unwrap();
        assert_eq!(n, total);
        assert_eq!(
            reply,
            Reply::Value {
                key: b"bin",
                flags: 7,
                cas: None,
                data: &data
            }
        );
        assert_eq!(one(&buf[n..]), Reply::End);
    }

    #[test]
    fn large_value_and_needed() {
        let size = 1_048_576;
        let mut buf = format!("VALUE big 0 {size} 9\r\n").into_bytes();
        let header = buf.len();
        assert_eq!(needed(&buf), Some(header + size + 2));
        assert_eq!(needed(&buf[..header - 1]), None);
        assert_eq!(parse(&buf).unwrap(), None);
        buf.resize(header + size, b'\n');
        assert_eq!(parse(&buf).unwrap(), None);
        buf.extend_from_slice(b"\r\n");
        match one(&buf) {
            Reply::Value { cas, data, .. } => {
                assert_eq!(cas, Some(9));
                assert_eq!(data.len(), size);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(needed(&buf), Some(buf.len()));
        assert_eq!(needed(b"VA 10 t5\r\n"), Some(10 + 10 + 2));
        assert_eq!(needed(b"VA 10"), None);
        assert_eq!(needed(b"END\r\n"), None);
        assert_eq!(needed(b"HD\r\n"), None);
        assert_eq!(needed(b"VALUE k x 1\r\n"), None);
        assert_eq!(needed(b""), None);
    }

    #[test]
    fn number_fields() {
        assert_eq!(number_field(b"0"), Some((0, None)));
        assert_eq!(number_field(b"42 rest"), Some((42, Some(&b"rest"[..]))));
        assert_eq!(number_field(b"7 "), Some((7, Some(&b""[..]))));
        assert_eq!(
            number_field(b"18446744073709551615"),
            Some((u64::MAX, None))
        );
        assert_eq!(
            number_field(b"0018446744073709551615 x"),
            Some((u64::MAX, Some(&b"x"[..])))
        );
        assert_eq!(number_field(b"18446744073709551616"), None);
        for bad in [&b""[..], b" 1", b"-1", b"+1", b"1x", b"1\t2", b"x"] {
            assert_eq!(number_field(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn value_starts_and_block_ends() {
        let buf = b"VALUE k 5 3 77\r\nabc\r\nEND\r\n";
        assert_eq!(
            parse_start(buf).unwrap(),
            Some(Start::Value {
                key: b"k",
                flags: 5,
                cas: Some(77),
                size: 3,
                header: 16,
            })
        );
        // The header alone is enough: the data need not be buffered.
        assert_eq!(
            parse_start(b"VALUE big 0 1048576\r\n").unwrap(),
            Some(Start::Value {
                key: b"big",
                flags: 0,
                cas: None,
                size: 1_048_576,
                header: 21,
            })
        );
        assert_eq!(parse_start(b"VALUE k 5 3").unwrap(), None);
        assert_eq!(parse_start(b"").unwrap(), None);
        assert_eq!(
            parse_start(b"END\r\nxx").unwrap(),
            Some(Start::Other(Reply::End, 5))
        );
        assert_eq!(
            parse_start(b"SERVER_ERROR out of memory\r\n").unwrap(),
            Some(Start::Other(Reply::ServerError(b"out of memory"), 28))
        );
        assert_eq!(
            parse_start(b"VALUE k x 3\r\n").unwrap_err().kind(),
            Kind::Protocol
        );
        assert_eq!(
            parse_start(b"BOGUS\r\n").unwrap_err().kind(),
            Kind::Protocol
        );

        let line = b"VALUE k 0 3";
        assert_eq!(block_end(b"\r\nEND\r\n", line).unwrap(), Some(2));
        assert_eq!(block_end(b"\r\n", line).unwrap(), Some(2));
        assert_eq!(block_end(b"\r", line).unwrap(), None);
        assert_eq!(block_end(b"", line).unwrap(), None);
        for bad in [&b"x"[..], b"\n", b"\rx", b"ab\r\n"] {
            let e = block_end(bad, line).unwrap_err();
            assert_eq!(e.kind(), Kind::Protocol);
            // the same message as parse() gives for the whole unit
            assert_eq!(e, parse(b"VALUE k 0 3\r\nabcXY").unwrap_err());
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(one(b"0\r\n"), Reply::Number(0));
        assert_eq!(one(b"42\r\n"), Reply::Number(42));
        assert_eq!(one(b"10   \r\n"), Reply::Number(10));
        assert_eq!(one(b"18446744073709551615\r\n"), Reply::Number(u64::MAX));
        assert_eq!(
            one(b"000000000000000000000000018446744073709551615\r\n"),
            Reply::Number(u64::MAX)
        );
    }

    #[test]
    fn stat_version_and_errors() {
        assert_eq!(
            one(b"STAT pid 1234\r\n"),
            Reply::Stat {
                name: b"pid",
                value: b"1234"
            }
        );
        assert_eq!(
            one(b"STAT version 1.6.18 with spaces  here\r\n"),
            Reply::Stat {
                name: b"version",
                value: b"1.6.18 with spaces  here"
            }
        );
        assert_eq!(
            one(b"STAT empty \r\n"),
            Reply::Stat {
                name: b"empty",
                value: b""
            }
        );
        assert_eq!(
            one(b"STAT bare\r\n"),
            Reply::Stat {
                name: b"bare",
                value: b""
            }
        );
        assert_eq!(one(b"VERSION 1.6.18\r\n"), Reply::Version(b"1.6.18"));
        assert_eq!(one(b"VERSION\r\n"), Reply::Version(b""));
        assert_eq!(
            one(b"CLIENT_ERROR bad command line format\r\n"),
            Reply::ClientError(b"bad command line format")
        );
        assert_eq!(one(b"CLIENT_ERROR\r\n"), Reply::ClientError(b""));
        assert_eq!(one(b"CLIENT_ERROR \r\n"), Reply::ClientError(b""));
        assert_eq!(
            one(b"SERVER_ERROR object too large for cache\r\n"),
            Reply::ServerError(b"object too large for cache")
        );
        assert_eq!(one(b"SERVER_ERROR\r\n"), Reply::ServerError(b""));
    }

    #[test]
    fn meta_replies() {
        let meta = |code, flags: &'static [u8], data: Option<&'static [u8]>| Reply::Meta {
            code,
            flags,
            data,
        };
        assert_eq!(one(b"HD\r\n"), meta(MetaCode::Hd, b"", None));
        assert_eq!(
            one(b"HD t3599 f16 c7\r\n"),
            meta(MetaCode::Hd, b"t3599 f16 c7", None)
        );
        assert_eq!(one(b"EN\r\n"), meta(MetaCode::En, b"", None));
        assert_eq!(one(b"NF\r\n"), meta(MetaCode::Nf, b"", None));
        assert_eq!(one(b"NS O99\r\n"), meta(MetaCode::Ns, b"O99", None));
        assert_eq!(one(b"EX c12\r\n"), meta(MetaCode::Ex, b"c12", None));
        assert_eq!(one(b"MN\r\n"), meta(MetaCode::Mn, b"", None));
        assert_eq!(
            one(b"VA 5 t-1 f0 s5\r\nhello\r\n"),
            meta(MetaCode::Va, b"t-1 f0 s5", Some(b"hello"))
        );
        assert_eq!(one(b"VA 0\r\n\r\n"), meta(MetaCode::Va, b"", Some(b"")));
        assert_eq!(
            one(b"VA 6 \r\n\r\nEN\r\n\r\n"),
            meta(MetaCode::Va, b"", Some(b"\r\nEN\r\n"))
        );
        assert_eq!(parse(b"VA 5 f1\r\nhell").unwrap(), None);
        assert_eq!(parse(b"VA 5 f1\r\nhello\r").unwrap(), None);
        err(b"VA 5 f1\r\nhello!!");
        err(b"VA\r\n");
        err(b"VA x\r\n\r\n");
        err(b"VA 4294967296\r\n");
        err(b"HDX\r\n");
        err(b"hd\r\n");
        err(b"ME k exp=-1\r\n");
    }

    #[test]
    fn meta_flag_lookup() {
        let flags = b"t3599 f16 c123 s5 W kfoo";
        assert_eq!(meta_flag(flags, b't'), Some(&b"3599"[..]));
        assert_eq!(meta_flag(flags, b'f'), Some(&b"16"[..]));
        assert_eq!(meta_flag(flags, b'c'), Some(&b"123"[..]));
        assert_eq!(meta_flag(flags, b's'), Some(&b"5"[..]));
        assert_eq!(meta_flag(flags, b'W'), Some(&b""[..]));
        assert_eq!(meta_flag(flags, b'k'), Some(&b"foo"[..]));
        assert_eq!(meta_flag(flags, b'v'), None);
        assert_eq!(meta_flag(flags, b'3'), None);
        assert_eq!(meta_flag(b"", b't'), None);
        assert_eq!(meta_flag(b"  t1  ", b't'), Some(&b"1"[..]));
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &b"\r\n"[..],
            b"HELLO\r\n",
            b"end\r\n",
            b"END \r\n",
            b" END\r\n",
            b"STORED\rX\r\n",
            b"STAT \r\n",
            b"STAT  x\r\n",
            b"12a\r\n",
            b"12 3\r\n",
            b"1\t\r\n",
            b"18446744073709551616\r\n",
            b"99999999999999999999999\r\n",
            b"VALUE\r\n",
            b"VALUE \r\n",
            b"VALUE k\r\n",
            b"VALUE k 0\r\n",
            b"VALUE k x 1\r\nx\r\n",
            b"VALUE k -1 1\r\nx\r\n",
            b"VALUE k 4294967296 1\r\nx\r\n",
            b"VALUE k 0 4294967296\r\n",
            b"VALUE k 0 +1\r\nx\r\n",
            b"VALUE k 0 1 x\r\nx\r\n",
            b"VALUE k 0 1 18446744073709551616\r\nx\r\n",
            b"VALUE k 0 1 2 3\r\nx\r\n",
            b"VALUE k  0 1\r\nx\r\n",
            b"VALUE k 0 1 \r\nx\r\n",
            b"VALUE k 0 3\r\nabcde",
            b"VALUE k 0 3\r\nabc\n\r",
            b"VALUE k 0 3\r\nabc\rX",
        ] {
            err(bad);
        }
    }

    #[test]
    fn lone_newline() {
        let e = err(b"STORED\n");
        assert!(e.message().contains("STORED"), "{}", e.message());
        err(b"\n");
        err(b"END\nEND\r\n");
        // A "\r" not yet followed by anything is still incomplete.
        assert_eq!(parse(b"STORED\r").unwrap(), None);
        assert_eq!(parse(b"STOR").unwrap(), None);
        assert_eq!(parse(b"").unwrap(), None);
    }

    #[test]
    fn line_length_limit() {
        let mut line = vec![b'x'; MAX_LINE + 1];
        assert_eq!(parse(&line).unwrap(), None);
        line.push(b'x');
        let e = err(&line);
        assert!(e.message().len() < 200, "{}", e.message());
        assert!(e.message().contains("xxx..."), "{}", e.message());
        // Exactly MAX_LINE bytes before the CRLF is accepted...
        let mut ok = b"STAT name ".to_vec();
        ok.resize(MAX_LINE, b'v');
        ok.extend_from_slice(b"\r\n");
        match one(&ok) {
            Reply::Stat { name, value } => {
                assert_eq!(name, b"name");
                assert_eq!(value.len(), MAX_LINE - 10);
            }
            other => panic!("{other:?}"),
        }
        // ...one more is not.
        let mut long = b"STAT name ".to_vec();
        long.resize(MAX_LINE + 1, b'v');
        long.extend_from_slice(b"\r\n");
        err(&long);
    }

    #[test]
    fn error_messages_quote_escaped_line() {
        let e = err(b"HELLO \x01\xff there\r\n");
        assert_eq!(
            e.message(),
            "malformed reply from memcached (unknown reply): \"HELLO \\x01\\xff there\""
        );
        let e = err(b"VALUE k 0 3\r\nabcXY");
        assert!(e.message().contains("not followed"), "{}", e.message());
        assert!(e.message().contains("VALUE k 0 3"), "{}", e.message());
        let e = err(b"18446744073709551616\r\n");
        assert!(
            e.message().contains("18446744073709551616"),
            "{}",
            e.message()
        );
    }

    /// A pipeline's worth of replies and what each must parse to.
    fn sample() -> (Vec<u8>, Vec<(Reply<'static>, usize)>) {
        let units: Vec<(&'static [u8], Reply<'static>)> = vec![
            (
                b"VALUE a 1 3 99\r\nx\r\n\r\n",
                Reply::Value {
                    key: b"a",
                    flags: 1,
                    cas: Some(99),
                    data: b"x\r\n",
                },
            ),
            (
                b"VALUE bb 0 0\r\n\r\n",
                Reply::Value {
                    key: b"bb",
                    flags: 0,
                    cas: None,
                    data: b"",
                },
            ),
            (b"END\r\n", Reply::End),
            (b"STORED\r\n", Reply::Stored),
            (b"NOT_STORED\r\n", Reply::NotStored),
            (b"EXISTS\r\n", Reply::Exists),
            (b"NOT_FOUND\r\n", Reply::NotFound),
            (b"DELETED\r\n", Reply::Deleted),
            (b"TOUCHED\r\n", Reply::Touched),
            (b"OK\r\n", Reply::Ok),
            (b"1234 \r\n", Reply::Number(1234)),
            (
                b"STAT rusage_user 0.1 2\r\n",
                Reply::Stat {
                    name: b"rusage_user",
                    value: b"0.1 2",
                },
            ),
            (b"VERSION 1.6.18\r\n", Reply::Version(b"1.6.18")),
            (b"ERROR\r\n", Reply::Error(b"")),
            (b"CLIENT_ERROR oops\r\n", Reply::ClientError(b"oops")),
            (
                b"SERVER_ERROR out of memory\r\n",
                Reply::ServerError(b"out of memory"),
            ),
            (
                b"HD c5\r\n",
                Reply::Meta {
                    code: MetaCode::Hd,
                    flags: b"c5",
                    data: None,
                },
            ),
            (
                b"VA 2 f3\r\nEN\r\n",
                Reply::Meta {
                    code: MetaCode::Va,
                    flags: b"f3",
                    data: Some(b"EN"),
                },
            ),
            (
                b"EN\r\n",
                Reply::Meta {
                    code: MetaCode::En,
                    flags: b"",
                    data: None,
                },
            ),
            (
                b"MN\r\n",
                Reply::Meta {
                    code: MetaCode::Mn,
                    flags: b"",
                    data: None,
                },
            ),
        ];
        let mut buf = Vec::new();
        let mut want = Vec::new();
        for (bytes, reply) in units {
            buf.extend_from_slice(bytes);
            want.push((reply, bytes.len()));
        }
        (buf, want)
    }

    #[test]
    fn back_to_back() {
        let (buf, want) = sample();
        let mut off = 0;
        for (reply, len) in &want {
            assert_eq!(parse(&buf[off..]).unwrap(), Some((*reply, *len)));
            off += len;
        }
        assert_eq!(off, buf.len());
        assert_eq!(parse(&buf[off..]).unwrap(), None);
    }

    #[test]
    fn every_split_point() {
        let (buf, want) = sample();
        for cut in 0..=buf.len() {
            let prefix = &buf[..cut];
            let mut off = 0;
            for (reply, len) in &want {
                if off + len > cut {
                    break;
                }
                assert_eq!(
                    parse(&prefix[off..]).unwrap(),
                    Some((*reply, *len)),
                    "cut {cut} off {off}"
                );
                off += len;
            }
            assert_eq!(parse(&prefix[off..]).unwrap(), None, "cut {cut} off {off}");
        }
    }

    // --- fuzz -----------------------------------------------------------

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Bytes that steer the parser into its interesting branches.
    const SPICE: &[u8] = b"\r\n 0123456789VALUESTAHDNFXMERO_";

    fn random_buffer(rng: &mut XorShift, seeds: &[&[u8]]) -> Vec<u8> {
        match rng.below(4) {
            0 => (0..rng.below(48))
                .map(|_| {
                    if rng.below(2) == 0 {
                        SPICE[rng.below(SPICE.len())]
                    } else {
                        rng.next() as u8
                    }
                })
                .collect(),
            1 if rng.below(50) == 0 => {
                // Around the line limit.
                let mut v = vec![b'a'; MAX_LINE - 2 + rng.below(6)];
                v.extend_from_slice(&b"\r\n"[..rng.below(3)]);
                v
            }
            _ => {
                let mut v = Vec::new();
                for _ in 0..1 + rng.below(4) {
                    v.extend_from_slice(seeds[rng.below(seeds.len())]);
                }
                for _ in 0..rng.below(4) {
                    let at = rng.below(v.len() + 1);
                    let byte = if rng.below(2) == 0 {
                        SPICE[rng.below(SPICE.len())]
                    } else {
                        rng.next() as u8
                    };
                    match rng.below(5) {
                        0 if at < v.len() => v[at] = byte,
                        1 => v.insert(at, byte),
                        2 if at < v.len() => {
                            v.remove(at);
                        }
                        3 => v.truncate(at),
                        _ => {
                            // A run of digits: huge sizes, flags and numbers.
                            for _ in 0..rng.below(25) {
                                v.insert(at.min(v.len()), b'0' + rng.below(10) as u8);
                            }
                        }
                    }
                }
                v
            }
        }
    }

    #[test]
    fn fuzz_parse_and_needed() {
        let seeds: &[&[u8]] = &[
            b"VALUE a 1 3 99\r\nx\r\n\r\n",
            b"VALUE key 4294967295 5\r\nhello\r\n",
            b"END\r\n",
            b"STORED\r\n",
            b"NOT_FOUND\r\n",
            b"18446744073709551615\r\n",
            b"12  \r\n",
            b"STAT a b c\r\n",
            b"VERSION 1.6\r\n",
            b"ERROR\r\n",
            b"CLIENT_ERROR x\r\n",
            b"SERVER_ERROR y\r\n",
            b"HD t1 f2\r\n",
            b"VA 3 s3\r\nabc\r\n",
            b"EN\r\n",
            b"MN\r\n",
            b"NS\r\n",
            b"EX c1\r\n",
        ];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut parsed = 0usize;
        for _ in 0..100_000 {
            let buf = random_buffer(&mut rng, seeds);

            // Walk the buffer unit by unit, as a connection would.
            let mut off = 0;
            while let Ok(Some((_, n))) = parse(&buf[off..]) {
                assert!(
                    n > 0 && n <= buf.len() - off,
                    "n {n} at {off} of {}",
                    buf.len()
                );
                off += n;
                parsed += 1;
            }

            // needed() is consistent with parse() once the bytes are there.
            if let Some(total) = needed(&buf) {
                assert!(total > 0);
                if buf.len() >= total {
                    match parse(&buf) {
                        Ok(Some((_, n))) => assert_eq!(n, total),
                        Err(_) => {}
                        Ok(None) => panic!("needed {total} but incomplete"),
                    }
                } else {
                    assert_eq!(parse(&buf).unwrap(), None);
                }
            }

            // More bytes never change an answer already given.
            let cut = rng.below(buf.len() + 1);
            match parse(&buf[..cut]) {
                Ok(Some(got)) => assert_eq!(parse(&buf).unwrap(), Some(got)),
                Err(_) => assert!(parse(&buf).is_err()),
                Ok(None) => {}
            }
        }
        // The mutations must leave plenty of valid input, or this tests little.
        assert!(parsed > 50_000, "only {parsed} units parsed");
    }
}
