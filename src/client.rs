//! The client: operations on keys over a handle's servers.
//!
//! A single-key operation is one request written with one gathered `sendmsg`
//! and, for a small reply, one `read`. A multi-key operation groups its keys
//! by server, writes each server's requests at once, and only then reads the
//! replies (pipelining), so it costs one round trip per server, not per key.
//!
//! A miss, a `NOT_STORED`, an `EXISTS` are results, not errors: only what
//! leaves the caller unsure of the server's state is an `Err`.
//!
//! Server choice is [`cluster`]'s: the handle's [`Distribution`] hashes the
//! key (or a placement value given apart from it, see [`Client::placed`]).
//! The failure policy: a server that refuses or times out a connection,
//! or times out a reply, is marked dead for [`Options::retry_interval`];
//! until then its keys fail at once, without a request, with an `Io` error
//! that names it; then one request probes it again. With
//! [`Options::failover`], its keys go to the next live server instead.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::cluster::{Distribution, Hash, Node, Placement};
use crate::daemon::DaemonOptions;
use crate::error::{Error, Kind, Result};
use crate::fork::{read, write, Held};
use crate::key;
use crate::net::{Connection, Fetched};
pub use crate::net::{ValueBuf, VecBuf};
use crate::protocol::{self, Arith, MetaCode, Reply, RetrieveVerb, StoreVerb};
use crate::server::{self, Server};

/// memcached reads an exptime above this (30 days) as a Unix time.
pub const MAX_RELATIVE_TTL: u32 = 60 * 60 * 24 * 30;

/// The last Unix time memcached can keep: it reads an exptime as a signed
/// 32-bit number, so a later one is in the past (2038-01-19 03:14:07 UTC).
pub const MAX_UNIX_TIME: u64 = i32::MAX as u64;

/// The most a `stats` reply may hold (names and values): memcached's
/// largest, `stats cachedump`, stops at 2 MiB. More is not kept.
const MAX_STATS: usize = 8 << 20;

/// Values at least this long are written from the caller's memory with
/// one gathered write instead of being copied into the request buffer.
const ZERO_COPY_VALUE: usize = 16 * 1024;

/// How often `append_or_add` retries after losing a race to other clients.
const APPEND_RACES: usize = 100;

/// Per-handle settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long to wait for a connection to be accepted. Default 2 s.
    pub connect_timeout: Duration,
    /// How long one operation may wait for its reply (and for the server to
    /// take its request). Default 3 s, python-memcached's socket timeout.
    pub io_timeout: Duration,
    /// Put in front of every key sent, and taken off every key returned
    /// (python-memcached's `key_prefix`): a namespace on a shared server.
    pub key_prefix: Vec<u8>,
    /// The TTL in seconds of items stored without one by the Tcl commands
    /// (`memcache put` and `memcache append`). Default 8 hours, as seed 000
    /// specifies; 0 means no expiry. The Rust and C calls always take a TTL.
    pub default_ttl: u32,
    /// How local daemons are started for this handle (autostart, `start`).
    pub daemon: DaemonOptions,
    /// How keys are spread over the servers. Default [`Distribution::Ketama`].
    pub distribution: Distribution,
    /// How long a server that failed (connect refused or timed out, reply
    /// timed out) is left alone: its keys fail at once meanwhile (or fail
    /// over), then one request tries it again. Default 30 s,
    /// python-memcached's `dead_retry`; zero marks no server dead.
    pub retry_interval: Duration,
    /// Send the keys of a dead server to the next live one (the next ketama
    /// point's server, or python-memcached's rehash) instead of failing.
    /// Default off: a key read from another server can be missing or stale,
    /// and when the server comes back its old copy is served again.
    pub failover: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(3),
            key_prefix: Vec::new(),
            default_ttl: 8 * 60 * 60,
            daemon: DaemonOptions::default(),
            distribution: Distribution::default(),
            retry_interval: Duration::from_secs(30),
            failover: false,
        }
    }
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
    /// The servers and where keys go; replaced whole by `set_servers` and a
    /// change of distribution (an operation keeps the one it started with).
    topology: RwLock<Arc<Topology>>,
    options: RwLock<Options>,
}

/// One server list: the servers as given, their nodes (connections and
/// dead marks, kept across server list changes for unchanged servers), and
/// the placement of keys over them.
struct Topology {
    servers: Vec<Server>,
    nodes: Vec<Arc<Node>>,
    placement: Placement,
}

impl Topology {
    /// The hash that places a key: `place`'s if given, else the key's.
    fn hash(&self, place: Option<&[u8]>, full_key: &[u8]) -> Hash {
        match place {
            Some(place) => self.placement.hash_place(place),
            None => self.placement.hash_key(full_key),
        }
    }

    fn new(servers: Vec<Server>, nodes: Vec<Arc<Node>>, distribution: Distribution) -> Topology {
        let placement = Placement::of_servers(distribution, &servers);
        Topology {
            servers,
            nodes,
            placement,
        }
    }
}

/// The settings an operation needs, read once at its start, and its
/// deadline: one for the whole command, however many servers it reaches.
struct Policy {
    connect_timeout: Duration,
    io_timeout: Duration,
    retry: Duration,
    failover: bool,
    deadline: Instant,
}

/// May a request be sent again on a new connection, when the pooled one it
/// went out on turns out to have been closed by the server (a restart, an
/// idle timeout) before a byte of reply came? The server may have carried
/// it out before closing, so only a request whose repetition changes
/// neither the data nor the answer may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Reads, `set`, `replace`, `touch`, whole-server commands.
    Safe,
    /// `add`, `cas`, `append`, `prepend`, `delete`, `incr`, `decr`: a
    /// pooled connection is checked before it carries one instead (one
    /// non-blocking `recv`), and a failure after sending is reported.
    Never,
}

impl StoreVerb {
    fn resend(self) -> Resend {
        match self {
            StoreVerb::Set | StoreVerb::Replace => Resend::Safe,
            _ => Resend::Never,
        }
    }
}

/// A failed exchange with one server: the error (naming the server), and
/// whether it failed to connect (so the request was never sent and may go
/// to another server).
struct Failure {
    error: Error,
    connect: bool,
}

/// The failure of `node` with `error` (without the server's name yet):
/// marks the server dead if it did not answer in time (a hung server costs
/// a timeout per request otherwise), or, with failover, if it could not be
/// reached (its keys go elsewhere meanwhile). A refused connection marks
/// nothing without failover: it costs microseconds, and the next request
/// uses the server as soon as it is back.
fn failure(node: &Node, policy: &Policy, error: Error, connect: bool) -> Failure {
    if error.kind() == Kind::Timeout || (connect && policy.failover) {
        node.mark_dead(&error, policy.retry);
    }
    Failure {
        error: error.context(&node.server),
        connect,
    }
}

