//! The client: operations on keys over a handle's servers.
//!
//! A single-key operation is one request written with one gathered `sendmsg`
//! and, for a small reply, one `read`. A multi-key operation groups its keys
//! by server, writes each server's requests at once, and only then reads the
//! replies (pipelining), so it costs one round trip per server, not per key.
//!
//! A miss, a `NOT_STORED`, an `EXISTS` are results, not errors: only what
//! leaves the caller unsure of the server's state is an `Err`.

use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;

use crate::cluster::{self, Node};
use crate::connection::Connection;
use crate::daemon::DaemonOptions;
use crate::error::{Error, Kind, Result};
use crate::key;
use crate::protocol::{self, Arith, MetaCode, Reply, RetrieveVerb, StoreVerb};
use crate::server::{self, Server};

/// memcached reads an exptime above this (30 days) as a Unix time.
pub const MAX_RELATIVE_TTL: u32 = 60 * 60 * 24 * 30;

/// Values at least this long are written from the caller's memory with
/// one gathered write instead of being copied into the request buffer.
const ZERO_COPY_VALUE: usize = 16 * 1024;

/// The most storage or delete requests a multi-key operation writes to one
/// server before reading their replies (see `Client::per_server`): their
/// replies (at most ~50 bytes each, usually 8 to 11) then fit in the
/// socket buffers even of a Unix socket, where 16,000 deletes did not.
const PIPELINE_BATCH: usize = 1024;

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
}

