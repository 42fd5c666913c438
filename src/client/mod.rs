//! The client: operations on keys over a handle's servers.
//!
//! A single-key operation is one request written with one `send` and, for
//! a small reply, one `recv`. A multi-key operation groups its keys by
//! server, writes each server's requests at once, and only then reads the
//! replies (pipelining), so it costs one round trip per server, not per key.
//!
//! A miss, a `NOT_STORED`, an `EXISTS` are results, not errors: only what
//! leaves the caller unsure of the server's state is an `Err`.
//!
//! Where things are: the operations on keys in `ops` (one key) and
//! `multi` (many keys, pipelined), whole-server commands and lifetimes in
//! `admin`, which server and connection a request goes to, the failure
//! policy and the retry rule in `route`, what each reply means in
//! `replies`, compressed values in `codec`, the settings in `options`. Server choice itself is
//! [`crate::cluster`]'s.

mod admin;
mod codec;
mod fetch;
mod multi;
mod ops;
mod options;
mod probe;
mod replies;
mod route;
mod scratch;
mod settings;
mod update;

use std::borrow::Cow;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::cluster::{Distribution, Hash, Node, Placement};
use crate::error::{Error, Kind, Result};
use crate::fork::{read, write, Held};
use crate::key;
use crate::server::{self, Server};

use crate::net::TlsSetup;
pub use crate::net::{Credentials, TlsOptions, ValueBuf, VecBuf};
pub use crate::protocol::StoreVerb;
use crate::protocol::{self, MetaKey};
pub use codec::{MAX_INFLATED, ZLIB_FLAG};
pub use fetch::{FetchOptions, Lease, LeaseState};
pub use ops::Placed;
pub use options::{
    DaemonOptions, Options, ValueFormat, MAX_COMPRESS_MIN, MAX_RETRY_SECONDS, MAX_SOCKET_MODE,
    TEXT_FLAG,
};
pub use settings::SETTINGS;
pub use update::{Change, UPDATE_TRIES};

/// memcached reads an exptime above this (30 days) as a Unix time.
pub const MAX_RELATIVE_TTL: u32 = 60 * 60 * 24 * 30;

/// The last Unix time memcached can keep: it reads an exptime as a signed
/// 32-bit number, so a later one is in the past (2038-01-19 03:14:07 UTC).
pub const MAX_UNIX_TIME: u64 = i32::MAX as u64;

/// An exptime of an item gone at once: a Unix time long before any server
/// started, which is what memcached makes of a negative exptime (a
/// [`Placed::exptimes`] TTL; python-memcached sends the negative number).
pub const EXPIRED: u32 = MAX_RELATIVE_TTL + 1;

/// A TTL read as memcached's own exptime ([`Placed::exptimes`]): sent as
/// it is, unless memcached could not read it.
fn checked_exptime(exptime: u32) -> Result<u32> {
    if u64::from(exptime) > MAX_UNIX_TIME {
        return Err(Error::new(
            Kind::Invalid,
            format!(
                "an exptime of {exptime} is after 2038-01-19 03:14:07 UTC, the last time \
                 memcached can keep (memcached reads at most {MAX_UNIX_TIME})"
            ),
        ));
    }
    Ok(exptime)
}

/// A stored item as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub value: Vec<u8>,
    pub flags: u32,
    /// The CAS unique value, for [`Client::cas`].
    pub cas: u64,
}

/// One hit of a multi-get: the key as the caller gave it, and its item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub key: Vec<u8>,
    pub item: Item,
}

/// The outcome of a storage command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `STORED`.
    Stored,
    /// `NOT_STORED`: `add` on an existing key; `replace`, `append` or
    /// `prepend` on a missing one.
    NotStored,
    /// `EXISTS`: `cas` on an item changed since its CAS value was read.
    Exists,
    /// `NOT_FOUND`: `cas` on a missing item.
    NotFound,
}

/// A memcached client over one or more servers. Shareable between threads
/// (`Arc<Client>`): each thread takes its own connection from a pool.
pub struct Client {
    /// The settings and servers, replaced whole by every change: an
    /// operation takes one snapshot at its start (one lock read, one `Arc`
    /// clone) and keeps it to the end.
    state: RwLock<Arc<Snapshot>>,
}

