//! The operations on many keys: every key checked before anything is sent,
//! the keys grouped by server, one pipelined write per server, then every
//! server's replies read (see [`Snapshot::per_server`]).
//!
//! A server with a binary key among its keys gets meta commands, one per
//! key and each answered in order, as the classic storage and delete
//! commands are. Not in quiet mode: memcached's errors carry no opaque
//! token (a `SERVER_ERROR` for a value too large could not be told from
//! its neighbours'), and a quiet multi-get costs more than a classic one
//! (measured by `make bench`'s floor-meta rows).

use super::codec::{encode, Packing};
use super::replies::{
    deleted, meta_code, meta_deleted, meta_status, store_status, unexpected, va_fields,
};
use super::route::{first, Resend};
use super::{Key, Snapshot, Status};
use crate::error::{Error, Kind, Result};
use crate::key;
use crate::net::Values;
use crate::protocol::{self, MetaCode, MetaDelete, Reply, RetrieveVerb, StoreVerb};

/// `set` of every item (see [`super::Placed::set_many`]).
pub(super) fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    snap: &Snapshot,
    place: Option<&[u8]>,
    items: &[(K, V, u32)],
    exptimes: impl FnOnce(&Snapshot) -> Result<Vec<u32>>,
) -> Result<Vec<Result<Status>>> {
    let keys: Vec<&[u8]> = items.iter().map(|(k, _, _)| k.as_ref()).collect();
    let full = snap.full_keys(&keys)?;
    // Each server's exptime, once the keys are known to be good.
    let exptimes = exptimes(snap)?;
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
        |buf, n, indexes, meta| {
            let mut last = 0;
            for &i in indexes {
                last = buf.len();
                let (value, flags) = match &packed {
                    Some(packed) => (&packed[i].0[..], packed[i].1),
                    None => (items[i].1.as_ref(), items[i].2),
                };
                full[i].store_head(buf, StoreVerb::Set, meta, value.len(), exptimes[n], flags);
                buf.extend_from_slice(value);
                buf.extend_from_slice(b"\r\n");
            }
            last
        },
        |conn, deadline, server, indexes, meta| {
            let status = if meta { meta_status } else { store_status };
            for &i in indexes {
                outcomes[i] = match conn.read_reply(deadline, status)? {
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

/// The hits among `keys`, each seen by `each(index in keys, key as given,
/// flags, cas, value)` where it was read (`cas`: asked with `gets`, else `get` and 0);
/// the errors of the servers that failed (see
/// [`super::Placed::get_many_partial`]).
pub(super) fn get_many<K: AsRef<[u8]>>(
    snap: &Snapshot,
    place: Option<&[u8]>,
    keys: &[K],
    cas: bool,
    each: impl FnMut(usize, &[u8], u32, u64, &[u8]),
) -> Result<Vec<Error>> {
    let full = snap.full_keys(keys)?;
    let mut hits = Hits {
        full: &full,
        prefix: snap.options.key_prefix.len(),
        packing: snap.options.packing(),
        each,
    };
    Ok(snap.per_server(
        place,
        &full,
        Resend::Safe,
        // One "gets" line per server, or a meta get per key.
        |buf, _, indexes, meta| {
            if meta {
                let mut last = 0;
                for &i in indexes {
                    last = buf.len();
                    protocol::meta_value(buf, full[i].meta(), None, None);
                }
                return last;
            }
            let keys = indexes.iter().map(|&i| &*full[i]);
            protocol::retrieve(buf, RetrieveVerb::with_cas(cas), keys);
            0
        },
        |conn, deadline, _, indexes, meta| {
            if meta {
                // One VA or EN per key, in the order asked.
                for &i in indexes {
                    conn.read_unit(deadline, |reply| match reply {
                        Reply::Meta {
                            code: MetaCode::Va,
                            flags: tokens,
                            data: Some(data),
                        } => {
                            let (flags, cas) = va_fields(tokens)?;
                            hits.hit(i, flags, cas, data)
                        }
                        reply if meta_code(&reply) == Some(MetaCode::En) => Ok(()),
                        other => Err(unexpected(other)),
                    })??;
                }
                return Ok(());
            }
            let mut asked = Asked::new(indexes, &full, &mut hits);
            conn.read_values(deadline, &mut asked, unexpected)
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
        |buf, _, indexes, meta| {
            let mut last = 0;
            for &i in indexes {
                last = buf.len();
                match meta {
                    true => protocol::meta_delete(buf, full[i].meta(), MetaDelete::default()),
                    false => protocol::delete(buf, &full[i], false),
                }
            }
            last
        },
        |conn, deadline, _, indexes, meta| {
            let answer = if meta { meta_deleted } else { deleted };
            for &i in indexes {
                found[i] = conn.read_reply(deadline, answer)??;
            }
            Ok(())
        },
    );
    first(errors)?;
    Ok(found)
}

/// Where a multi-get's hits go: `each` sees each with its index and key
/// as given, its value decompressed where it was stored packed. The key as
/// given is its full key less the prefix: the caller's keys are read once,
/// by [`Snapshot::full_keys`] (a C caller's are C strings, measured by
/// `strlen` each time they are read).
struct Hits<'a, 'k, E> {
    full: &'a [Key<'k>],
    /// The key prefix's length.
    prefix: usize,
    packing: Packing,
    each: E,
}

impl<E: FnMut(usize, &[u8], u32, u64, &[u8])> Hits<'_, '_, E> {
    /// A hit of key `i`. Always inlined into its readers: as a call (a
    /// closure) it cost 12 instructions a hit more (callgrind, C mget100).
    #[inline(always)]
    fn hit(&mut self, i: usize, flags: u32, cas: u64, data: &[u8]) -> Result<()> {
        let key = &self.full[i][self.prefix..];
        if self.packing.packed(flags) {
            let (value, flags) = self.packing.unpack(data, flags)?;
            (self.each)(i, key, flags, cas, &value);
        } else {
            (self.each)(i, key, flags, cas, data);
        }
        Ok(())
    }
}

/// The keys one server was asked for in a multi-get, to check its reply
/// against: every VALUE must be for a key asked, each at most as often as
/// asked. memcached answers in the order asked (the misses left out), so
/// the next key asked is expected first; a key out of that order is still
/// found. Each value goes to `hits` with the index of its key.
struct Asked<'i, 'k, H> {
    indexes: &'i [usize],
    /// The keys as sent, by index.
    full: &'i [Key<'k>],
    taken: Vec<bool>,
    next: usize,
    hits: &'i mut H,
}

impl<'i, 'k, H> Asked<'i, 'k, H> {
    fn new(indexes: &'i [usize], full: &'i [Key<'k>], hits: &'i mut H) -> Self {
        Asked {
            indexes,
            full,
            taken: vec![false; indexes.len()],
            next: 0,
            hits,
        }
    }

    /// The index of the key asked that `key` (as the server sent it)
    /// answers, out of the order asked; a protocol error if none is left.
    #[cold]
    fn search(&mut self, key: &[u8]) -> Result<usize> {
        let len = self.indexes.len();
        let fits = |j: usize| !self.taken[j] && *self.full[self.indexes[j]] == *key;
        match (self.next..len).chain(0..self.next).find(|&j| fits(j)) {
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

impl<E> Values for Asked<'_, '_, Hits<'_, '_, E>>
where
    E: FnMut(usize, &[u8], u32, u64, &[u8]),
{
    fn next_key(&self) -> &[u8] {
        match self.indexes.get(self.next) {
            Some(&i) if !self.taken[self.next] => &self.full[i],
            _ => b"",
        }
    }

    /// Always inlined into the read loop: as a call it cost 11 instructions
    /// a hit more (callgrind, C mget100).
    #[inline(always)]
    fn next_value(&mut self, flags: u32, cas: Option<u64>, data: &[u8]) -> Result<()> {
        let j = self.next;
        self.taken[j] = true;
        self.next = j + 1;
        self.hits
            .hit(self.indexes[j], flags, cas.unwrap_or(0), data)
    }

    fn value(&mut self, key: &[u8], flags: u32, cas: Option<u64>, data: &[u8]) -> Result<()> {
        let i = self.search(key)?;
        self.hits.hit(i, flags, cas.unwrap_or(0), data)
    }
}