impl Default for Options {
    fn default() -> Options {
        Options {
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(3),
            key_prefix: Vec::new(),
            default_ttl: 8 * 60 * 60,
            daemon: DaemonOptions::default(),
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
    nodes: Vec<Node>,
    options: RwLock<Options>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.servers().map(|s| &s.name))
            .finish()
    }
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
        Ok(Client {
            nodes: servers.into_iter().map(Node::new).collect(),
            options: RwLock::new(Options::default()),
        })
    }

    /// The servers, in the order given.
    pub fn servers(&self) -> impl Iterator<Item = &Server> {
        self.nodes.iter().map(|n| &n.server)
    }

    /// Server `n` (in the order given), or an `Invalid` error.
    pub fn server(&self, n: usize) -> Result<&Server> {
        self.nodes
            .get(n)
            .map(|node| &node.server)
            .ok_or_else(|| Error::new(Kind::Invalid, format!("server index {n} is out of range")))
    }

    pub fn options(&self) -> Options {
        self.options.read().clone()
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
        let mut current = self.options.write();
        let mut options = current.clone();
        change(&mut options)?;
        if options.connect_timeout.is_zero() || options.io_timeout.is_zero() {
            return Err(Error::new(Kind::Invalid, "timeouts must be at least 1 ms").into());
        }
        if !options.key_prefix.is_empty() {
            key::check(&options.key_prefix)
                .map_err(|e| Error::new(Kind::Invalid, format!("bad key prefix: {e}")))?;
        }
        *current = options;
        drop(current);
        self.disconnect_all();
        Ok(())
    }

    /// Closes every idle connection (they reopen on the next operation).
    pub fn disconnect_all(&self) {
        for node in &self.nodes {
            node.close_all();
        }
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

    /// Stores only if the item's CAS value is still `cas` (from a get).
    pub fn cas(&self, key: &[u8], value: &[u8], flags: u32, ttl: u32, cas: u64) -> Result<Status> {
        self.store(StoreVerb::Cas(cas), key, value, flags, ttl)
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
        let full = self.full_key(key)?;
        let exptime = exptime(ttl);
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
        self.round_trip(self.node_for(&full), request, |conn, deadline| {
            conn.read_reply(deadline, store_status)?
        })
    }

    /// Stores many items, pipelined: one write per server. Returns each
    /// item's outcome, in input order: its status, or the error the server
    /// gave for that item alone (`SERVER_ERROR`: too large, out of memory),
    /// which does not stop the others. Any other failure fails the call.
    pub fn set_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V, u32)],
        ttl: u32,
    ) -> Result<Vec<Result<Status>>> {
        let prefix = self.options.read().key_prefix.clone();
        let exptime = exptime(ttl);
        let keys = items
            .iter()
            .map(|(k, _, _)| prefixed(&prefix, k.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let mut outcomes: Vec<Result<Status>> = vec![Ok(Status::NotStored); items.len()];
        self.per_server(
            &keys,
            PIPELINE_BATCH,
            |buf, indexes| {
                for &i in indexes {
                    let (_, value, flags) = &items[i];
                    protocol::store(
                        buf,
                        StoreVerb::Set,
                        &keys[i],
                        *flags,
                        exptime,
                        value.as_ref(),
                        false,
                    );
                }
            },
            |conn, deadline, indexes| {
                for &i in indexes {
                    outcomes[i] = match conn.read_reply(deadline, store_status)? {
                        // The server read and dropped that item's data:
                        // the stream is still in step for the next reply.
                        Err(e) if matches!(e.kind(), Kind::Server | Kind::TooLarge) => Err(e),
                        Err(e) => return Err(e),
                        Ok(status) => Ok(status),
                    };
                }
                Ok(())
            },
        )?;
        for (outcome, key) in outcomes.iter_mut().zip(&keys) {
            if let Err(e) = outcome {
                *e = e.clone().context(&self.nodes[self.node_for(key)].server);
            }
        }
        Ok(outcomes)
    }

    // ----- retrieval -----

    /// The item under `key`, or `None`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Item>> {
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 8);
        protocol::retrieve(&mut request, RetrieveVerb::Gets, &[&full]);
        self.round_trip(self.node_for(&full), &[&request], |conn, deadline| {
            read_single(conn, deadline)
        })
    }

    /// The item under `key`, giving it a new TTL in the same request
    /// (`gats`), or `None`.
    pub fn get_and_touch(&self, key: &[u8], ttl: u32) -> Result<Option<Item>> {
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 24);
        protocol::get_and_touch(&mut request, true, exptime(ttl), &[&full]);
        self.round_trip(self.node_for(&full), &[&request], |conn, deadline| {
            read_single(conn, deadline)
        })
    }

    /// Every hit among `keys`, pipelined: one `gets` per server. Keys come
    /// back as given (without the key prefix), in the servers' reply order.
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Hit>> {
        let prefix = self.options.read().key_prefix.clone();
        let full = keys
            .iter()
            .map(|k| prefixed(&prefix, k.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let mut hits = Vec::with_capacity(keys.len());
        self.per_server(
            &full,
            // One "gets" line: the server reads all of it before replying.
            usize::MAX,
            |buf, indexes| {
                let keys: Vec<&[u8]> = indexes.iter().map(|&i| full[i].as_slice()).collect();
                protocol::retrieve(buf, RetrieveVerb::Gets, &keys);
            },
            |conn, deadline, _| loop {
                let done = conn.read_reply(deadline, |reply| match reply {
                    Reply::Value {
                        key,
                        flags,
                        cas,
                        data,
                    } => {
                        hits.push(Hit {
                            key: key[prefix.len().min(key.len())..].to_vec(),
                            item: Item {
                                value: data.to_vec(),
                                flags,
                                cas: cas.unwrap_or(0),
                            },
                        });
                        Ok(false)
                    }
                    Reply::End => Ok(true),
                    other => Err(unexpected(other)),
                })??;
                if done {
                    return Ok(());
                }
            },
        )?;
        Ok(hits)
    }

    /// Is there an item under `key`? Asks with a meta get that returns no
    /// value (memcached 1.6.10 or later).
    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        Ok(self.meta_probe(key, None)?.is_some())
    }

    /// The seconds `key` has left to live (`None`: no item; `Some(-1)`: no
    /// expiry), by a meta get (memcached 1.6.10 or later).
    pub fn ttl(&self, key: &[u8]) -> Result<Option<i64>> {
        self.meta_probe(key, Some(b't'))?
            .map(|t| parse_meta(&t, "a TTL"))
            .transpose()
    }

    /// The flags stored with `key`'s item, or `None`, without fetching the
    /// value (meta get; memcached 1.6.10 or later).
    pub fn flags(&self, key: &[u8]) -> Result<Option<u32>> {
        self.meta_probe(key, Some(b'f'))?
            .map(|f| parse_meta(&f, "flags"))
            .transpose()
    }

    /// A meta get of `key` that returns no value: `None` if there is no
    /// item, else the value of meta flag `flag` (empty when none is asked).
    fn meta_probe(&self, key: &[u8], flag: Option<u8>) -> Result<Option<Vec<u8>>> {
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 8);
        let token = flag.map(|f| [f]);
        let tokens: Vec<&[u8]> = token.iter().map(|t| &t[..]).collect();
        protocol::meta_get(&mut request, &full, &tokens);
        self.round_trip(self.node_for(&full), &[&request], |conn, deadline| {
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
        })
    }

    // ----- other key operations -----

    /// Deletes `key`; false if it had no item.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 10);
        protocol::delete(&mut request, &full, false);
        self.round_trip(self.node_for(&full), &[&request], |conn, deadline| {
            conn.read_reply(deadline, deleted)?
        })
    }

    /// Deletes many keys, pipelined. Returns for each key whether it had an
    /// item, in input order.
    pub fn delete_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<bool>> {
        let prefix = self.options.read().key_prefix.clone();
        let full = keys
            .iter()
            .map(|k| prefixed(&prefix, k.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let mut found = vec![false; keys.len()];
        self.per_server(
            &full,
            PIPELINE_BATCH,
            |buf, indexes| {
                for &i in indexes {
                    protocol::delete(buf, &full[i], false);
                }
            },
            |conn, deadline, indexes| {
                for &i in indexes {
                    found[i] = conn.read_reply(deadline, deleted)??;
                }
                Ok(())
            },
        )?;
        Ok(found)
    }

    /// Gives `key` a new TTL; false if it has no item.
    pub fn touch(&self, key: &[u8], ttl: u32) -> Result<bool> {
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 24);
        protocol::touch(&mut request, &full, exptime(ttl), false);
        self.round_trip(self.node_for(&full), &[&request], |conn, deadline| {
            conn.read_reply(deadline, |reply| match reply {
                Reply::Touched => Ok(true),
                Reply::NotFound => Ok(false),
                other => Err(unexpected(other)),
            })?
        })
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
        let full = self.full_key(key)?;
        let mut request = Vec::with_capacity(full.len() + 32);
        protocol::arith(&mut request, verb, &full, delta, false);
        self.round_trip(self.node_for(&full), &[&request], |conn, deadline| {
            conn.read_reply(deadline, |reply| match reply {
                Reply::Number(n) => Ok(Some(n)),
                Reply::NotFound => Ok(None),
                other => Err(unexpected(other)),
            })?
        })
    }

    // ----- whole servers -----

    /// Invalidates every item on every server, now or after `delay` seconds.
    pub fn flush_all(&self, delay: Option<u32>) -> Result<()> {
        let mut request = Vec::new();
        protocol::flush_all(&mut request, delay, false);
        self.on_servers(0..self.nodes.len(), &request, |conn, deadline| {
            conn.read_reply(deadline, expect_ok)?
        })
        .map(drop)
    }

    /// Sets the servers' logging verbosity.
    pub fn verbosity(&self, level: u32) -> Result<()> {
        let mut request = Vec::new();
        protocol::verbosity(&mut request, level, false);
        self.on_servers(0..self.nodes.len(), &request, |conn, deadline| {
            conn.read_reply(deadline, expect_ok)?
        })
        .map(drop)
    }

    /// Each server's statistics (`stats` or `stats <group>`), as name/value
    /// pairs in the server's order, one list per server in server order.
    pub fn stats(&self, group: Option<&str>) -> Result<Vec<Vec<(String, String)>>> {
        self.stats_of(0..self.nodes.len(), group)
    }

    /// The statistics of server `n` alone (in [`Client::servers`] order).
    pub fn server_stats(&self, n: usize, group: Option<&str>) -> Result<Vec<(String, String)>> {
        Ok(self.stats_of(self.one_server(n)?, group)?.remove(0))
    }

    fn stats_of(
        &self,
        servers: Range<usize>,
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
        let mut request = Vec::new();
        protocol::stats(&mut request, group.map(str::as_bytes));
        self.on_servers(servers, &request, |conn, deadline| {
            let mut stats = Vec::new();
            loop {
                let done = conn.read_reply(deadline, |reply| match reply {
                    Reply::Stat { name, value } => {
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
        })
    }

    /// Each server's version string, in server order.
    pub fn version(&self) -> Result<Vec<String>> {
        self.version_of(0..self.nodes.len())
    }

    /// The version string of server `n` alone.
    pub fn server_version(&self, n: usize) -> Result<String> {
        Ok(self.version_of(self.one_server(n)?)?.remove(0))
    }

    fn version_of(&self, servers: Range<usize>) -> Result<Vec<String>> {
        let mut request = Vec::new();
        protocol::version(&mut request);
        self.on_servers(servers, &request, |conn, deadline| {
            conn.read_reply(deadline, |reply| match reply {
                Reply::Version(v) => Ok(String::from_utf8_lossy(v).into_owned()),
                other => Err(unexpected(other)),
            })?
        })
    }

    // ----- plumbing -----

    /// The key prefix + `key`, checked.
    fn full_key(&self, key: &[u8]) -> Result<Vec<u8>> {
        prefixed(&self.options.read().key_prefix, key)
    }

    fn node_for(&self, full_key: &[u8]) -> usize {
        if self.nodes.len() == 1 {
            0
        } else {
            cluster::bucket(full_key, self.nodes.len())
        }
    }

    /// Sends `request` to node `n` and reads its reply with `read`. A pooled
    /// connection the server closed while it was idle (found closed or
    /// reset before a byte of reply arrived, so the server never saw the
    /// request) is replaced by a new one once; any other failure, a timeout
    /// included, drops the connection and is returned, naming the server.
    fn round_trip<T>(
        &self,
        n: usize,
        request: &[&[u8]],
        mut read: impl FnMut(&mut Connection, std::time::Instant) -> Result<T>,
    ) -> Result<T> {
        let (connect_timeout, io_timeout) = self.timeouts();
        let node = &self.nodes[n];
        let (mut conn, reused) = node.checkout(connect_timeout, io_timeout)?;
        let mut result = exchange(&mut conn, request, &mut read);
        if result.is_err() && reused && conn.closed_before_reply() {
            node.close_all();
            conn = Connection::open(&node.server.address, connect_timeout, io_timeout)
                .map_err(|e| e.context(&node.server))?;
            result = exchange(&mut conn, request, &mut read);
        }
        match result {
            Ok(v) => {
                node.checkin(conn);
                Ok(v)
            }
            Err(e) => Err(e.context(&node.server)),
        }
    }

    /// Groups `keys` (already prefixed) by server; for each server encodes
    /// its keys' requests into one buffer with `encode(buffer, key indexes)`
    /// and writes it, and once all are written reads each server's replies
    /// with `read(connection, deadline, that server's key indexes)`.
    ///
    /// At most `batch` keys of a server go in one write: a server answering
    /// a pipeline it is still reading stops reading once its replies fill
    /// the socket buffers, so a pipeline whose replies outgrow them would
    /// leave both sides waiting for each other. Larger operations take one
    /// round trip per `batch` keys.
    fn per_server(
        &self,
        keys: &[Vec<u8>],
        batch: usize,
        mut encode: impl FnMut(&mut Vec<u8>, &[usize]),
        mut read: impl FnMut(&mut Connection, std::time::Instant, &[usize]) -> Result<()>,
    ) -> Result<()> {
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, k) in keys.iter().enumerate() {
            groups[self.node_for(k)].push(i);
        }
        let rounds = groups
            .iter()
            .map(|g| g.len().div_ceil(batch))
            .max()
            .unwrap_or(0);
        for round in 0..rounds {
            let requests: Vec<(usize, Vec<u8>, &[usize])> = groups
                .iter()
                .enumerate()
                .filter_map(|(n, g)| {
                    let part = g.chunks(batch).nth(round)?;
                    let mut buf = Vec::with_capacity(part.len() * 40);
                    encode(&mut buf, part);
                    Some((n, buf, part))
                })
                .collect();
            self.fan_out(
                requests.iter().map(|(n, buf, _)| (*n, buf.as_slice())),
                |k, conn, deadline| read(conn, deadline, requests[k].2),
            )?;
        }
        Ok(())
    }

    /// Sends `request` to each of `servers`, then reads each one's reply.
    fn on_servers<T>(
        &self,
        servers: Range<usize>,
        request: &[u8],
        mut read: impl FnMut(&mut Connection, std::time::Instant) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.fan_out(servers.map(|n| (n, request)), |_, conn, deadline| {
            read(conn, deadline)
        })
    }

    /// The range of just server `n`, or an error if there is none.
    fn one_server(&self, n: usize) -> Result<Range<usize>> {
        self.server(n).map(|_| n..n + 1)
    }

    /// Writes each `(node, request)` first, then reads the replies in the
    /// same order with `read(request index, ...)`. Every server's replies
    /// are read even after one failed, so the healthy connections go back to
    /// the pool in step; the first error is returned.
    fn fan_out<'r, T>(
        &self,
        requests: impl Iterator<Item = (usize, &'r [u8])>,
        mut read: impl FnMut(usize, &mut Connection, std::time::Instant) -> Result<T>,
    ) -> Result<Vec<T>> {
        let (connect_timeout, io_timeout) = self.timeouts();
        let sent: Vec<(usize, &[u8], Sent)> = requests
            .map(|(n, request)| {
                let node = &self.nodes[n];
                let sent = match node.checkout(connect_timeout, io_timeout) {
                    Err(e) => Sent::Failed(e),
                    Ok((mut conn, reused)) => match conn.send(&[request]) {
                        Ok(()) => Sent::Waiting(conn, reused),
                        Err(_) if reused && conn.closed_before_reply() => Sent::Stale,
                        Err(e) => Sent::Failed(e.context(&node.server)),
                    },
                };
                (n, request, sent)
            })
            .collect();
        let mut out = Vec::with_capacity(sent.len());
        let mut first_error = None;
        for (k, (n, request, sent)) in sent.into_iter().enumerate() {
            let node = &self.nodes[n];
            let result = match sent {
                Sent::Waiting(mut conn, reused) => {
                    let deadline = conn.deadline();
                    match read(k, &mut conn, deadline) {
                        Ok(v) => {
                            node.checkin(conn);
                            Ok(v)
                        }
                        Err(_) if reused && conn.closed_before_reply() => {
                            node.close_all();
                            self.round_trip(n, &[request], |c, d| read(k, c, d))
                        }
                        Err(e) => Err(e.context(&node.server)),
                    }
                }
                Sent::Stale => {
                    node.close_all();
                    self.round_trip(n, &[request], |c, d| read(k, c, d))
                }
                Sent::Failed(e) => Err(e),
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

    fn timeouts(&self) -> (Duration, Duration) {
        let options = self.options.read();
        (options.connect_timeout, options.io_timeout)
    }
}

/// A request after the first phase of [`Client::fan_out`].
enum Sent {
    /// Written; the reply is to be read from this connection (reused or not).
    Waiting(Connection, bool),
    /// Written to a pooled connection the server had closed meanwhile: to
    /// be sent again on a new one.
    Stale,
    /// Could not be sent.
    Failed(Error),
}

/// Writes `request` and reads its reply.
fn exchange<T>(
    conn: &mut Connection,
    request: &[&[u8]],
    read: &mut impl FnMut(&mut Connection, std::time::Instant) -> Result<T>,
) -> Result<T> {
    let deadline = conn.deadline();
    conn.send(request)?;
    read(conn, deadline)
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

/// The exptime to send for a relative TTL: memcached reads values over 30
/// days as Unix times, so longer TTLs are sent as `now + ttl`.
pub fn exptime(ttl: u32) -> u32 {
    if ttl <= MAX_RELATIVE_TTL {
        return ttl;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(now + u64::from(ttl)).unwrap_or(u32::MAX)
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
fn read_single(conn: &mut Connection, deadline: std::time::Instant) -> Result<Option<Item>> {
    let item = conn.read_reply(deadline, |reply| match reply {
        Reply::Value {
            flags, cas, data, ..
        } => Ok(Some(Item {
            value: data.to_vec(),
            flags,
            cas: cas.unwrap_or(0),
        })),
        Reply::End => Ok(None),
        other => Err(unexpected(other)),
    })??;
    if item.is_some() {
        conn.read_reply(deadline, |reply| match reply {
            Reply::End => Ok(()),
            other => Err(unexpected(other)),
        })??;
    }
    Ok(item)
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
        Reply::Error => Error::new(Kind::Client, "ERROR: the server does not know this command"),
        other => Error::new(Kind::Protocol, format!("unexpected reply {other:?}")),
    }
}