/// A handle's settings and servers at one moment.
struct Snapshot {
    options: Options,
    topology: Topology,
    /// `options.tls`, made ready.
    tls: TlsSetup,
}

/// One server list: the servers as given, their nodes (connections and
/// dead marks, kept across server list changes for unchanged servers), and
/// the placement of keys over them.
#[derive(Clone)]
struct Topology {
    servers: Vec<Server>,
    nodes: Vec<Arc<Node>>,
    placement: Placement,
}

impl Topology {
    fn new(servers: Vec<Server>, nodes: Vec<Arc<Node>>, distribution: Distribution) -> Topology {
        let placement = Placement::of_servers(distribution, &servers);
        Topology {
            servers,
            nodes,
            placement,
        }
    }

    /// The hash that places a key: `place`'s if given, else the key's.
    fn hash(&self, place: Option<&[u8]>, full_key: &[u8]) -> Hash {
        match place {
            Some(place) => self.placement.hash_place(place),
            None => self.placement.hash_key(full_key),
        }
    }

    /// The index of the server a key (or `place`) belongs to, dead or not.
    fn home(&self, place: Option<&[u8]>, full_key: &[u8]) -> usize {
        self.placement.home(&self.hash(place, full_key))
    }
}

impl Snapshot {
    /// The key prefix + `key`, checked.
    fn full_key<'k>(&self, key: &'k [u8]) -> Result<Key<'k>> {
        with_prefix(&self.options.key_prefix, key, self.options.binary_keys)
    }

    /// Every key prefixed and checked (before anything is sent).
    fn full_keys<'k, K: AsRef<[u8]>>(&self, keys: &'k [K]) -> Result<Vec<Key<'k>>> {
        let (prefix, binary) = (&self.options.key_prefix, self.options.binary_keys);
        // A plain loop: a third of the cost of collecting into a Result
        // (measured, `make bench`'s mget100 instruction count).
        let mut full = Vec::with_capacity(keys.len());
        for k in keys {
            full.push(with_prefix(prefix, k.as_ref(), binary)?);
        }
        Ok(full)
    }
}

/// A key as it is sent: the key prefix and the key, checked, and whether
/// it is binary (not a classic key: it goes base64 over the meta
/// commands, see [`Options::binary_keys`]). Its bytes place it.
#[derive(Debug, Clone)]
pub(crate) struct Key<'k> {
    bytes: Cow<'k, [u8]>,
    binary: bool,
}

impl Key<'_> {
    /// Whether only the meta commands can carry it.
    fn binary(&self) -> bool {
        self.binary
    }

    /// The key as a meta command carries it.
    fn meta(&self) -> MetaKey<'_> {
        MetaKey {
            bytes: &self.bytes,
            binary: self.binary,
        }
    }

    /// Writes the head of a store of this key (the value and "\r\n"
    /// follow): a meta set when `meta` (always for a binary key), else the
    /// classic command.
    fn store_head(
        &self,
        buf: &mut Vec<u8>,
        verb: StoreVerb,
        meta: bool,
        len: usize,
        exptime: u32,
        flags: u32,
    ) {
        if meta || self.binary {
            protocol::meta_store_head(buf, verb, self.meta(), len, exptime, flags, None);
        } else {
            protocol::store_header(buf, verb, &self.bytes, flags, exptime, len, false);
        }
    }
}

impl std::ops::Deref for Key<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.servers().map(|s| s.name))
            .finish()
    }
}

impl Client {
    /// A client for the servers named by `specs` (see [`server::parse`]).
    pub fn new<S: AsRef<str>>(specs: &[S]) -> Result<Client> {
        Client::with_servers(parse_specs(specs)?)
    }

    /// A client for already parsed servers, in the given order.
    pub fn with_servers(servers: Vec<Server>) -> Result<Client> {
        if servers.is_empty() {
            return Err(Error::new(Kind::Invalid, "no server given"));
        }
        let options = Options::default();
        let nodes = servers
            .iter()
            .map(|s| Arc::new(Node::new(s.clone())))
            .collect();
        let topology = Topology::new(servers, nodes, options.distribution);
        let tls = TlsSetup::new(options.tls.clone());
        Ok(Client {
            state: RwLock::new(Arc::new(Snapshot {
                options,
                topology,
                tls,
            })),
        })
    }

