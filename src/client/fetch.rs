//! Get-or-compute with a lease, and stale-while-revalidate, on memcached
//! 1.6's meta commands: the answer to the cache stampede.
//!
//! A lease get (`mg ... N<lease>`) of a missing key makes the server create
//! an empty placeholder and hand a win (`W`) to that one request: its
//! caller computes the value and stores it (`ms ... C<cas>`, so a value
//! stored meanwhile is not overwritten); every other caller sees the
//! placeholder with `Z` (a win is out) and waits. An item marked stale
//! (`md ... I`, [`Placed::invalidate`]) is handed to everyone at once (`X`)
//! and its win to one caller, who recomputes; with `recache`, so is a live
//! item whose lifetime is nearly over (`R`). A caller whose computation
//! fails gives the win back at once (the placeholder deleted, or the stale
//! item marked stale again), so the next caller computes. A waiter whose
//! wait runs out computes the value itself and stores it only if the
//! placeholder is still there: it never fails just because the winner is
//! slow, and a winner that died is replaced when its lease (the
//! placeholder's lifetime) runs out.

use std::time::{Duration, Instant};

use super::codec::pack;
use super::ops::Placed;
use super::replies::{unexpected, va_fields};
use super::route::Resend;
use super::scratch::Scratch;
use super::update::Pause;
use super::Key;
use crate::error::{Error, Kind, Result};
use crate::protocol::{self, MetaCode, MetaDelete, Reply, StoreVerb};

/// How a fetch waits and recomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// Seconds the winner of a miss has to compute and store the value:
    /// the placeholder's lifetime (at least 1). Default 30.
    pub lease: u32,
    /// How long the other callers wait for the winner's value (polling
    /// with a growing random pause) before computing it themselves.
    /// Default 10 s.
    pub wait: Duration,
    /// With more than 0: when a live item has fewer seconds left, one
    /// caller recomputes it early while the others keep getting it.
    /// Default 0 (off).
    pub recache: u32,
}

impl Default for FetchOptions {
    fn default() -> FetchOptions {
        FetchOptions {
            lease: 30,
            wait: Duration::from_secs(10),
            recache: 0,
        }
    }
}

/// What a lease get found ([`Placed::lease_get`]): the item (empty for a
/// placeholder), and the server's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub data: Vec<u8>,
    pub flags: u32,
    /// The item's CAS value: a value computed after a win is stored with
    /// it (`cas`), so that one stored meanwhile stays.
    pub cas: u64,
    /// `W`: this caller computes.
    pub win: bool,
    /// `X`: the item is stale.
    pub stale: bool,
    /// `Z`: another caller holds the win.
    pub pending: bool,
}

/// A lease get's verdict, for a caller that runs its own loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// A value: use it.
    Hit,
    /// This caller computes the value and stores it with the CAS value
    /// (the data is a placeholder, a stale value or one to recache).
    Win,
    /// Another caller computes it: wait and ask again.
    Wait,
    /// A stale value another caller is recomputing: use it.
    Stale,
}

impl Lease {
    /// A placeholder made by a lease get: empty, and not a stale value.
    fn placeholder(&self) -> bool {
        self.data.is_empty() && !self.stale
    }

    /// What the caller should do.
    pub fn state(&self) -> LeaseState {
        match (self.win, self.pending && self.placeholder(), self.stale) {
            (true, _, _) => LeaseState::Win,
            (false, true, _) => LeaseState::Wait,
            (false, false, true) => LeaseState::Stale,
            (false, false, false) => LeaseState::Hit,
        }
    }
}

