//! The operations on one key, each written once, on [`Placed`] (a client
//! with an optional placement value); the [`Client`] methods of the same
//! names forward to them with the client's own placement.

use super::codec::pack;
use super::multi;
use super::replies::{
    deleted, item, meta_code, meta_deleted, meta_status, read_single, store_status, unexpected,
    vec_buf,
};
use super::route::Resend;
use super::scratch::Scratch;
use super::{checked_exptime, Client, Hit, Item, Key, Snapshot, Status, ValueBuf};
use crate::error::{Error, Result};
use crate::protocol::{self, Arith, MetaCode, MetaDelete, Reply, RetrieveVerb, StoreVerb};

/// Values at least this long are written from the caller's memory with
/// one gathered write instead of being copied into the request buffer.
const ZERO_COPY_VALUE: usize = 16 * 1024;

/// How often `append_or_add` retries after losing a race to other clients.
const APPEND_RACES: usize = 100;

/// The operations of a [`Client`] with a placement value: each key goes to
/// the server the placement value picks, not the one its own hash picks
/// (libmemcached's `_by_key` calls, python-memcached's `(hashvalue, key)`),
/// so related keys share a server and a multi-key operation on them costs
/// one round trip. Made by [`Client::placed`] ([`Client::at`] with `None`:
/// no placement value, each key by its own hash).
///
/// Ketama hashes the placement value as it hashes a key (as libmemcached
/// does its `group_key`). Modula uses a decimal integer (`-?[0-9]+`) as
/// python-memcached uses an integer hash value (`value % buckets`, and
/// `str(value)` for the rehash), and hashes any other value like a key.
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    pub(super) client: &'a Client,
    pub(super) place: Option<&'a [u8]>,
    /// Its TTLs are memcached's own exptimes (see [`Placed::exptimes`]).
    exptimes: bool,
}

impl StoreVerb {
    /// Whether a store may be sent again (see [`Resend`]): `set` and
    /// `replace` leave the same item and answer the same when repeated.
    fn resend(self) -> Resend {
        match self {
            StoreVerb::Set | StoreVerb::Replace => Resend::Safe,
            _ => Resend::Never,
        }
    }
}