    /// The settings and servers now.
    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&read(&self.state))
    }

    /// The servers, in the order given.
    pub fn servers(&self) -> std::vec::IntoIter<Server> {
        self.snapshot().topology.servers.clone().into_iter()
    }

    /// Server `n` (in the order given), or an `Invalid` error.
    pub fn server(&self, n: usize) -> Result<Server> {
        self.snapshot()
            .topology
            .servers
            .get(n)
            .cloned()
            .ok_or_else(|| out_of_range(n))
    }

    /// Replaces the server list (same specs as [`Client::new`], weights
    /// included), keeping the handle and its settings. Servers that stay
    /// (same name and address) keep their open connections and dead marks.
    /// Operations already under way finish on the old list. Nothing
    /// changes if a spec is bad.
    pub fn set_servers<S: AsRef<str>>(&self, specs: &[S]) -> Result<()> {
        let servers = parse_specs(specs)?;
        if servers.is_empty() {
            return Err(Error::new(Kind::Invalid, "no server given"));
        }
        let mut state = write(&self.state);
        let nodes = servers
            .iter()
            .map(|s| {
                state
                    .topology
                    .nodes
                    .iter()
                    .find(|n| n.server.name == s.name && n.server.address == s.address)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Node::new(s.clone())))
            })
            .collect();
        let topology = Topology::new(servers, nodes, state.options.distribution);
        let options = state.options.clone();
        let tls = state.tls.again();
        *state = Arc::new(Snapshot {
            options,
            topology,
            tls,
        });
        Ok(())
    }

    /// Switches to another distribution (the same as changing
    /// [`Options::distribution`]).
    pub fn set_distribution(&self, distribution: Distribution) -> Result<()> {
        self.update_options(|o| {
            o.distribution = distribution;
            Ok::<(), Error>(())
        })
    }

    /// The index of the server `key` belongs to (key prefix included, as
    /// sent), by the handle's distribution, whether or not that server is
    /// marked dead. An error for a bad key.
    pub fn server_for(&self, key: &[u8]) -> Result<usize> {
        let snap = self.snapshot();
        let full = snap.full_key(key)?;
        Ok(snap.topology.home(None, &full))
    }

    /// The index of the server a placement value picks (see [`Placed`]).
    pub fn server_for_place(&self, place: &[u8]) -> usize {
        self.snapshot().topology.home(Some(place), b"")
    }

    /// Clears every dead mark (python-memcached's `forget_dead_hosts`): the
    /// next request to each server tries it.
    pub fn forget_dead(&self) {
        for node in &self.snapshot().topology.nodes {
            node.mark_alive();
        }
    }

    /// Marks server `n` dead after `reason`, as a failure of it would
    /// (python-memcached's `_Host.mark_dead`): its keys fail at once (or go
    /// to the next server with failover) until the mark runs out. Nothing
    /// when the handle's retry interval is zero.
    pub fn mark_dead(&self, n: usize, reason: &str) -> Result<()> {
        let snap = self.snapshot();
        let node = snap.topology.nodes.get(n).ok_or_else(|| out_of_range(n))?;
        node.mark_dead(&Error::new(Kind::Io, reason), snap.options.retry_interval);
        Ok(())
    }

    /// How long until server `n`, marked dead, is tried again (zero: the
    /// next request tries it); `None` if it is not marked dead.
    pub fn dead_for(&self, n: usize) -> Result<Option<Duration>> {
        let snap = self.snapshot();
        let node = snap.topology.nodes.get(n).ok_or_else(|| out_of_range(n))?;
        Ok(node.dead_for())
    }

    /// The operations of this client with a placement value `place`: every
    /// key they name goes to the server `place` picks (see [`Placed`]).
    pub fn placed<'a>(&'a self, place: &'a [u8]) -> Placed<'a> {
        self.at(Some(place))
    }

    /// As [`Client::placed`] when `place` is given, else the client's own
    /// placement (each key by its hash). For bindings with an optional
    /// placement argument.
    pub fn at<'a>(&'a self, place: Option<&'a [u8]>) -> Placed<'a> {
        Placed::new(self, place)
    }

    pub fn options(&self) -> Options {
        self.snapshot().options.clone()
    }

    /// [`Options::default_ttl`], without copying the options.
    pub fn default_ttl(&self) -> u32 {
        read(&self.state).options.default_ttl
    }

    /// [`Options::value_format`], without copying the options.
    pub fn value_format(&self) -> ValueFormat {
        read(&self.state).options.value_format
    }

    /// Replaces the settings; connections already open keep their timeouts
    /// until they are next opened.
    pub fn set_options(&self, options: Options) -> Result<()> {
        self.update_options(|o| {
            *o = options;
            Ok::<(), Error>(())
        })
    }

    /// Changes some settings in place: `change` sees the current ones under
    /// the lock, so two threads changing different settings both land. The
    /// result is checked before it replaces the old settings; an error from
    /// `change` or from the check changes nothing.
    pub fn update_options<E: From<Error>>(
        &self,
        change: impl FnOnce(&mut Options) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut state = write(&self.state);
        let mut options = state.options.clone();
        change(&mut options)?;
        if options.connect_timeout.is_zero() || options.io_timeout.is_zero() {
            return Err(Error::new(Kind::Invalid, "timeouts must be at least 1 ms").into());
        }
        if !options.key_prefix.is_empty() {
            key::check(&options.key_prefix)
                .map_err(|e| Error::new(Kind::Invalid, format!("bad key prefix: {e}")))?;
        }
        if let Some(auth) = &options.auth {
            auth.check()?;
        }
        // TLS settings in use are made ready now, so that a bad file is
        // this call's error.
        let tls = if options.tls == state.options.tls {
            state.tls.again()
        } else if options.tls.enabled || state.topology.servers.iter().any(Server::wants_tls) {
            TlsSetup::ready(options.tls.clone())?
        } else {
            TlsSetup::new(options.tls.clone())
        };
        let topology = if options.distribution == state.options.distribution {
            state.topology.clone()
        } else {
            let old = &state.topology;
            Topology::new(old.servers.clone(), old.nodes.clone(), options.distribution)
        };
        *state = Arc::new(Snapshot {
            options,
            topology,
            tls,
        });
        drop(state);
        self.disconnect_all();
        Ok(())
    }

    /// Closes every idle connection (they reopen on the next operation).
    pub fn disconnect_all(&self) {
        for node in &self.snapshot().topology.nodes {
            node.close_all();
        }
    }

    /// Takes every lock of this client, in the library's lock order (its
    /// state, then each server's), into `held` (see [`crate::fork`]).
    pub(crate) fn hold_locks(self: &Arc<Client>, held: &mut Held) {
        let snap = self.snapshot();
        held.keep_with(Arc::clone(self), |c| write(&c.state));
        for node in &snap.topology.nodes {
            held.keep_with(Arc::clone(node), |n| n.lock_all());
        }
    }
}