impl Placed<'_> {
    /// The value of `key` (and its flags), computed by `compute` when there
    /// is none, by one caller among all that ask at once (see the module's
    /// documentation); the value computed is stored with `ttl`. An error
    /// of `compute` stores nothing and is returned as it is.
    pub fn fetch<E: From<Error>>(
        &self,
        key: &[u8],
        ttl: u32,
        options: FetchOptions,
        mut compute: impl FnMut() -> std::result::Result<(Vec<u8>, u32), E>,
    ) -> std::result::Result<(Vec<u8>, u32), E> {
        if options.lease == 0 {
            return Err(Error::new(
                Kind::Invalid,
                "a fetch needs a lease of at least 1 second, so that a caller that dies cannot keep it",
            )
            .into());
        }
        let until = Instant::now() + options.wait;
        let mut pause = Pause::new();
        loop {
            let found = self.lease_get(key, options.lease, options.recache)?;
            match found.state() {
                LeaseState::Win => {
                    return self.compute_and_store(key, ttl, &found, true, &mut compute)
                }
                // A value, a stale one while another caller recomputes it,
                // or one being recached.
                LeaseState::Hit | LeaseState::Stale => return Ok((found.data, found.flags)),
                LeaseState::Wait => {}
            }
            if Instant::now() >= until {
                return self.compute_and_store(key, ttl, &found, false, &mut compute);
            }
            pause.wait(Some(until));
        }
    }

    /// Marks the item of `key` stale instead of deleting it: the next
    /// fetches get it at once while one of them recomputes it. `ttl`: how
    /// long the stale item may still be served (None: its lifetime is
    /// kept). False when there is no item.
    pub fn invalidate(&self, key: &[u8], ttl: Option<u32>) -> Result<bool> {
        let encode = |snap: &super::Snapshot, buf: &mut Vec<u8>, full: &Key<'_>| {
            let exptime = ttl
                .map(|t| snap.key_exptime(self.place, full, t))
                .transpose()?;
            let how = MetaDelete {
                invalidate: true,
                exptime,
                ..MetaDelete::default()
            };
            protocol::meta_delete(buf, full.meta(), how);
            Ok(())
        };
        self.one_line(key, Resend::Safe, encode, |reply| match reply {
            Reply::Meta {
                code: MetaCode::Hd, ..
            } => Ok(true),
            Reply::Meta {
                code: MetaCode::Nf, ..
            } => Ok(false),
            other => Err(unexpected(other)),
        })
    }

    /// Runs `compute`; stores its value if this caller holds the win or
    /// the placeholder is still there (`C<cas>`: a value stored meanwhile
    /// stays); on an error of `compute`, gives the win back.
    fn compute_and_store<E: From<Error>>(
        &self,
        key: &[u8],
        ttl: u32,
        found: &Lease,
        won: bool,
        compute: &mut impl FnMut() -> std::result::Result<(Vec<u8>, u32), E>,
    ) -> std::result::Result<(Vec<u8>, u32), E> {
        let (value, flags) = match compute() {
            Ok(computed) => computed,
            Err(e) => {
                if won {
                    // Best effort: the lease runs out by itself anyway.
                    let _ = self.give_back(key, found);
                }
                return Err(e);
            }
        };
        self.store_if(key, &value, flags, ttl, found.cas)?;
        Ok((value, flags))
    }

    /// One lease get (`mg <key> v f c t N<lease>[ R<recache>]`): the item
    /// and the server's verdict, for a caller that runs its own loop (see
    /// [`Placed::fetch`] for the one this library runs).
    pub fn lease_get(&self, key: &[u8], lease: u32, recache: u32) -> Result<Lease> {
        let snap = self.client.snapshot();
        let full = snap.full_key(key)?;
        let packing = snap.options.packing();
        let mut request = Scratch::take();
        protocol::lease_get(&mut request, full.meta(), lease, recache);
        let answer = |reply: Reply<'_>| -> Result<Lease> {
            let Reply::Meta {
                code: MetaCode::Va,
                flags: tokens,
                data: Some(data),
            } = reply
            else {
                return Err(unexpected(reply));
            };
            let flag = |f: u8| protocol::meta_flag(tokens, f);
            let (flags, cas) = va_fields(tokens)?;
            let (data, flags) = if packing.packed(flags) {
                packing.unpack(data, flags)?
            } else {
                (data.to_vec(), flags)
            };
            Ok(Lease {
                data,
                flags,
                cas,
                win: flag(b'W').is_some(),
                stale: flag(b'X').is_some(),
                pending: flag(b'Z').is_some(),
            })
        };
        // Never resent: a lost reply may have made a placeholder, which a
        // second lease get would only wait for.
        snap.keyed(
            self.place,
            &full,
            &[&request[..]],
            Resend::Never,
            |conn, deadline| conn.read_unit(deadline, answer)?,
        )
    }

    /// "ms <key> <len> T<ttl> F<flags> C<cas>": stores unless the item
    /// changed since it was read (then another value landed: it stays).
    fn store_if(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32, cas: u64) -> Result<()> {
        let snap = self.client.snapshot();
        let full = snap.full_key(key)?;
        let exptime = snap.key_exptime(self.place, &full, ttl)?;
        let packed = pack(&snap.options, StoreVerb::Set, value, flags);
        let (value, flags) = (&packed.0[..], packed.1);
        let mut head = Scratch::take();
        // A meta set, as the lease get before it (its reply is a meta code).
        full.store_head(
            &mut head,
            StoreVerb::Cas(cas),
            true,
            value.len(),
            exptime,
            flags,
        );
        let request: [&[u8]; 3] = [&head, value, b"\r\n"];
        snap.keyed(
            self.place,
            &full,
            &request,
            Resend::Never,
            |conn, deadline| {
                conn.read_reply(deadline, |reply| match reply {
                    Reply::Meta {
                        code: MetaCode::Hd | MetaCode::Ex | MetaCode::Nf | MetaCode::Ns,
                        ..
                    } => Ok(()),
                    other => Err(unexpected(other)),
                })?
            },
        )
    }

    /// Gives a win back after a failed computation: a placeholder is
    /// deleted, a stale item marked stale again (which hands its win to
    /// the next caller); a live item being recached keeps its value.
    fn give_back(&self, key: &[u8], found: &Lease) -> Result<()> {
        if !found.stale && !found.placeholder() {
            return Ok(());
        }
        let encode = |_: &super::Snapshot, buf: &mut Vec<u8>, full: &Key<'_>| {
            let how = MetaDelete {
                invalidate: found.stale,
                cas: Some(found.cas),
                ..MetaDelete::default()
            };
            protocol::meta_delete(buf, full.meta(), how);
            Ok(())
        };
        self.one_line(key, Resend::Never, encode, |reply| match reply {
            Reply::Meta { .. } => Ok(()),
            other => Err(unexpected(other)),
        })
    }
}

/// The same with the client's own placement.
impl super::Client {
    pub fn fetch<E: From<Error>>(
        &self,
        key: &[u8],
        ttl: u32,
        options: FetchOptions,
        compute: impl FnMut() -> std::result::Result<(Vec<u8>, u32), E>,
    ) -> std::result::Result<(Vec<u8>, u32), E> {
        self.at(None).fetch(key, ttl, options, compute)
    }

    pub fn invalidate(&self, key: &[u8], ttl: Option<u32>) -> Result<bool> {
        self.at(None).invalidate(key, ttl)
    }

    pub fn lease_get(&self, key: &[u8], lease: u32, recache: u32) -> Result<Lease> {
        self.at(None).lease_get(key, lease, recache)
    }
}
