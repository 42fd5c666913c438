//! Request encoders: each appends one command to the caller's buffer, so a
//! pipeline of requests is built in one allocation. Keys are checked by
//! the caller before; a free-form token that would break the framing (a
//! stats group) is refused here.

use crate::error::{Error, Kind, Result};

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

impl RetrieveVerb {
    /// `gets` when the cas is wanted, else `get` (whose reply has none).
    pub fn with_cas(cas: bool) -> RetrieveVerb {
        match cas {
            true => RetrieveVerb::Gets,
            false => RetrieveVerb::Get,
        }
    }

    /// The command word and the space after it.
    fn word(self) -> &'static [u8] {
        match self {
            RetrieveVerb::Get => b"get ",
            RetrieveVerb::Gets => b"gets ",
        }
    }
}

/// `incr` or `decr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Incr,
    Decr,
}

/// Appends `n` in decimal (itoa; `write!` would go through the formatting
/// machinery on every request).
pub(super) fn put_u64(buf: &mut Vec<u8>, n: u64) {
    if n < 10 {
        // Flags and TTLs are mostly 0: one byte, no copy.
        buf.push(b'0' + n as u8);
        return;
    }
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn put_sp_u64(buf: &mut Vec<u8>, n: u64) {
    buf.push(b' ');
    put_u64(buf, n);
}

fn put_keys<K: AsRef<[u8]>>(buf: &mut Vec<u8>, keys: impl IntoIterator<Item = K>) {
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

/// Writes `<verb> <key> <flags> <exptime> <len>[ <cas>][ noreply]\r\n` (header only).
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
pub fn retrieve<K: AsRef<[u8]>>(
    buf: &mut Vec<u8>,
    verb: RetrieveVerb,
    keys: impl IntoIterator<Item = K>,
) {
    buf.extend_from_slice(verb.word().trim_ascii_end());
    put_keys(buf, keys);
    buf.extend_from_slice(b"\r\n");
}

/// `get <key>\r\n` / `gets <key>\r\n` as the parts of one gathered write:
/// a one-key retrieve is sent from the key where it is, with no request
/// buffer to fill (callgrind: -145 instructions a C `mc_get`, the buffer's
/// thread-local lookups and the copies).
pub fn retrieve_one(verb: RetrieveVerb, key: &[u8]) -> [&[u8]; 3] {
    [verb.word(), key, b"\r\n"]
}

/// `gat <exptime> k1 ...\r\n` or `gats <exptime> ...` (cas = false -> gat, true -> gats)
pub fn get_and_touch<K: AsRef<[u8]>>(
    buf: &mut Vec<u8>,
    cas: bool,
    exptime: u32,
    keys: impl IntoIterator<Item = K>,
) {
    buf.extend_from_slice(if cas { b"gats" } else { b"gat" });
    put_sp_u64(buf, u64::from(exptime));
    put_keys(buf, keys);
    buf.extend_from_slice(b"\r\n");
}

/// `touch <key> <exptime>[ noreply]\r\n`
pub fn touch(buf: &mut Vec<u8>, key: &[u8], exptime: u32, noreply: bool) {
    buf.extend_from_slice(b"touch ");
    buf.extend_from_slice(key);
    put_sp_u64(buf, u64::from(exptime));
    put_end(buf, noreply);
}

/// `delete <key>[ noreply]\r\n`. No time argument: memcached 1.6 rejects
/// any but 0 (use `touch` to delete later).
pub fn delete(buf: &mut Vec<u8>, key: &[u8], noreply: bool) {
    buf.extend_from_slice(b"delete ");
    buf.extend_from_slice(key);
    put_end(buf, noreply);
}

/// `incr <key> <delta>[ noreply]\r\n` / "decr ...".
pub fn arith(buf: &mut Vec<u8>, verb: Arith, key: &[u8], delta: u64, noreply: bool) {
    buf.extend_from_slice(match verb {
        Arith::Incr => b"incr ",
        Arith::Decr => b"decr ",
    });
    buf.extend_from_slice(key);
    put_sp_u64(buf, delta);
    put_end(buf, noreply);
}

/// `flush_all[ <delay>][ noreply]\r\n`
pub fn flush_all(buf: &mut Vec<u8>, delay: Option<u32>, noreply: bool) {
    buf.extend_from_slice(b"flush_all");
    if let Some(delay) = delay {
        put_sp_u64(buf, u64::from(delay));
    }
    put_end(buf, noreply);
}

/// `stats[ <group>]\r\n`. A group may hold spaces ("cachedump 1 10"), but
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

/// `verbosity <level>[ noreply]\r\n`
pub fn verbosity(buf: &mut Vec<u8>, level: u32, noreply: bool) {
    buf.extend_from_slice(b"verbosity");
    put_sp_u64(buf, u64::from(level));
    put_end(buf, noreply);
}