impl<'a> Placed<'a> {
    pub(super) fn new(client: &'a Client, place: Option<&'a [u8]>) -> Placed<'a> {
        Placed {
            client,
            place,
            exptimes: false,
        }
    }

    /// The same, its calls' TTLs read as memcached's own exptimes and sent
    /// as they are (as libmemcached and python-memcached pass them): up to
    /// 30 days relative seconds, beyond that a Unix time, [`super::EXPIRED`] an
    /// item that is gone at once; not a lifetime counted from the server's
    /// clock. One past 2^31 - 1 (memcached reads a signed 32-bit number)
    /// is an `Invalid` error.
    pub fn exptimes(self) -> Placed<'a> {
        Placed {
            exptimes: true,
            ..self
        }
    }

    /// The exptime to send for `ttl` with the key `full`.
    fn exptime(&self, snap: &Snapshot, full: &[u8], ttl: u32) -> Result<u32> {
        match self.exptimes {
            true => checked_exptime(ttl),
            false => snap.key_exptime(self.place, full, ttl),
        }
    }

    /// The round trip of a one-key command whose reply is one line: the
    /// key prefixed and checked, the request `encode(snapshot, buffer,
    /// full key)` writes sent to the key's server, its reply turned into
    /// the result by `answer`.
    pub(super) fn one_line<T>(
        &self,
        key: &[u8],
        resend: Resend,
        encode: impl FnOnce(&Snapshot, &mut Vec<u8>, &Key<'_>) -> Result<()>,
        answer: impl Fn(Reply<'_>) -> Result<T>,
    ) -> Result<T> {
        let snap = self.client.snapshot();
        let full = snap.full_key(key)?;
        let mut request = Scratch::take();
        encode(&snap, &mut request, &full)?;
        // A request that may be sent again reads its reply again: `answer`
        // is called once per reply read. A meta command's reply may carry
        // data (`ma`'s number).
        snap.keyed(
            self.place,
            &full,
            &[&request[..]],
            resend,
            |conn, deadline| match full.binary() {
                true => conn.read_unit(deadline, &answer)?,
                false => conn.read_reply(deadline, &answer)?,
            },
        )
    }

    /// The index of the server the placement value picks for `key` (the
    /// placement value alone decides; without one, the key's).
    pub fn server_for(&self, key: &[u8]) -> Result<usize> {
        let snap = self.client.snapshot();
        let full = snap.full_key(key)?;
        Ok(snap.topology.home(self.place, &full))
    }

    // ----- storage -----

    /// Stores `value` under `key` unconditionally.
    pub fn set(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.store(StoreVerb::Set, key, value, flags, ttl)
    }

    /// Stores only if `key` has no item.
    pub fn add(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.store(StoreVerb::Add, key, value, flags, ttl)
    }

    /// Stores only if `key` has an item.
    pub fn replace(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.store(StoreVerb::Replace, key, value, flags, ttl)
    }

    /// Adds `value` at the end of an existing item (flags and TTL kept).
    pub fn append(&self, key: &[u8], value: &[u8]) -> Result<Status> {
        self.store(StoreVerb::Append, key, value, 0, 0)
    }

    /// Adds `value` at the start of an existing item (flags and TTL kept).
    pub fn prepend(&self, key: &[u8], value: &[u8]) -> Result<Status> {
        self.store(StoreVerb::Prepend, key, value, 0, 0)
    }

    /// Stores only if the item's CAS value is still `cas` (from a get).
    pub fn cas(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32, cas: u64) -> Result<Status> {
        self.store(StoreVerb::Cas(cas), key, value, flags, ttl)
    }

    /// Appends `value` to the item under `key`, or stores it as a new item
    /// with `flags` and `ttl` when there is none. Safe when several clients
    /// do it at once: `append` then `add`, and if another client's `add` won
    /// in between, `append` again, so no appended data is ever lost.
    pub fn append_or_add(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        // Each lost race means another client's write landed; a bound keeps
        // a pathological add/delete storm from spinning here for ever.
        for _ in 0..APPEND_RACES {
            if self.append(key, value)? == Status::Stored
                || self.add(key, value, flags, ttl)? == Status::Stored
            {
                return Ok(Status::Stored);
            }
        }
        Ok(Status::NotStored)
    }

    /// Any storage command. `ttl` is relative seconds, 0 for no expiry
    /// (over 30 days: counted from the server's clock, see `admin`).
    pub fn store(
        &self,
        verb: StoreVerb,
        key: &[u8],
        value: &[u8],
        flags: u32,
        ttl: u32,
    ) -> Result<Status> {
        let snap = self.client.snapshot();
        let full = snap.full_key(key)?;
        let exptime = self.exptime(&snap, &full, ttl)?;
        // Compression only where a threshold is set (python format).
        let packed = pack(&snap.options, verb, value, flags);
        let (value, flags) = (&packed.0[..], packed.1);
        let mut head = Scratch::take();
        full.store_head(&mut head, verb, false, value.len(), exptime, flags);
        let parts: [&[u8]; 3];
        let request: &[&[u8]] = if value.len() >= ZERO_COPY_VALUE {
            parts = [&head, value, b"\r\n"];
            &parts
        } else {
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
            parts = [&head, &[], &[]];
            &parts[..1]
        };
        let status = if full.binary() {
            meta_status
        } else {
            store_status
        };
        snap.keyed(
            self.place,
            &full,
            request,
            verb.resend(),
            |conn, deadline| conn.read_reply(deadline, status)?,
        )
    }

    // ----- retrieval -----

    /// The item under `key`, or `None`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Item>> {
        Ok(self.get_with(key, true, vec_buf)?.map(item))
    }

    /// The item under `key` as (value, flags, cas), or `None`, its value
    /// read straight from the socket into the buffer `make(size, flags)`
    /// returns: the caller's final memory, so a large value is not copied.
    ///
    /// `cas`: whether the item's cas is wanted (`gets`); without, the
    /// request is a `get`, whose reply has none to read (0 is returned).
    pub fn get_with<B: ValueBuf>(
        &self,
        key: &[u8],
        cas: bool,
        mut make: impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Option<(B, u32, u64)>> {
        let snap = self.client.snapshot();
        let full = snap.full_key(key)?;
        let packing = snap.options.packing();
        let meta;
        let parts;
        let request: &[&[u8]] = if full.binary() {
            let mut buf = Scratch::take();
            protocol::meta_value(&mut buf, full.meta(), None, None);
            meta = buf;
            parts = [&meta[..]];
            &parts
        } else {
            &protocol::retrieve_one(RetrieveVerb::with_cas(cas), &full)
        };
        snap.keyed(
            self.place,
            &full,
            request,
            Resend::Safe,
            |conn, deadline| read_single(conn, deadline, &full, packing, &mut make),
        )
    }

    /// The item under `key`, giving it a new TTL in the same request
    /// (`gats`), or `None`.
    pub fn get_and_touch(&self, key: &[u8], ttl: u32) -> Result<Option<Item>> {
        Ok(self.get_and_touch_with(key, ttl, vec_buf)?.map(item))
    }

    /// `get_and_touch` into the caller's buffer, as [`Placed::get_with`].
    pub fn get_and_touch_with<B: ValueBuf>(
        &self,
        key: &[u8],
        ttl: u32,
        mut make: impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Option<(B, u32, u64)>> {
        let snap = self.client.snapshot();
        let full = snap.full_key(key)?;
        let exptime = self.exptime(&snap, &full, ttl)?;
        let packing = snap.options.packing();
        let mut request = Scratch::take();
        if full.binary() {
            protocol::meta_value(&mut request, full.meta(), Some(exptime), None);
        } else {
            protocol::get_and_touch(&mut request, true, exptime, [&*full]);
        }
        snap.keyed(
            self.place,
            &full,
            &[&request[..]],
            Resend::Safe,
            |conn, deadline| read_single(conn, deadline, &full, packing, &mut make),
        )
    }

    // ----- other key operations -----

    /// Deletes `key`; false if it had no item.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        let encode = |_: &Snapshot, buf: &mut Vec<u8>, full: &Key<'_>| {
            match full.binary() {
                true => protocol::meta_delete(buf, full.meta(), MetaDelete::default()),
                false => protocol::delete(buf, full, false),
            }
            Ok(())
        };
        self.one_line(key, Resend::Never, encode, |reply| {
            match meta_code(&reply) {
                Some(_) => meta_deleted(reply),
                None => deleted(reply),
            }
        })
    }

    /// Gives `key` a new TTL; false if it has no item.
    pub fn touch(&self, key: &[u8], ttl: u32) -> Result<bool> {
        let encode = |snap: &Snapshot, buf: &mut Vec<u8>, full: &Key<'_>| {
            let exptime = self.exptime(snap, full, ttl)?;
            match full.binary() {
                true => protocol::meta_touch(buf, full.meta(), exptime),
                false => protocol::touch(buf, full, exptime, false),
            }
            Ok(())
        };
        let touched = |reply: Reply<'_>| match (meta_code(&reply), reply) {
            (Some(MetaCode::Hd), _) | (_, Reply::Touched) => Ok(true),
            (Some(MetaCode::En), _) | (_, Reply::NotFound) => Ok(false),
            (_, other) => Err(unexpected(other)),
        };
        self.one_line(key, Resend::Safe, encode, touched)
    }

    /// Adds `delta` to the decimal number stored under `key`, wrapping at
    /// 2^64 as the server does. `None` if there is no item.
    pub fn incr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.arith(Arith::Incr, key, delta)
    }

    /// Subtracts `delta`, stopping at 0 as the server does.
    pub fn decr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.arith(Arith::Decr, key, delta)
    }

    fn arith(&self, verb: Arith, key: &[u8], delta: u64) -> Result<Option<u64>> {
        let encode = |_: &Snapshot, buf: &mut Vec<u8>, full: &Key<'_>| {
            match full.binary() {
                true => protocol::meta_arith(buf, full.meta(), verb == Arith::Decr, delta),
                false => protocol::arith(buf, verb, full, delta, false),
            }
            Ok(())
        };
        let number = |reply: Reply<'_>| match reply {
            Reply::Number(n) => Ok(Some(n)),
            Reply::NotFound => Ok(None),
            Reply::Meta {
                code: MetaCode::Va,
                data: Some(digits),
                ..
            } => protocol::parse_u64(digits)
                .map(Some)
                .ok_or_else(|| unexpected(reply)),
            Reply::Meta {
                code: MetaCode::Nf, ..
            } => Ok(None),
            other => Err(unexpected(other)),
        };
        self.one_line(key, Resend::Never, encode, number)
    }

    // ----- many keys (see `multi`) -----

    /// Stores many items, pipelined: one write per server. Returns each
    /// item's outcome, in input order: its status, or the error the server
    /// gave for that item alone (`SERVER_ERROR`: too large, out of memory),
    /// which does not stop the others. Any other failure (a server that
    /// cannot be reached or is marked dead) fails the call, after the
    /// items of the other servers were stored.
    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V, u32)],
        ttl: u32,
    ) -> Result<Vec<Result<Status>>> {
        let snap = self.client.snapshot();
        let exptimes = |snap: &Snapshot| match self.exptimes {
            true => Ok(vec![checked_exptime(ttl)?; snap.topology.nodes.len()]),
            false => snap.exptimes(ttl),
        };
        multi::set_many(&snap, self.place, items, exptimes)
    }

    /// Every hit among `keys`, pipelined: one `gets` per server. Keys come
    /// back as given (without the key prefix), in the servers' reply order.
    /// If a server cannot be reached (or is marked dead), the call fails
    /// with its error; [`Placed::get_many_partial`] returns the other
    /// servers' hits instead.
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Hit>> {
        let (hits, errors) = self.get_many_partial(keys)?;
        super::route::first(errors)?;
        Ok(hits)
    }

    /// As [`Placed::get_many`], but a server that cannot be reached or is
    /// marked dead does not fail the call: its keys are missing from the
    /// hits (as python-memcached's `get_multi` does) and its error is in the
    /// list returned with them, one per failed server. Only a bad key fails
    /// the call (before anything is sent).
    pub fn get_many_partial<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<(Vec<Hit>, Vec<Error>)> {
        let mut hits = Vec::with_capacity(keys.len());
        let errors = self.get_many_partial_with(keys, true, |_, key, flags, cas, value| {
            hits.push(Hit {
                key: key.to_vec(),
                item: Item {
                    value: value.to_vec(),
                    flags,
                    cas,
                },
            })
        })?;
        Ok((hits, errors))
    }

    /// `get_many` without a `Vec` per hit: `each(index, key, flags, cas,
    /// value)` sees every hit where it was read, `key` being `keys[index]`
    /// (a key given twice is answered at each of its places). `cas`: whether the
    /// cas of each is wanted (`gets`; else `get`, and each cas is 0).
    pub fn get_many_with<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        cas: bool,
        each: impl FnMut(usize, &[u8], u32, u64, &[u8]),
    ) -> Result<()> {
        super::route::first(self.get_many_partial_with(keys, cas, each)?)
    }

    /// `get_many_partial` without a `Vec` per hit: the errors of the
    /// servers that failed are returned.
    pub fn get_many_partial_with<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        cas: bool,
        each: impl FnMut(usize, &[u8], u32, u64, &[u8]),
    ) -> Result<Vec<Error>> {
        multi::get_many(&self.client.snapshot(), self.place, keys, cas, each)
    }

    /// Deletes many keys, pipelined. Returns for each key whether it had an
    /// item, in input order.
    pub fn delete_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<bool>> {
        multi::delete_many(&self.client.snapshot(), self.place, keys)
    }
}

