//! What each reply means: the outcome of a store, a delete, a single get,
//! and the error for a reply that does not answer its request (with the
//! server's own words, never Rust debug output).

use super::codec::{Landing, Packing};
use super::{Item, Key, Status, ValueBuf, VecBuf};
use crate::error::{Error, Kind, Result};
use crate::key;
use crate::net::{Connection, Deadline, Fetched};
use crate::protocol::{self, MetaCode, Reply};

/// A meta flag's value as a number.
pub(super) fn parse_meta<T: std::str::FromStr>(value: &[u8], what: &str) -> Result<T> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            Error::new(
                Kind::Protocol,
                format!("meta get reply with a bad {what}: \"{}\"", key::show(value)),
            )
        })
}

/// Reads the reply to a one-key `gets`/`gats`: a VALUE and END, or END
/// (for a binary key, the meta get's VA, or EN).
/// The value goes into the buffer `make(size, flags)` returns.
/// A VALUE for any other key than `key` is a protocol error. With `decode`
/// (the python value format), a compressed value (flag 8) is read into a
/// `Vec` first ([`Landing`]) and decompressed into `make(size, flags
/// without 8)`; without, the value goes straight to `make`'s buffer (the
/// raw format pays nothing for compression).
pub(super) fn read_single<B: ValueBuf>(
    conn: &mut Connection,
    deadline: Deadline,
    key: &Key<'_>,
    packing: Packing,
    make: &mut impl FnMut(usize, u32) -> Result<B>,
) -> Result<Option<(B, u32, u64)>> {
    if packing == Packing::None {
        return read_item(conn, deadline, key, make);
    }
    let landed = read_item(conn, deadline, key, &mut |size, flags| {
        Landing::new(packing, size, flags, make)
    })?;
    // The reply has been read to its end before a compressed value is
    // decompressed: a bad one leaves the connection in step.
    match landed {
        None => Ok(None),
        Some((value, flags, cas)) => {
            let (value, flags) = value.finish(flags, make)?;
            Ok(Some((value, flags, cas)))
        }
    }
}

/// A one-key reply: the VALUE (into `make`'s buffer) and END, or END; for
/// a binary key a VA (without an opaque token), or EN.
fn read_item<B: ValueBuf>(
    conn: &mut Connection,
    deadline: Deadline,
    key: &Key<'_>,
    make: &mut impl FnMut(usize, u32) -> Result<B>,
) -> Result<Option<(B, u32, u64)>> {
    let meta = key.binary();
    let end = |reply: Reply<'_>| match (meta, reply) {
        (false, Reply::End) => Ok(()),
        (true, reply) if meta_code(&reply) == Some(MetaCode::En) => Ok(()),
        (_, other) => Err(unexpected(other)),
    };
    let asked: &[u8] = if meta { b"" } else { key };
    match conn.read_value(deadline, asked, make, end)? {
        Fetched::Other(done) => done.map(|()| None),
        Fetched::Value { value, flags, cas } => {
            if !meta && !conn.skip(b"END\r\n") {
                conn.read_reply(deadline, end)??;
            }
            Ok(Some((value, flags, cas.unwrap_or(0))))
        }
    }
}

/// A `Vec` for a value, for [`Client::get_with`].
pub(super) fn vec_buf(size: usize, _flags: u32) -> Result<VecBuf> {
    Ok(VecBuf::new(size))
}

/// An [`Item`] from what [`Client::get_with`] read into a [`VecBuf`].
pub(super) fn item((value, flags, cas): (VecBuf, u32, u64)) -> Item {
    Item {
        value: value.into_vec(),
        flags,
        cas,
    }
}

pub(super) fn store_status(reply: Reply<'_>) -> Result<Status> {
    match reply {
        Reply::Stored => Ok(Status::Stored),
        Reply::NotStored => Ok(Status::NotStored),
        Reply::Exists => Ok(Status::Exists),
        Reply::NotFound => Ok(Status::NotFound),
        other => Err(unexpected(other)),
    }
}

/// The flags (`f`) and CAS value (`c`) of a meta get's VA reply (0 for
/// one not given).
pub(super) fn va_fields(tokens: &[u8]) -> Result<(u32, u64)> {
    let flag = |f: u8| protocol::meta_flag(tokens, f);
    let flags = parse_meta(flag(b'f').unwrap_or(b"0"), "flags")?;
    let cas = parse_meta(flag(b'c').unwrap_or(b"0"), "cas value")?;
    Ok((flags, cas))
}

/// The code of a meta reply, `None` for a classic one.
pub(super) fn meta_code(reply: &Reply<'_>) -> Option<MetaCode> {
    match reply {
        Reply::Meta { code, .. } => Some(*code),
        _ => None,
    }
}

/// The outcome of a meta set (`ms`).
pub(super) fn meta_status(reply: Reply<'_>) -> Result<Status> {
    match meta_code(&reply) {
        Some(MetaCode::Hd) => Ok(Status::Stored),
        Some(MetaCode::Ns) => Ok(Status::NotStored),
        Some(MetaCode::Ex) => Ok(Status::Exists),
        Some(MetaCode::Nf) => Ok(Status::NotFound),
        _ => Err(unexpected(reply)),
    }
}

/// The outcome of a meta delete (`md`): whether there was an item.
pub(super) fn meta_deleted(reply: Reply<'_>) -> Result<bool> {
    match meta_code(&reply) {
        Some(MetaCode::Hd) => Ok(true),
        Some(MetaCode::Nf) => Ok(false),
        _ => Err(unexpected(reply)),
    }
}

pub(super) fn deleted(reply: Reply<'_>) -> Result<bool> {
    match reply {
        Reply::Deleted => Ok(true),
        Reply::NotFound => Ok(false),
        other => Err(unexpected(other)),
    }
}

pub(super) fn expect_ok(reply: Reply<'_>) -> Result<()> {
    match reply {
        Reply::Ok => Ok(()),
        other => Err(unexpected(other)),
    }
}

/// The error for a reply the request did not expect, with the server's text.
pub(super) fn unexpected(reply: Reply<'_>) -> Error {
    match reply {
        Reply::ServerError(msg) => {
            let text = String::from_utf8_lossy(msg);
            let kind = if text.contains("too large") {
                Kind::TooLarge
            } else {
                Kind::Server
            };
            Error::new(kind, format!("SERVER_ERROR {text}"))
        }
        Reply::ClientError(msg) => {
            let text = String::from_utf8_lossy(msg);
            if text == "unauthenticated" {
                // A server with an auth file, and no login configured.
                return Error::new(
                    Kind::Auth,
                    "CLIENT_ERROR unauthenticated: the server requires a login (a username and \
                     password for the handle)",
                );
            }
            let kind = if text.contains("non-numeric") {
                Kind::NotNumeric
            } else {
                Kind::Client
            };
            Error::new(kind, format!("CLIENT_ERROR {text}"))
        }
        Reply::Error(b"") => {
            Error::new(Kind::Client, "ERROR: the server does not know this command")
        }
        // memcached's own words ("ERROR Too many open connections", after
        // which it closes the connection): not the request's fault.
        error @ Reply::Error(_) => Error::new(Kind::Io, error.line()),
        other => Error::new(
            Kind::Protocol,
            format!(
                "reply that does not answer the request: \"{}\"",
                other.line()
            ),
        ),
    }
}