/// Which servers may be used by one operation: each server's admission is
/// asked once per operation (the one probe of a dead server then carries
/// all its keys), and a server that failed during the operation is not
/// tried again by it.
struct Admission<'t> {
    topology: &'t Topology,
    retry: Duration,
    state: Vec<Option<Result<()>>>,
}

impl<'t> Admission<'t> {
    fn new(topology: &'t Topology, retry: Duration) -> Admission<'t> {
        Admission {
            topology,
            retry,
            state: vec![None; topology.nodes.len()],
        }
    }

    fn admit(&mut self, n: usize) -> Result<()> {
        match &self.state[n] {
            Some(known) => known.clone(),
            None => {
                let now = self.topology.nodes[n].admit(self.retry);
                self.state[n] = Some(now.clone());
                now
            }
        }
    }

    fn failed(&mut self, n: usize, error: &Error) {
        self.state[n] = Some(Err(error.clone()));
    }

    fn has_failed(&self, n: usize) -> bool {
        matches!(self.state[n], Some(Err(_)))
    }

    /// The server for `hash`, with or without failover.
    fn route(&mut self, hash: &Hash, failover: bool) -> Result<usize> {
        let placement = &self.topology.placement;
        placement.route(hash, failover, |n| self.admit(n))
    }
}

/// Adds `error` to `errors` unless an error with the same message is there.
fn note(errors: &mut Vec<Error>, error: Error) {
    if !errors.iter().any(|e| e.message() == error.message()) {
        errors.push(error);
    }
}

/// The first of `errors`, if any.
fn first(errors: Vec<Error>) -> Result<()> {
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.servers().map(|s| s.name))
            .finish()
    }
}

/// The operations of a [`Client`] with a placement value: each key goes to
/// the server the placement value picks, not the one its own hash picks
/// (libmemcached's `_by_key` calls, python-memcached's `(hashvalue, key)`),
/// so related keys share a server and a multi-key operation on them costs
/// one round trip. Made by [`Client::placed`].
///
/// Ketama hashes the placement value as it hashes a key (as libmemcached
/// does its `group_key`). Modula uses a decimal integer (`-?[0-9]+`) as
/// python-memcached uses an integer hash value (`value % buckets`, and
/// `str(value)` for the rehash), and hashes any other value like a key.
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    client: &'a Client,
    place: Option<&'a [u8]>,
}