/// The key operations with the client's own placement (each key by its
/// hash): one-line forwards to [`Placed`], where each is written and
/// documented.
impl Client {
    pub fn set(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.at(None).set(key, value, flags, ttl)
    }

    pub fn add(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.at(None).add(key, value, flags, ttl)
    }

    pub fn replace(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.at(None).replace(key, value, flags, ttl)
    }

    pub fn append(&self, key: &[u8], value: &[u8]) -> Result<Status> {
        self.at(None).append(key, value)
    }

    pub fn prepend(&self, key: &[u8], value: &[u8]) -> Result<Status> {
        self.at(None).prepend(key, value)
    }

    pub fn append_or_add(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.at(None).append_or_add(key, value, flags, ttl)
    }

    pub fn cas(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32, cas: u64) -> Result<Status> {
        self.at(None).cas(key, value, flags, ttl, cas)
    }

    pub fn store(
        &self,
        verb: StoreVerb,
        key: &[u8],
        value: &[u8],
        flags: u32,
        ttl: u32,
    ) -> Result<Status> {
        self.at(None).store(verb, key, value, flags, ttl)
    }

    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V, u32)],
        ttl: u32,
    ) -> Result<Vec<Result<Status>>> {
        self.at(None).set_many(items, ttl)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Item>> {
        self.at(None).get(key)
    }

    pub fn get_with<B: ValueBuf>(
        &self,
        key: &[u8],
        cas: bool,
        make: impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Option<(B, u32, u64)>> {
        self.at(None).get_with(key, cas, make)
    }

    pub fn get_and_touch(&self, key: &[u8], ttl: u32) -> Result<Option<Item>> {
        self.at(None).get_and_touch(key, ttl)
    }

    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Hit>> {
        self.at(None).get_many(keys)
    }

    pub fn get_many_partial<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<(Vec<Hit>, Vec<Error>)> {
        self.at(None).get_many_partial(keys)
    }

    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        self.at(None).exists(key)
    }

    pub fn ttl(&self, key: &[u8]) -> Result<Option<i64>> {
        self.at(None).ttl(key)
    }

    pub fn flags(&self, key: &[u8]) -> Result<Option<u32>> {
        self.at(None).flags(key)
    }

    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.at(None).delete(key)
    }

    pub fn delete_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<bool>> {
        self.at(None).delete_many(keys)
    }

    pub fn touch(&self, key: &[u8], ttl: u32) -> Result<bool> {
        self.at(None).touch(key, ttl)
    }

    pub fn incr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.at(None).incr(key, delta)
    }

    pub fn decr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.at(None).decr(key, delta)
    }
}