fn parse_specs<S: AsRef<str>>(specs: &[S]) -> Result<Vec<Server>> {
    specs.iter().map(|s| server::parse(s.as_ref())).collect()
}

fn out_of_range(n: usize) -> Error {
    Error::new(Kind::Invalid, format!("server index {n} is out of range"))
}

/// `prefix` + `key`, checked: `key` itself when there is no prefix, so the
/// usual case copies nothing. With `binary`, a key that is not a classic
/// key is a binary one if it can be. Always inlined: it runs for every key
/// of a multi-key operation, and as a call (a plain `#[inline]` left it
/// one) it cost 38 instructions a key (callgrind, C mget100: 101.2k ->
/// 97.4k a call).
#[inline(always)]
fn with_prefix<'k>(prefix: &[u8], key: &'k [u8], binary: bool) -> Result<Key<'k>> {
    let bytes = if prefix.is_empty() {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(prefixed(prefix, key)?)
    };
    match key::check(&bytes) {
        Ok(()) => Ok(Key {
            bytes,
            binary: false,
        }),
        Err(_) if binary => {
            key::check_binary(&bytes)?;
            Ok(Key {
                bytes,
                binary: true,
            })
        }
        Err(e) => Err(e),
    }
}

/// `prefix` + `key` in a new buffer (an empty `key` is refused: the prefix
/// alone names no item of the caller's).
#[cold]
fn prefixed(prefix: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    if key.is_empty() {
        return Err(Error::new(Kind::BadKey, "key is empty"));
    }
    let mut full = Vec::with_capacity(prefix.len() + key.len());
    full.extend_from_slice(prefix);
    full.extend_from_slice(key);
    Ok(full)
}
