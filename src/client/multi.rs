//! The operations on many keys: every key checked before anything is sent,
//! the keys grouped by server, one pipelined write per server, then every
//! server's replies read (see [`Snapshot::per_server`]).

use super::codec::encode;
use super::replies::{deleted, store_status, unexpected};
use super::route::{first, Resend};
use super::{Snapshot, Status};
use crate::error::{Error, Kind, Result};
use crate::key;
use crate::protocol::{self, Reply, RetrieveVerb, StoreVerb};

/// `set` of every item (see [`super::Placed::set_many`]).
pub(super) fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    snap: &Snapshot,
    place: Option<&[u8]>,
    items: &[(K, V, u32)],
    ttl: u32,
) -> Result<Vec<Result<Status>>> {
    let keys: Vec<&[u8]> = items.iter().map(|(k, _, _)| k.as_ref()).collect();
    let full = snap.full_keys(&keys)?;
    let exptimes = snap.exptimes(ttl)?;
    // The compressed data, only where a threshold is in force.
    let packing = snap.options.packing();
    let packed: Option<Vec<_>> = snap.options.compression().map(|min| {
        items
            .iter()
            .map(|(_, value, flags)| encode(packing, StoreVerb::Set, value.as_ref(), *flags, min))
            .collect()
    });
    let mut outcomes: Vec<Result<Status>> = vec![Ok(Status::NotStored); items.len()];
    let errors = snap.per_server(
        place,
        &full,
        Resend::Safe,
        |buf, n, indexes| {
            let mut last = 0;
            for &i in indexes {
                last = buf.len();
                let (value, flags) = match &packed {
                    Some(packed) => (&packed[i].0[..], packed[i].1),
                    None => (items[i].1.as_ref(), items[i].2),
                };
                protocol::store(
                    buf,
                    StoreVerb::Set,
                    &full[i],
                    flags,
                    exptimes[n],
                    value,
                    false,
                );
            }
            last
        },
        |conn, deadline, server, indexes| {
            for &i in indexes {
                outcomes[i] = match conn.read_reply(deadline, store_status)? {
                    // The server read and dropped that item's data: the
                    // stream is still in step for the next reply.
                    Err(e) if matches!(e.kind(), Kind::Server | Kind::TooLarge) => {
                        Err(e.context(server))
                    }
                    Err(e) => return Err(e),
                    Ok(status) => Ok(status),
                };
            }
            Ok(())
        },
    );
    first(errors)?;
    Ok(outcomes)
}

/// The hits among `keys`, each seen by `each(key as given, flags, cas,
/// value)` where it was read; the errors of the servers that failed (see
/// [`super::Placed::get_many_partial`]).
pub(super) fn get_many<K: AsRef<[u8]>>(
    snap: &Snapshot,
    place: Option<&[u8]>,
    keys: &[K],
    mut each: impl FnMut(&[u8], u32, u64, &[u8]),
) -> Result<Vec<Error>> {
    let full = snap.full_keys(keys)?;
    let packing = snap.options.packing();
    Ok(snap.per_server(
        place,
        &full,
        Resend::Safe,
        // One "gets" line per server.
        |buf, _, indexes| {
            let keys: Vec<&[u8]> = indexes.iter().map(|&i| full[i].as_ref()).collect();
            protocol::retrieve(buf, RetrieveVerb::Gets, &keys);
            0
        },
        |conn, deadline, _, indexes| {
            let mut asked = Asked::new(indexes);
            loop {
                let done = conn.read_unit(deadline, |reply| match reply {
                    Reply::Value {
                        key,
                        flags,
                        cas,
                        data,
                    } => {
                        let i = asked.take(key, |i| &full[i])?;
                        if packing.packed(flags) {
                            let (value, flags) = packing.unpack(data, flags)?;
                            each(keys[i].as_ref(), flags, cas.unwrap_or(0), &value);
                        } else {
                            each(keys[i].as_ref(), flags, cas.unwrap_or(0), data);
                        }
                        Ok(false)
                    }
                    Reply::End => Ok(true),
                    other => Err(unexpected(other)),
                })??;
                if done {
                    return Ok(());
                }
            }
        },
    ))
}

/// `delete` of every key: whether each had an item, in input order.
pub(super) fn delete_many<K: AsRef<[u8]>>(
    snap: &Snapshot,
    place: Option<&[u8]>,
    keys: &[K],
) -> Result<Vec<bool>> {
    let full = snap.full_keys(keys)?;
    let mut found = vec![false; keys.len()];
    let errors = snap.per_server(
        place,
        &full,
        Resend::Never,
        |buf, _, indexes| {
            let mut last = 0;
            for &i in indexes {
                last = buf.len();
                protocol::delete(buf, &full[i], false);
            }
            last
        },
        |conn, deadline, _, indexes| {
            for &i in indexes {
                found[i] = conn.read_reply(deadline, deleted)??;
            }
            Ok(())
        },
    );
    first(errors)?;
    Ok(found)
}

/// The keys one server was asked for in a multi-get, to check its reply
/// against: every VALUE must be for a key asked, each at most as often as
/// asked. memcached answers in the order asked, so the next key asked is
/// looked at first; a key out of that order is still found.
struct Asked<'i> {
    indexes: &'i [usize],
    taken: Vec<bool>,
    next: usize,
}

impl<'i> Asked<'i> {
    fn new(indexes: &'i [usize]) -> Asked<'i> {
        Asked {
            indexes,
            taken: vec![false; indexes.len()],
            next: 0,
        }
    }

    /// The index of the key asked that `key` (as the server sent it)
    /// answers, `full(index)` being each key as sent; a protocol error if
    /// none is left.
    fn take<'k>(&mut self, key: &[u8], full: impl Fn(usize) -> &'k [u8]) -> Result<usize> {
        let len = self.indexes.len();
        let found = (self.next..len)
            .chain(0..self.next)
            .find(|&j| !self.taken[j] && full(self.indexes[j]) == key);
        match found {
            Some(j) => {
                self.taken[j] = true;
                self.next = j + 1;
                Ok(self.indexes[j])
            }
            None => Err(Error::new(
                Kind::Protocol,
                format!(
                    "reply with a value for key \"{}\", which was not asked for",
                    key::show(key)
                ),
            )),
        }
    }
}