impl Client {
    /// A client for the servers named by `specs` (see [`server::parse`]).
    pub fn new<S: AsRef<str>>(specs: &[S]) -> Result<Client> {
        let servers = specs
            .iter()
            .map(|s| server::parse(s.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Client::with_servers(servers)
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
        Ok(Client {
            topology: RwLock::new(Arc::new(Topology::new(
                servers,
                nodes,
                options.distribution,
            ))),
            options: RwLock::new(options),
        })
    }

    /// The current server list (an operation keeps the one it started with).
    fn topology(&self) -> Arc<Topology> {
        Arc::clone(&read(&self.topology))
    }

    /// The servers, in the order given.
    pub fn servers(&self) -> std::vec::IntoIter<Server> {
        self.topology().servers.clone().into_iter()
    }

    /// Server `n` (in the order given), or an `Invalid` error.
    pub fn server(&self, n: usize) -> Result<Server> {
        self.topology()
            .servers
            .get(n)
            .cloned()
            .ok_or_else(|| Error::new(Kind::Invalid, format!("server index {n} is out of range")))
    }

    /// Replaces the server list (same specs as [`Client::new`], weights
    /// included), keeping the handle and its settings. Servers that stay
    /// (same name and address) keep their open connections and dead marks.
    /// Operations already under way finish on the old list. Nothing
    /// changes if a spec is bad.
    pub fn set_servers<S: AsRef<str>>(&self, specs: &[S]) -> Result<()> {
        let servers = specs
            .iter()
            .map(|s| server::parse(s.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        if servers.is_empty() {
            return Err(Error::new(Kind::Invalid, "no server given"));
        }
        // Lock order: options, then topology (as update_options).
        let options = read(&self.options);
        let mut topology = write(&self.topology);
        let nodes = servers
            .iter()
            .map(|s| {
                topology
                    .nodes
                    .iter()
                    .find(|n| n.server.name == s.name && n.server.address == s.address)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Node::new(s.clone())))
            })
            .collect();
        *topology = Arc::new(Topology::new(servers, nodes, options.distribution));
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
        let full = self.full_key(key)?;
        let topology = self.topology();
        Ok(topology.placement.home(&topology.placement.hash_key(&full)))
    }

    /// The index of the server a placement value picks (see [`Placed`]).
    pub fn server_for_place(&self, place: &[u8]) -> usize {
        let topology = self.topology();
        topology
            .placement
            .home(&topology.placement.hash_place(place))
    }

    /// Clears every dead mark (python-memcached's `forget_dead_hosts`): the
    /// next request to each server tries it.
    pub fn forget_dead(&self) {
        for node in &self.topology().nodes {
            node.mark_alive();
        }
    }

    /// How long until server `n`, marked dead, is tried again (zero: the
    /// next request tries it); `None` if it is not marked dead.
    pub fn dead_for(&self, n: usize) -> Result<Option<Duration>> {
        self.server(n)?;
        Ok(self.topology().nodes[n].dead_for())
    }

    /// The operations of this client with a placement value `place`: every
    /// key they name goes to the server `place` picks (see [`Placed`]).
    pub fn placed<'a>(&'a self, place: &'a [u8]) -> Placed<'a> {
        Placed {
            client: self,
            place: Some(place),
        }
    }

    /// As [`Client::placed`] when `place` is given, else the client's own
    /// placement (each key by its hash). For bindings with an optional
    /// placement argument.
    pub fn at<'a>(&'a self, place: Option<&'a [u8]>) -> Placed<'a> {
        Placed {
            client: self,
            place,
        }
    }

    pub fn options(&self) -> Options {
        read(&self.options).clone()
    }

    /// [`Options::default_ttl`], without copying the options.
    pub fn default_ttl(&self) -> u32 {
        read(&self.options).default_ttl
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
        let mut current = write(&self.options);
        let mut options = current.clone();
        change(&mut options)?;
        if options.connect_timeout.is_zero() || options.io_timeout.is_zero() {
            return Err(Error::new(Kind::Invalid, "timeouts must be at least 1 ms").into());
        }
        if !options.key_prefix.is_empty() {
            key::check(&options.key_prefix)
                .map_err(|e| Error::new(Kind::Invalid, format!("bad key prefix: {e}")))?;
        }
        if options.distribution != current.distribution {
            let mut topology = write(&self.topology);
            *topology = Arc::new(Topology::new(
                topology.servers.clone(),
                topology.nodes.clone(),
                options.distribution,
            ));
        }
        *current = options;
        drop(current);
        self.disconnect_all();
        Ok(())
    }

    /// Takes every lock of this client, in the library's lock order
    /// (settings, server list, each server's), into `held` (see
    /// [`crate::fork`]). While the settings are held, the server list
    /// cannot change.
    pub(crate) fn hold_locks(self: &Arc<Client>, held: &mut Held) {
        held.keep_with(Arc::clone(self), |c| write(&c.options));
        let topology = self.topology();
        held.keep_with(Arc::clone(self), |c| write(&c.topology));
        for node in &topology.nodes {
            held.keep_with(Arc::clone(node), |n| n.lock_all());
        }
    }

    /// Closes every idle connection (they reopen on the next operation).
    pub fn disconnect_all(&self) {
        for node in &self.topology().nodes {
            node.close_all();
        }
    }

    // ----- storage -----

    /// Stores `value` under `key` unconditionally.
    pub fn set(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.at(None).set(key, value, flags, ttl)
    }

    /// Stores only if `key` has no item.
    pub fn add(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.at(None).add(key, value, flags, ttl)
    }

    /// Stores only if `key` has an item.
    pub fn replace(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.at(None).replace(key, value, flags, ttl)
    }

    /// Adds `value` at the end of an existing item (flags and TTL kept).
    pub fn append(&self, key: &[u8], value: &[u8]) -> Result<Status> {
        self.at(None).append(key, value)
    }

    /// Adds `value` at the start of an existing item (flags and TTL kept).
    pub fn prepend(&self, key: &[u8], value: &[u8]) -> Result<Status> {
        self.at(None).prepend(key, value)
    }

    /// Appends `value` to the item under `key`, or stores it as a new item
    /// with `flags` and `ttl` when there is none. Safe when several clients
    /// do it at once: `append` then `add`, and if another client's `add` won
    /// in between, `append` again, so no appended data is ever lost.
    pub fn append_or_add(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.at(None).append_or_add(key, value, flags, ttl)
    }

    /// Stores only if the item's CAS value is still `cas` (from a get).
    pub fn cas(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32, cas: u64) -> Result<Status> {
        self.at(None).cas(key, value, flags, ttl, cas)
    }

    /// Any storage command. `ttl` is relative seconds, 0 for no expiry.
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

    fn store_in(
        &self,
        place: Option<&[u8]>,
        verb: StoreVerb,
        key: &[u8],
        value: &[u8],
        flags: u32,
        ttl: u32,
    ) -> Result<Status> {
        let full = self.full_key(key)?;
        let topology = self.topology();
        let home = topology.placement.home(&topology.hash(place, &full));
        let exptime = self.exptime(&topology.nodes[home], ttl)?;
        let mut head = Vec::with_capacity(64 + value.len().min(ZERO_COPY_VALUE));
        let parts: [&[u8]; 3];
        let request: &[&[u8]] = if value.len() >= ZERO_COPY_VALUE {
            protocol::store_header(&mut head, verb, &full, flags, exptime, value.len(), false);
            parts = [&head, value, b"\r\n"];
            &parts
        } else {
            protocol::store(&mut head, verb, &full, flags, exptime, value, false);
            parts = [&head, &[], &[]];
            &parts[..1]
        };
        self.keyed(
            &topology,
            place,
            &full,
            request,
            verb.resend(),
            |conn, deadline| conn.read_reply(deadline, store_status)?,
        )
    }

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
        self.at(None).set_many(items, ttl)
    }

    fn set_many_in<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        place: Option<&[u8]>,
        items: &[(K, V, u32)],
        ttl: u32,
    ) -> Result<Vec<Result<Status>>> {
        let prefix = read(&self.options).key_prefix.clone();
        let topology = self.topology();
        let exptimes = self.exptimes(&topology, ttl)?;
        let keys = items
            .iter()
            .map(|(k, _, _)| with_prefix(&prefix, k.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let mut outcomes: Vec<Result<Status>> = vec![Ok(Status::NotStored); items.len()];
        let errors = self.per_server(
            &topology,
            place,
            &keys,
            Resend::Safe,
            |buf, n, indexes| {
                for &i in indexes {
                    let (_, value, flags) = &items[i];
                    protocol::store(
                        buf,
                        StoreVerb::Set,
                        &keys[i],
                        *flags,
                        exptimes[n],
                        value.as_ref(),
                        false,
                    );
                }
            },
            |conn, deadline, server, indexes| {
                for &i in indexes {
                    outcomes[i] = match conn.read_reply(deadline, store_status)? {
                        // The server read and dropped that item's data:
                        // the stream is still in step for the next reply.
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

    // ----- retrieval -----

    /// The item under `key`, or `None`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Item>> {
        self.at(None).get(key)
    }

    /// The item under `key` as (value, flags, cas), or `None`, its value
    /// read straight from the socket into the buffer `make(size, flags)`
    /// returns: the caller's final memory, so a large value is not copied.
    pub fn get_with<B: ValueBuf>(
        &self,
        key: &[u8],
        make: impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Option<(B, u32, u64)>> {
        self.at(None).get_with(key, make)
    }

    fn get_in_with<B: ValueBuf>(
        &self,
        place: Option<&[u8]>,
        key: &[u8],
        mut make: impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Option<(B, u32, u64)>> {
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 8);
        protocol::retrieve(&mut request, RetrieveVerb::Gets, &[&full]);
        let topology = self.topology();
        self.keyed(
            &topology,
            place,
            &full,
            &[&request],
            Resend::Safe,
            |conn, deadline| read_single(conn, deadline, &full, &mut make),
        )
    }

    /// The item under `key`, giving it a new TTL in the same request
    /// (`gats`), or `None`.
    pub fn get_and_touch(&self, key: &[u8], ttl: u32) -> Result<Option<Item>> {
        self.at(None).get_and_touch(key, ttl)
    }

    fn get_and_touch_in_with<B: ValueBuf>(
        &self,
        place: Option<&[u8]>,
        key: &[u8],
        ttl: u32,
        mut make: impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Option<(B, u32, u64)>> {
        let full = self.full_key(key)?;
        let topology = self.topology();
        let home = topology.placement.home(&topology.hash(place, &full));
        let exptime = self.exptime(&topology.nodes[home], ttl)?;
        let mut request = Vec::with_capacity(full.len() + 24);
        protocol::get_and_touch(&mut request, true, exptime, &[&full]);
        self.keyed(
            &topology,
            place,
            &full,
            &[&request],
            Resend::Safe,
            |conn, deadline| read_single(conn, deadline, &full, &mut make),
        )
    }

    /// Every hit among `keys`, pipelined: one `gets` per server. Keys come
    /// back as given (without the key prefix), in the servers' reply order.
    /// If a server cannot be reached (or is marked dead), the call fails
    /// with its error; [`Client::get_many_partial`] returns the other
    /// servers' hits instead.
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Hit>> {
        self.at(None).get_many(keys)
    }

    /// As [`Client::get_many`], but a server that cannot be reached or is
    /// marked dead does not fail the call: its keys are missing from the
    /// hits (as python-memcached's `get_multi` does) and its error is in the
    /// list returned with them, one per failed server. Only a bad key fails
    /// the call (before anything is sent).
    pub fn get_many_partial<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<(Vec<Hit>, Vec<Error>)> {
        self.at(None).get_many_partial(keys)
    }

    fn get_many_in<K: AsRef<[u8]>>(
        &self,
        place: Option<&[u8]>,
        keys: &[K],
    ) -> Result<(Vec<Hit>, Vec<Error>)> {
        let mut hits = Vec::with_capacity(keys.len());
        let errors = self.get_many_in_with(place, keys, |key, flags, cas, value| {
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

    /// The multi-get without a `Vec` per hit: `each(key, flags, cas,
    /// value)` sees every hit in the read buffer, key as given. Returns
    /// the errors of the servers that failed, as `get_many_partial`.
    fn get_many_in_with<K: AsRef<[u8]>>(
        &self,
        place: Option<&[u8]>,
        keys: &[K],
        mut each: impl FnMut(&[u8], u32, u64, &[u8]),
    ) -> Result<Vec<Error>> {
        let prefix = read(&self.options).key_prefix.clone();
        let full = keys
            .iter()
            .map(|k| with_prefix(&prefix, k.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let topology = self.topology();
        let errors = self.per_server(
            &topology,
            place,
            &full,
            Resend::Safe,
            // One "gets" line per server.
            |buf, _, indexes| {
                let keys: Vec<&[u8]> = indexes.iter().map(|&i| full[i].as_ref()).collect();
                protocol::retrieve(buf, RetrieveVerb::Gets, &keys);
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
                            each(keys[i].as_ref(), flags, cas.unwrap_or(0), data);
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
        );
        Ok(errors)
    }

    /// Is there an item under `key`? Asks with a meta get that returns no
    /// value (memcached 1.6.10 or later).
    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        self.at(None).exists(key)
    }

    /// The seconds `key` has left to live (`None`: no item; `Some(-1)`: no
    /// expiry), by a meta get (memcached 1.6.10 or later).
    pub fn ttl(&self, key: &[u8]) -> Result<Option<i64>> {
        self.at(None).ttl(key)
    }

    /// The flags stored with `key`'s item, or `None`, without fetching the
    /// value (meta get; memcached 1.6.10 or later).
    pub fn flags(&self, key: &[u8]) -> Result<Option<u32>> {
        self.at(None).flags(key)
    }

    /// A meta get of `key` that returns no value: `None` if there is no
    /// item, else the value of meta flag `flag` (empty when none is asked).
    fn meta_probe(
        &self,
        place: Option<&[u8]>,
        key: &[u8],
        flag: Option<u8>,
    ) -> Result<Option<Vec<u8>>> {
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 8);
        let token = flag.map(|f| [f]);
        let tokens: Vec<&[u8]> = token.iter().map(|t| &t[..]).collect();
        protocol::meta_get(&mut request, &full, &tokens);
        let topology = self.topology();
        self.keyed(
            &topology,
            place,
            &full,
            &[&request],
            Resend::Safe,
            |conn, deadline| {
                conn.read_reply(deadline, |reply| match reply {
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
                })?
            },
        )
    }

    // ----- other key operations -----

    /// Deletes `key`; false if it had no item.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.at(None).delete(key)
    }

    fn delete_in(&self, place: Option<&[u8]>, key: &[u8]) -> Result<bool> {
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 10);
        protocol::delete(&mut request, &full, false);
        let topology = self.topology();
        self.keyed(
            &topology,
            place,
            &full,
            &[&request],
            Resend::Never,
            |conn, deadline| conn.read_reply(deadline, deleted)?,
        )
    }

    /// Deletes many keys, pipelined. Returns for each key whether it had an
    /// item, in input order.
    pub fn delete_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<bool>> {
        self.at(None).delete_many(keys)
    }

    fn delete_many_in<K: AsRef<[u8]>>(
        &self,
        place: Option<&[u8]>,
        keys: &[K],
    ) -> Result<Vec<bool>> {
        let prefix = read(&self.options).key_prefix.clone();
        let full = keys
            .iter()
            .map(|k| prefixed(&prefix, k.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let mut found = vec![false; keys.len()];
        let topology = self.topology();
        let errors = self.per_server(
            &topology,
            place,
            &full,
            Resend::Never,
            |buf, _, indexes| {
                for &i in indexes {
                    protocol::delete(buf, &full[i], false);
                }
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

    /// Gives `key` a new TTL; false if it has no item.
    pub fn touch(&self, key: &[u8], ttl: u32) -> Result<bool> {
        self.at(None).touch(key, ttl)
    }

    fn touch_in(&self, place: Option<&[u8]>, key: &[u8], ttl: u32) -> Result<bool> {
        let full = self.full_key(key)?;
        let topology = self.topology();
        let home = topology.placement.home(&topology.hash(place, &full));
        let exptime = self.exptime(&topology.nodes[home], ttl)?;
        let mut request = Vec::with_capacity(full.len() + 24);
        protocol::touch(&mut request, &full, exptime, false);
        self.keyed(
            &topology,
            place,
            &full,
            &[&request],
            Resend::Safe,
            |conn, deadline| {
                conn.read_reply(deadline, |reply| match reply {
                    Reply::Touched => Ok(true),
                    Reply::NotFound => Ok(false),
                    other => Err(unexpected(other)),
                })?
            },
        )
    }

    /// Adds `delta` to the decimal number stored under `key`, wrapping at
    /// 2^64 as the server does. `None` if there is no item.
    pub fn incr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.at(None).incr(key, delta)
    }

    /// Subtracts `delta`, stopping at 0 as the server does.
    pub fn decr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.at(None).decr(key, delta)
    }

    fn arith(
        &self,
        place: Option<&[u8]>,
        verb: Arith,
        key: &[u8],
        delta: u64,
    ) -> Result<Option<u64>> {
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 32);
        protocol::arith(&mut request, verb, &full, delta, false);
        let topology = self.topology();
        self.keyed(
            &topology,
            place,
            &full,
            &[&request],
            Resend::Never,
            |conn, deadline| {
                conn.read_reply(deadline, |reply| match reply {
                    Reply::Number(n) => Ok(Some(n)),
                    Reply::NotFound => Ok(None),
                    other => Err(unexpected(other)),
                })?
            },
        )
    }

    // ----- whole servers -----

    /// Invalidates every item on every server, now or after `delay` seconds.
    /// A delay over 30 days is sent as the server's time + delay, as TTLs
    /// are; one that ends after 2038 is an `Invalid` error.
    pub fn flush_all(&self, delay: Option<u32>) -> Result<()> {
        let topology = self.topology();
        let delays = match delay {
            Some(delay) => self
                .exptimes(&topology, delay)?
                .into_iter()
                .map(Some)
                .collect(),
            None => vec![None; topology.nodes.len()],
        };
        self.on_servers(
            &topology,
            None,
            |buf, n| protocol::flush_all(buf, delays[n], false),
            |conn, deadline| conn.read_reply(deadline, expect_ok)?,
        )
        .map(drop)
    }

    /// Sets the servers' logging verbosity.
    pub fn verbosity(&self, level: u32) -> Result<()> {
        self.on_servers(
            &self.topology(),
            None,
            |buf, _| protocol::verbosity(buf, level, false),
            |conn, deadline| conn.read_reply(deadline, expect_ok)?,
        )
        .map(drop)
    }

    /// Each server's statistics (`stats` or `stats <group>`), as name/value
    /// pairs in the server's order, one list per server in server order.
    pub fn stats(&self, group: Option<&str>) -> Result<Vec<Vec<(String, String)>>> {
        self.stats_of(None, group)
    }

    /// The statistics of server `n` alone (in [`Client::servers`] order).
    pub fn server_stats(&self, n: usize, group: Option<&str>) -> Result<Vec<(String, String)>> {
        self.server(n)?;
        Ok(self.stats_of(Some(n), group)?.remove(0))
    }

    /// The statistics of server `only`, or of every server.
    fn stats_of(
        &self,
        only: Option<usize>,
        group: Option<&str>,
    ) -> Result<Vec<Vec<(String, String)>>> {
        // A group may hold spaces ("cachedump 1 10"), but a CR or LF would
        // end the request early and send the rest as a command of its own.
        if let Some(group) = group {
            let bytes = group.as_bytes();
            if let Some(pos) = bytes.iter().position(|&b| b < b' ' || b == 0x7f) {
                return Err(Error::new(
                    Kind::Invalid,
                    format!(
                        "stats group \"{}\" contains control character 0x{:02x} at byte {pos}",
                        key::show(bytes),
                        bytes[pos]
                    ),
                ));
            }
        }
        let group = group.map(str::as_bytes);
        self.on_servers(
            &self.topology(),
            only,
            |buf, _| protocol::stats(buf, group),
            |conn, deadline| {
                let mut stats = Vec::new();
                let mut size = 0;
                loop {
                    let done = conn.read_reply(deadline, |reply| match reply {
                        Reply::Stat { name, value } => {
                            size += name.len() + value.len();
                            if size > MAX_STATS {
                                return Err(Error::new(
                                    Kind::Protocol,
                                    format!(
                                        "stats reply larger than {} MiB: not kept",
                                        MAX_STATS >> 20
                                    ),
                                ));
                            }
                            stats.push((
                                String::from_utf8_lossy(name).into_owned(),
                                String::from_utf8_lossy(value).into_owned(),
                            ));
                            Ok(false)
                        }
                        Reply::End => Ok(true),
                        other => Err(unexpected(other)),
                    })??;
                    if done {
                        return Ok(stats);
                    }
                }
            },
        )
    }

    /// Each server's version string, in server order.
    pub fn version(&self) -> Result<Vec<String>> {
        self.version_of(None)
    }

    /// The version string of server `n` alone.
    pub fn server_version(&self, n: usize) -> Result<String> {
        self.server(n)?;
        Ok(self.version_of(Some(n))?.remove(0))
    }

    fn version_of(&self, only: Option<usize>) -> Result<Vec<String>> {
        self.on_servers(
            &self.topology(),
            only,
            |buf, _| protocol::version(buf),
            |conn, deadline| {
                conn.read_reply(deadline, |reply| match reply {
                    Reply::Version(v) => Ok(String::from_utf8_lossy(v).into_owned()),
                    other => Err(unexpected(other)),
                })?
            },
        )
    }

    // ----- plumbing -----

    /// The key prefix + `key`, checked.
    fn full_key<'k>(&self, key: &'k [u8]) -> Result<Cow<'k, [u8]>> {
        with_prefix(&read(&self.options).key_prefix, key)
    }

    /// The settings an operation runs with, and its deadline.
    fn policy(&self) -> Policy {
        let options = read(&self.options);
        Policy {
            connect_timeout: options.connect_timeout,
            io_timeout: options.io_timeout,
            retry: options.retry_interval,
            failover: options.failover,
            deadline: Instant::now() + options.io_timeout,
        }
    }

    /// The exptime to send to `node` for a lifetime of `ttl` seconds (0:
    /// none). memcached reads an exptime over 30 days as a Unix time, so a
    /// longer lifetime is sent as the server's own time plus `ttl` (its
    /// clock, learned from its `time` stat: the host's may differ, and
    /// memcached's lags it by up to a second). One that ends after
    /// [`MAX_UNIX_TIME`] is an `Invalid` error, never an item that is
    /// already gone.
    fn exptime(&self, node: &Node, ttl: u32) -> Result<u32> {
        if ttl <= MAX_RELATIVE_TTL {
            return Ok(ttl);
        }
        let now = match node.server_time() {
            Some(now) => now,
            None => self.learn_time(node)?,
        };
        let at = now + u64::from(ttl);
        if at > MAX_UNIX_TIME {
            return Err(Error::new(
                Kind::Invalid,
                format!(
                    "a lifetime of {ttl} seconds ends after 2038-01-19 03:14:07 UTC, the last \
                     time memcached can keep (today at most {} seconds)",
                    MAX_UNIX_TIME - now
                ),
            ));
        }
        Ok(at as u32)
    }

    /// [`Client::exptime`] for every server of `topology`, by index.
    fn exptimes(&self, topology: &Topology, ttl: u32) -> Result<Vec<u32>> {
        topology
            .nodes
            .iter()
            .map(|node| self.exptime(node, ttl))
            .collect()
    }

    /// Asks `node` for its clock (`stats`) and records it; its time now.
    fn learn_time(&self, node: &Node) -> Result<u64> {
        let topology = self.topology();
        let n = topology
            .nodes
            .iter()
            .position(|m| std::ptr::eq(&**m, node))
            .ok_or_else(|| Error::new(Kind::Invalid, "the server list changed meanwhile"))?;
        let stats = self.stats_of(Some(n), None)?.remove(0);
        let read = Instant::now();
        let time = stats
            .iter()
            .find(|(name, _)| name == "time")
            .and_then(|(_, value)| value.parse::<u64>().ok())
            .ok_or_else(|| {
                Error::new(
                    Kind::Protocol,
                    format!("{}: no \"time\" in its stats", node.server),
                )
            })?;
        node.learn_time(time, read);
        node.server_time().ok_or_else(|| {
            Error::new(
                Kind::Protocol,
                format!("{}: a bad \"time\" stat", node.server),
            )
        })
    }

    /// Sends the request of one key (`full_key`, prefixed, or `place` if
    /// given, picks the server) and reads its reply with `read`. A server
    /// marked dead fails at once; with failover, a server that cannot be
    /// reached (the request was not sent) is marked dead and the next live
    /// one is tried, until one answers or none is left (then the first
    /// error is returned).
    fn keyed<T>(
        &self,
        topology: &Topology,
        place: Option<&[u8]>,
        full_key: &[u8],
        request: &[&[u8]],
        resend: Resend,
        mut read: impl FnMut(&mut Connection, Instant) -> Result<T>,
    ) -> Result<T> {
        let policy = self.policy();
        let hash = topology.hash(place, full_key);
        let exchange = Exchange {
            send: Connection::send,
            request,
            resend,
        };
        if !policy.failover {
            let n = topology.placement.home(&hash);
            topology.nodes[n].admit(policy.retry)?;
            return round_trip(topology, n, &policy, &exchange, &mut read).map_err(|f| f.error);
        }
        let mut admission = Admission::new(topology, policy.retry);
        let mut first_failure = None;
        loop {
            let n = match admission.route(&hash, policy.failover) {
                Ok(n) => n,
                // Nothing left to fail over to: the first failure of this
                // call says more than the dead mark it left.
                Err(e) => return Err(first_failure.unwrap_or(e)),
            };
            match round_trip(topology, n, &policy, &exchange, &mut read) {
                Ok(v) => return Ok(v),
                Err(f) if f.connect => {
                    admission.failed(n, &f.error);
                    first_failure.get_or_insert(f.error);
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    /// Groups `keys` (already prefixed) by server (by `place` if given);
    /// for each server encodes its keys' requests into one buffer with
    /// `encode(buffer, server index, key indexes)` and writes it, and once
    /// all are written reads each server's replies with `read(connection,
    /// deadline, server, that server's key indexes)`. Returns the failures,
    /// one per failed server (none: all done); the other servers' keys are
    /// done whatever happened to one. The keys of a server marked dead are
    /// not sent (its dead error is returned); with failover they go to the
    /// next live server, and so do those of a server that cannot be
    /// reached. However many keys, one write per server (replies that
    /// arrive while it is written are read meanwhile:
    /// [`Connection::send_pipeline`]).
    fn per_server(
        &self,
        topology: &Topology,
        place: Option<&[u8]>,
        keys: &[impl AsRef<[u8]>],
        resend: Resend,
        mut encode: impl FnMut(&mut Vec<u8>, usize, &[usize]),
        mut read: impl FnMut(&mut Connection, Instant, &Server, &[usize]) -> Result<()>,
    ) -> Vec<Error> {
        let policy = self.policy();
        let count = topology.nodes.len();
        let placement = &topology.placement;
        let hashes: Vec<Hash> = match place {
            Some(place) => vec![placement.hash_place(place); keys.len()],
            None => keys
                .iter()
                .map(|k| placement.hash_key(k.as_ref()))
                .collect(),
        };
        let mut admission = Admission::new(topology, policy.retry);
        let mut errors = Vec::new();
        let mut pending: Vec<usize> = (0..keys.len()).collect();
        while !pending.is_empty() {
            let mut groups: Vec<Vec<usize>> = vec![Vec::new(); count];
            for &i in &pending {
                match admission.route(&hashes[i], policy.failover) {
                    Ok(n) => groups[n].push(i),
                    Err(e) => note(&mut errors, e),
                }
            }
            pending = Vec::new();
            let requests: Vec<(usize, Vec<u8>, &[usize])> = groups
                .iter()
                .enumerate()
                .filter(|(n, g)| !g.is_empty() && !admission.has_failed(*n))
                .map(|(n, g)| {
                    let mut buf = Vec::with_capacity(g.len() * 40);
                    encode(&mut buf, n, g);
                    (n, buf, g.as_slice())
                })
                .collect();
            let results = fan_out(
                topology,
                &policy,
                resend,
                requests.iter().map(|(n, buf, _)| (*n, buf.as_slice())),
                |k, conn, deadline| {
                    let n = requests[k].0;
                    read(conn, deadline, &topology.nodes[n].server, requests[k].2)
                },
            );
            for ((n, _, _), result) in requests.iter().zip(results) {
                let Err(f) = result else { continue };
                admission.failed(*n, &f.error);
                if f.connect && policy.failover {
                    // Not sent: the server's keys go to the next live one.
                    pending.extend_from_slice(&groups[*n]);
                } else {
                    note(&mut errors, f.error);
                }
            }
        }
        errors
    }

    /// Sends the request `encode(buffer, server index)` makes to server
    /// `only`, or to every server, then reads each one's reply. Servers
    /// marked dead fail at once; the first error is returned (after every
    /// server's reply was read).
    fn on_servers<T>(
        &self,
        topology: &Topology,
        only: Option<usize>,
        mut encode: impl FnMut(&mut Vec<u8>, usize),
        mut read: impl FnMut(&mut Connection, Instant) -> Result<T>,
    ) -> Result<Vec<T>> {
        let policy = self.policy();
        let servers: Range<usize> = match only {
            Some(n) if n < topology.nodes.len() => n..n + 1,
            Some(n) => {
                return Err(Error::new(
                    Kind::Invalid,
                    format!("server index {n} is out of range"),
                ))
            }
            None => 0..topology.nodes.len(),
        };
        let mut admitted = Vec::with_capacity(servers.len());
        let mut refused: Vec<Option<Error>> = Vec::with_capacity(servers.len());
        for n in servers {
            match topology.nodes[n].admit(policy.retry) {
                Ok(()) => {
                    let mut request = Vec::new();
                    encode(&mut request, n);
                    admitted.push((n, request));
                    refused.push(None);
                }
                Err(e) => refused.push(Some(e)),
            }
        }
        let mut results = fan_out(
            topology,
            &policy,
            Resend::Safe,
            admitted.iter().map(|(n, request)| (*n, request.as_slice())),
            |_, conn, deadline| read(conn, deadline),
        )
        .into_iter();
        let mut out = Vec::with_capacity(refused.len());
        let mut first_error = None;
        for refusal in refused {
            let result = match refusal {
                Some(e) => Err(e),
                None => match results.next() {
                    Some(r) => r.map_err(|f| f.error),
                    None => unreachable!("one result per admitted server"),
                },
            };
            match result {
                Ok(v) => out.push(v),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(out),
            Some(e) => Err(e),
        }
    }
}

/// One request and how it goes out.
struct Exchange<'r> {
    send: SendFn,
    request: &'r [&'r [u8]],
    resend: Resend,
}

/// A connection to node `n` fit to carry a request of `resend`'s kind: a
/// pooled one (flagged true) or a new one. A pooled connection is checked
/// first for a request that may not be sent twice.
fn checkout(
    node: &Node,
    policy: &Policy,
    resend: Resend,
) -> std::result::Result<(Connection, bool), Failure> {
    let (conn, reused) = node
        .checkout(policy.connect_timeout, policy.io_timeout)
        .map_err(|e| failure(node, policy, e, true))?;
    if reused && resend == Resend::Never && !conn.is_idle_and_open() {
        // Closed by the server meanwhile: so are the others, likely.
        drop(conn);
        node.close_all();
        return reopen(node, policy).map(|c| (c, false));
    }
    Ok((conn, reused))
}

/// A new connection to `node`.
fn reopen(node: &Node, policy: &Policy) -> std::result::Result<Connection, Failure> {
    Connection::open(
        &node.server.address,
        policy.connect_timeout,
        policy.io_timeout,
    )
    .map_err(|e| failure(node, policy, e, true))
}

/// Sends a request to node `n` and reads its reply with `read`. A pooled
/// connection the server closed while it was idle (found closed or reset
/// before a byte of reply arrived) is replaced by a new one once, if the
/// request may be sent again ([`Resend::Safe`]); any other failure, a
/// timeout included, drops the connection and is returned, naming the
/// server. A timeout marks the server dead; an answer marks it alive.
fn round_trip<T>(
    topology: &Topology,
    n: usize,
    policy: &Policy,
    exchange: &Exchange<'_>,
    mut read: impl FnMut(&mut Connection, Instant) -> Result<T>,
) -> std::result::Result<T, Failure> {
    let node = &topology.nodes[n];
    let (mut conn, reused) = checkout(node, policy, exchange.resend)?;
    let mut result = exchange.run(&mut conn, policy.deadline, &mut read);
    if result.is_err() && reused && exchange.resend == Resend::Safe && conn.closed_before_reply() {
        node.close_all();
        conn = reopen(node, policy)?;
        result = exchange.run(&mut conn, policy.deadline, &mut read);
    }
    finish(node, policy, conn, result)
}

/// Ends an exchange with `node` on `conn`: a success returns the connection
/// to the pool and marks the server alive; a failure drops it.
fn finish<T>(
    node: &Node,
    policy: &Policy,
    conn: Connection,
    result: Result<T>,
) -> std::result::Result<T, Failure> {
    match result {
        Ok(v) => {
            node.checkin(conn);
            node.mark_alive();
            Ok(v)
        }
        Err(e) => {
            if answered(&e) {
                node.mark_alive();
            }
            Err(failure(node, policy, e, false))
        }
    }
}

/// Writes each `(node, request)` first, then reads the replies in the same
/// order with `read(request index, ...)`. Every server's replies are read
/// even after one failed, so the healthy connections go back to the pool
/// in step. Returns each request's outcome, in order.
fn fan_out<'r, T>(
    topology: &Topology,
    policy: &Policy,
    resend: Resend,
    requests: impl Iterator<Item = (usize, &'r [u8])>,
    mut read: impl FnMut(usize, &mut Connection, Instant) -> Result<T>,
) -> Vec<std::result::Result<T, Failure>> {
    let sent: Vec<(usize, &[u8], Sent)> = requests
        .map(|(n, request)| {
            let node = &topology.nodes[n];
            let sent = match checkout(node, policy, resend) {
                Err(f) => Sent::Failed(f),
                Ok((mut conn, reused)) => match conn.send_pipeline(&[request], policy.deadline) {
                    Ok(()) => Sent::Waiting(conn, reused),
                    Err(_) if reused && resend == Resend::Safe && conn.closed_before_reply() => {
                        Sent::Stale
                    }
                    Err(e) => Sent::Failed(failure(node, policy, e, false)),
                },
            };
            (n, request, sent)
        })
        .collect();
    let mut out = Vec::with_capacity(sent.len());
    for (k, (n, request, sent)) in sent.into_iter().enumerate() {
        let node = &topology.nodes[n];
        let result = match sent {
            Sent::Waiting(mut conn, reused) => {
                let result = read(k, &mut conn, policy.deadline);
                if result.is_err() && reused && resend == Resend::Safe && conn.closed_before_reply()
                {
                    resend_stale(topology, n, policy, request, |c, d| read(k, c, d))
                } else {
                    finish(node, policy, conn, result)
                }
            }
            Sent::Stale => resend_stale(topology, n, policy, request, |c, d| read(k, c, d)),
            Sent::Failed(f) => Err(f),
        };
        out.push(result);
    }
    out
}

/// Sends a pipeline again on a new connection to node `n`, after the
/// pooled one it went out on was found closed before any reply (only for
/// requests that may be sent twice).
fn resend_stale<T>(
    topology: &Topology,
    n: usize,
    policy: &Policy,
    request: &[u8],
    read: impl FnMut(&mut Connection, Instant) -> Result<T>,
) -> std::result::Result<T, Failure> {
    topology.nodes[n].close_all();
    let parts = [request];
    let exchange = Exchange {
        send: Connection::send_pipeline,
        request: &parts,
        // No second resend: the pool is empty, the connection new.
        resend: Resend::Never,
    };
    round_trip(topology, n, policy, &exchange, read)
}

/// The operations of a client with a placement value (see [`Placed`]);
/// each is the [`Client`] method of the same name.
impl Placed<'_> {
    /// The index of the server the placement value picks for `key` (the
    /// placement value alone decides; without one, the key's).
    pub fn server_for(&self, key: &[u8]) -> Result<usize> {
        match self.place {
            Some(place) => {
                self.client.full_key(key)?;
                Ok(self.client.server_for_place(place))
            }
            None => self.client.server_for(key),
        }
    }

    pub fn set(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.store(StoreVerb::Set, key, value, flags, ttl)
    }

    pub fn add(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.store(StoreVerb::Add, key, value, flags, ttl)
    }

    pub fn replace(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32) -> Result<Status> {
        self.store(StoreVerb::Replace, key, value, flags, ttl)
    }

    pub fn append(&self, key: &[u8], value: &[u8]) -> Result<Status> {
        self.store(StoreVerb::Append, key, value, 0, 0)
    }

    pub fn prepend(&self, key: &[u8], value: &[u8]) -> Result<Status> {
        self.store(StoreVerb::Prepend, key, value, 0, 0)
    }

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

    pub fn cas(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32, cas: u64) -> Result<Status> {
        self.store(StoreVerb::Cas(cas), key, value, flags, ttl)
    }

    pub fn store(
        &self,
        verb: StoreVerb,
        key: &[u8],
        value: &[u8],
        flags: u32,
        ttl: u32,
    ) -> Result<Status> {
        self.client
            .store_in(self.place, verb, key, value, flags, ttl)
    }

    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V, u32)],
        ttl: u32,
    ) -> Result<Vec<Result<Status>>> {
        self.client.set_many_in(self.place, items, ttl)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Item>> {
        Ok(self.client.get_in_with(self.place, key, vec_buf)?.map(item))
    }

    /// [`Client::get_with`] on the server `place` picks.
    pub fn get_with<B: ValueBuf>(
        &self,
        key: &[u8],
        make: impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Option<(B, u32, u64)>> {
        self.client.get_in_with(self.place, key, make)
    }

    pub fn get_and_touch(&self, key: &[u8], ttl: u32) -> Result<Option<Item>> {
        Ok(self.get_and_touch_with(key, ttl, vec_buf)?.map(item))
    }

    /// `get_and_touch` into the caller's buffer, as [`Client::get_with`].
    pub fn get_and_touch_with<B: ValueBuf>(
        &self,
        key: &[u8],
        ttl: u32,
        make: impl FnMut(usize, u32) -> Result<B>,
    ) -> Result<Option<(B, u32, u64)>> {
        self.client
            .get_and_touch_in_with(self.place, key, ttl, make)
    }

    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Hit>> {
        let (hits, errors) = self.client.get_many_in(self.place, keys)?;
        first(errors)?;
        Ok(hits)
    }

    pub fn get_many_partial<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<(Vec<Hit>, Vec<Error>)> {
        self.client.get_many_in(self.place, keys)
    }

    /// `get_many` without a `Vec` per hit: `each(key, flags, cas, value)`
    /// sees every hit where it was read, key as given.
    pub fn get_many_with<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        each: impl FnMut(&[u8], u32, u64, &[u8]),
    ) -> Result<()> {
        first(self.client.get_many_in_with(self.place, keys, each)?)
    }

    /// `get_many_partial` without a `Vec` per hit: the errors of the
    /// servers that failed are returned.
    pub fn get_many_partial_with<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        each: impl FnMut(&[u8], u32, u64, &[u8]),
    ) -> Result<Vec<Error>> {
        self.client.get_many_in_with(self.place, keys, each)
    }

    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        Ok(self.client.meta_probe(self.place, key, None)?.is_some())
    }

    pub fn ttl(&self, key: &[u8]) -> Result<Option<i64>> {
        self.client
            .meta_probe(self.place, key, Some(b't'))?
            .map(|t| parse_meta(&t, "a TTL"))
            .transpose()
    }

    pub fn flags(&self, key: &[u8]) -> Result<Option<u32>> {
        self.client
            .meta_probe(self.place, key, Some(b'f'))?
            .map(|f| parse_meta(&f, "flags"))
            .transpose()
    }

    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.client.delete_in(self.place, key)
    }

    pub fn delete_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<bool>> {
        self.client.delete_many_in(self.place, keys)
    }

    pub fn touch(&self, key: &[u8], ttl: u32) -> Result<bool> {
        self.client.touch_in(self.place, key, ttl)
    }

    pub fn incr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.client.arith(self.place, Arith::Incr, key, delta)
    }

    pub fn decr(&self, key: &[u8], delta: u64) -> Result<Option<u64>> {
        self.client.arith(self.place, Arith::Decr, key, delta)
    }
}

/// Did the server answer (with an error of its own), so that it is alive?
fn answered(e: &Error) -> bool {
    !matches!(e.kind(), Kind::Timeout | Kind::Io | Kind::Protocol)
}

/// A request after the first phase of [`Client::fan_out`].
enum Sent {
    /// Written; the reply is to be read from this connection (reused or not).
    Waiting(Connection, bool),
    /// Written to a pooled connection the server had closed meanwhile: to
    /// be sent again on a new one.
    Stale,
    /// Could not be sent.
    Failed(Failure),
}

/// How a request is written: [`Connection::send`] for one request,
/// [`Connection::send_pipeline`] for many at once.
type SendFn = fn(&mut Connection, &[&[u8]], Instant) -> Result<()>;

impl Exchange<'_> {
    /// Writes the request and reads its reply, by `deadline`.
    fn run<T>(
        &self,
        conn: &mut Connection,
        deadline: Instant,
        read: &mut impl FnMut(&mut Connection, Instant) -> Result<T>,
    ) -> Result<T> {
        (self.send)(conn, self.request, deadline)?;
        read(conn, deadline)
    }
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
            None => Err(not_asked(key)),
        }
    }
}

/// The error of a VALUE for a key that was not asked (or not that often).
fn not_asked(key: &[u8]) -> Error {
    Error::new(
        Kind::Protocol,
        format!(
            "reply with a value for key \"{}\", which was not asked for",
            key::show(key)
        ),
    )
}

/// `prefix` + `key`, checked.
fn prefixed(prefix: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    let mut full = Vec::with_capacity(prefix.len() + key.len());
    full.extend_from_slice(prefix);
    full.extend_from_slice(key);
    if !prefix.is_empty() && key.is_empty() {
        return Err(Error::new(Kind::BadKey, "key is empty"));
    }
    key::check(&full)?;
    Ok(full)
}

/// `prefix` + `key`, checked: `key` itself when there is no prefix, so
/// the usual case copies nothing.
fn with_prefix<'k>(prefix: &[u8], key: &'k [u8]) -> Result<Cow<'k, [u8]>> {
    if prefix.is_empty() {
        key::check(key)?;
        Ok(Cow::Borrowed(key))
    } else {
        prefixed(prefix, key).map(Cow::Owned)
    }
}

/// A meta flag's value as a number.
fn parse_meta<T: std::str::FromStr>(value: &[u8], what: &str) -> Result<T> {
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

/// Reads the reply to a one-key `gets`/`gats`: a VALUE and END, or END.
/// The value goes into the buffer `make(size, flags)` returns.
/// A VALUE for any other key than `key` is a protocol error.
fn read_single<B: ValueBuf>(
    conn: &mut Connection,
    deadline: std::time::Instant,
    key: &[u8],
    make: &mut impl FnMut(usize, u32) -> Result<B>,
) -> Result<Option<(B, u32, u64)>> {
    let end = |reply: Reply<'_>| match reply {
        Reply::End => Ok(()),
        other => Err(unexpected(other)),
    };
    match conn.read_value(deadline, key, make, end)? {
        Fetched::Other(done) => done.map(|()| None),
        Fetched::Value { value, flags, cas } => {
            conn.read_reply(deadline, end)??;
            Ok(Some((value, flags, cas.unwrap_or(0))))
        }
    }
}

/// A `Vec` for a value, for [`Client::get_with`].
fn vec_buf(size: usize, _flags: u32) -> Result<VecBuf> {
    Ok(VecBuf::new(size))
}

/// An [`Item`] from what [`Client::get_with`] read into a [`VecBuf`].
fn item((value, flags, cas): (VecBuf, u32, u64)) -> Item {
    Item {
        value: value.into_vec(),
        flags,
        cas,
    }
}

fn store_status(reply: Reply<'_>) -> Result<Status> {
    match reply {
        Reply::Stored => Ok(Status::Stored),
        Reply::NotStored => Ok(Status::NotStored),
        Reply::Exists => Ok(Status::Exists),
        Reply::NotFound => Ok(Status::NotFound),
        other => Err(unexpected(other)),
    }
}

fn deleted(reply: Reply<'_>) -> Result<bool> {
    match reply {
        Reply::Deleted => Ok(true),
        Reply::NotFound => Ok(false),
        other => Err(unexpected(other)),
    }
}

fn expect_ok(reply: Reply<'_>) -> Result<()> {
    match reply {
        Reply::Ok => Ok(()),
        other => Err(unexpected(other)),
    }
}

/// The error for a reply the request did not expect, with the server's text.
fn unexpected(reply: Reply<'_>) -> Error {
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
