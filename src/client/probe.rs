//! Questions about an item that need no value: whether it exists, its
//! flags, its TTL. memcached 1.6 answers them without the value (a meta
//! get, `mg`). A server without the meta commands — memcached before 1.6
//! answers `ERROR`, a proxy such as twemproxy closes the connection — is
//! asked with a classic `gets` instead (existence and flags; it cannot
//! tell a TTL), learned once per server and remembered. A meta get that
//! fails is only taken for "no meta" when a classic `gets` right after it
//! works and a second meta get on a fresh connection fails the same way,
//! so a server restarting in between is never mistaken for one without
//! meta, and no stream ever carries a command the server did not answer.

use super::ops::Placed;
use super::replies::{parse_meta, unexpected};
use super::route::Resend;
use super::{Item, Key, Snapshot};
use crate::error::{Error, Kind, Result};
use crate::key;
use crate::protocol::{self, MetaCode, Reply};

/// How a probe was answered.
enum Probe {
    /// By a meta get: the value of the flag asked (empty when none was),
    /// or None when there is no item.
    Meta(Option<Vec<u8>>),
    /// By a classic `gets` (the server has no meta commands).
    Classic(Option<Item>),
}

impl Placed<'_> {
    /// Is there an item under `key`?
    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        Ok(match self.probe(key, None)? {
            Probe::Meta(found) => found.is_some(),
            Probe::Classic(item) => item.is_some(),
        })
    }

    /// The seconds `key` has left to live (`None`: no item; `Some(-1)`: no
    /// expiry). A server without the meta commands cannot tell: a CLIENT
    /// error that says so.
    pub fn ttl(&self, key: &[u8]) -> Result<Option<i64>> {
        match self.probe(key, Some(b't'))? {
            Probe::Meta(found) => found.map(|t| parse_meta(&t, "a TTL")).transpose(),
            Probe::Classic(_) => Err(self.no_ttl(key)),
        }
    }

    /// The flags stored with `key`'s item, or `None`.
    pub fn flags(&self, key: &[u8]) -> Result<Option<u32>> {
        match self.probe(key, Some(b'f'))? {
            Probe::Meta(found) => found.map(|f| parse_meta(&f, "flags")).transpose(),
            Probe::Classic(item) => Ok(item.map(|i| i.flags)),
        }
    }

    /// A meta get of `key` asking `flag`, or the classic `gets` where the
    /// key's server has no meta commands (see the module's documentation).
    fn probe(&self, key: &[u8], flag: Option<u8>) -> Result<Probe> {
        let snap = self.client.snapshot();
        let full = snap.full_key(key)?;
        let node = &snap.topology.nodes[snap.topology.home(self.place, &full)];
        if node.lacks_meta() {
            return Ok(Probe::Classic(self.get(key)?));
        }
        let first = match self.meta_probe(key, flag) {
            Ok(found) => {
                node.mark_meta(true);
                return Ok(Probe::Meta(found));
            }
            Err(e) if !maybe_no_meta(&e) => return Err(e),
            Err(e) => e,
        };
        // The server answered a classic command: was the meta get's failure
        // its lack of meta, or a passing one?
        let item = self.get(key)?;
        match self.meta_probe(key, flag) {
            Ok(found) => Ok(Probe::Meta(found)),
            Err(again) if maybe_no_meta(&again) && again.kind() == first.kind() => {
                node.mark_meta(false);
                Ok(Probe::Classic(item))
            }
            Err(again) => Err(again),
        }
    }

    /// A meta get of `key` that returns no value: `None` if there is no
    /// item, else the value of meta flag `flag` (empty when none is asked).
    fn meta_probe(&self, key: &[u8], flag: Option<u8>) -> Result<Option<Vec<u8>>> {
        let token = flag.map(|f| [f]);
        let tokens: Vec<&[u8]> = token.iter().map(|t| &t[..]).collect();
        let encode = |_: &Snapshot, buf: &mut Vec<u8>, full: &Key<'_>| {
            protocol::meta_get(buf, full.meta(), &tokens);
            Ok(())
        };
        let answer = |reply: Reply<'_>| match reply {
            Reply::Meta {
                code: MetaCode::Hd,
                flags,
                ..
            } => match flag {
                None => Ok(Some(Vec::new())),
                Some(f) => protocol::meta_flag(flags, f)
                    .map(|v| Some(v.to_vec()))
                    .ok_or_else(|| {
                        Error::new(
                            Kind::Protocol,
                            format!("meta get reply without its {} flag", char::from(f)),
                        )
                    }),
            },
            Reply::Meta {
                code: MetaCode::En, ..
            } => Ok(None),
            other => Err(unexpected(other)),
        };
        self.one_line(key, Resend::Safe, encode, answer)
    }

    /// The error of `ttl` on a server without the meta commands.
    fn no_ttl(&self, key: &[u8]) -> Error {
        let server = self
            .server_for(key)
            .ok()
            .and_then(|n| self.client.server(n).ok())
            .map_or_else(String::new, |s| format!("{s}: "));
        Error::new(
            Kind::Client,
            format!(
                "{server}cannot tell the time to live of key \"{}\": the server has no meta commands (memcached before 1.6, or a proxy such as twemproxy)",
                key::show(key)
            ),
        )
    }
}

/// A failure that a server without meta gives to a meta get: `ERROR`
/// (memcached before 1.6) or a connection closed (a proxy).
fn maybe_no_meta(e: &Error) -> bool {
    matches!(e.kind(), Kind::Client | Kind::Io)
}
