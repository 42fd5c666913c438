//! Where a request goes and what happens when a server fails: which server
//! (placement, dead marks, failover), which connection (pooled or new,
//! checked or not), one deadline for the whole command, the rule for
//! sending a request again, and the writing of pipelines to many servers
//! before their replies are read.
//!
//! The failure policy: a server that times out (a connection or a reply)
//! is marked dead, for a second the first time and longer after each
//! failure in a row, up to [`Options::retry_interval`]; meanwhile its keys
//! fail at once, without a request, with an `Io` error that names it; then
//! one request probes it again. A refused connection marks nothing unless
//! [`Options::failover`] is on, which sends a dead server's keys to the
//! next live server instead.

use std::ops::Range;
use std::time::Duration;

use super::{Key, Options, Snapshot, Topology};
pub(super) use admission::first;
use admission::{note, Admission};
use meta::{meta_check, no_meta, require_meta};

mod admission;
mod meta;
use crate::cluster::{Hash, Node};
use crate::error::{Error, Kind, Result};
use crate::net::{Connection, Deadline, Dial};
use crate::server::Server;

/// The settings an operation needs, read once at its start, and its
/// deadline: one for the whole command, however many servers it reaches.
pub(super) struct Policy<'s> {
    /// How connections are opened (timeouts, credentials).
    dial: Dial<'s>,
    retry: Duration,
    failover: bool,
    deadline: Deadline,
}

/// May a request be sent again on a new connection, when the pooled one it
/// went out on turns out to have been closed by the server (a restart, an
/// idle timeout) before a byte of reply came? The server may have carried
/// it out before closing, so only a request whose repetition changes
/// neither the data nor the answer may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resend {
    /// Reads, `set`, `replace`, `touch`, whole-server commands.
    Safe,
    /// `add`, `cas`, `append`, `prepend`, `delete`, `incr`, `decr`: a
    /// pooled connection is checked before it carries one instead (one
    /// non-blocking `recv`), and a failure after sending is reported.
    Never,
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

impl Snapshot {
    /// The settings an operation runs with, and its deadline.
    fn policy(&self) -> Policy<'_> {
        let options: &Options = &self.options;
        Policy {
            dial: Dial {
                connect_timeout: options.connect_timeout,
                io_timeout: options.io_timeout,
                auth: options.auth.as_ref(),
                tls: &self.tls,
            },
            retry: options.retry_interval,
            failover: options.failover,
            deadline: Deadline::after(options.io_timeout),
        }
    }

    /// Sends the request of one key (`key`, prefixed, or `place` if
    /// given, picks the server) and reads its reply with `read`. A binary
    /// key's request goes only to a server known to have the meta
    /// commands (asked once: [`meta_check`]). A server
    /// marked dead fails at once; with failover, a server that cannot be
    /// reached (the request was not sent) is marked dead and the next live
    /// one is tried, until one answers or none is left (then the first
    /// error is returned).
    pub(super) fn keyed<T>(
        &self,
        place: Option<&[u8]>,
        key: &Key<'_>,
        request: &[&[u8]],
        resend: Resend,
        mut read: impl FnMut(&mut Connection, Deadline) -> Result<T>,
    ) -> Result<T> {
        let policy = self.policy();
        let topology = &self.topology;
        let hash = topology.hash(place, key);
        let exchange = Exchange {
            send: Connection::send,
            request,
            resend,
            meta: key.binary(),
        };
        let home = topology.placement.home(&hash);
        if !policy.failover {
            topology.nodes[home].admit(policy.retry)?;
            return round_trip(topology, home, &policy, &exchange, &mut read).map_err(|f| f.error);
        }
        // The home server first, with no failover bookkeeping (it costs an
        // allocation a call): that is only needed once the home has failed.
        let home_failure = match topology.nodes[home].admit(policy.retry) {
            Err(e) => Err(e),
            Ok(()) => match round_trip(topology, home, &policy, &exchange, &mut read) {
                Ok(v) => return Ok(v),
                Err(f) if f.connect => Ok(f.error),
                Err(f) => return Err(f.error),
            },
        };
        let mut admission = Admission::new(topology, policy.retry);
        let mut first_failure = None;
        match home_failure {
            // Refused at admission (marked dead): the route tries the others.
            Err(refused) => admission.failed(home, &refused),
            Ok(error) => {
                admission.failed(home, &error);
                first_failure = Some(error);
            }
        }
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
    /// `encode(buffer, server index, key indexes, meta)`, which returns
    /// where its last command starts (see [`Pipeline`]), and writes it,
    /// and once all are written reads each server's replies with
    /// `read(connection, deadline, server, that server's key indexes,
    /// meta)`. `meta`: the server's keys include a binary one, so its
    /// requests are meta commands (the server is asked first whether it
    /// has them, once: [`meta_check`]; if not, its keys fail). Returns the
    /// failures, one per failed server (none: all done); the other
    /// servers' keys are done whatever happened to one. The keys of a
    /// server marked dead are not sent (its dead error is returned); with
    /// failover they go to the next live server, and so do those of a
    /// server that cannot be reached. However many keys, one write per
    /// server (replies that arrive while it is written are read meanwhile:
    /// [`Connection::send_pipeline`]).
    pub(super) fn per_server(
        &self,
        place: Option<&[u8]>,
        keys: &[Key<'_>],
        resend: Resend,
        mut encode: impl FnMut(&mut Vec<u8>, usize, &[usize], bool) -> usize,
        mut read: impl FnMut(&mut Connection, Deadline, &Server, &[usize], bool) -> Result<()>,
    ) -> Vec<Error> {
        let policy = self.policy();
        let topology = &self.topology;
        let count = topology.nodes.len();
        let placement = &topology.placement;
        // One server (a local daemon, most often) takes every key: no hash
        // and no route per key, one admission for them all.
        let hashes: Vec<Hash> = match place {
            _ if count == 1 => Vec::new(),
            Some(place) => vec![placement.hash_place(place); keys.len()],
            None => keys.iter().map(|k| placement.hash_key(k)).collect(),
        };
        let mut admission = Admission::new(topology, policy.retry);
        let mut errors = Vec::new();
        let mut pending: Vec<usize> = (0..keys.len()).collect();
        while !pending.is_empty() {
            let mut groups: Vec<Vec<usize>> = vec![Vec::new(); count];
            if count == 1 {
                // (No hashes were made: nowhere else to route to.)
                match admission.admit(0) {
                    Ok(()) => groups[0] = std::mem::take(&mut pending),
                    Err(e) => note(&mut errors, e),
                }
            } else {
                for &i in &pending {
                    match admission.route(&hashes[i], policy.failover) {
                        Ok(n) => groups[n].push(i),
                        Err(e) => note(&mut errors, e),
                    }
                }
            }
            pending = Vec::new();
            let mut requests: Vec<Outgoing> = Vec::new();
            for (n, g) in groups.iter().enumerate() {
                if g.is_empty() || admission.has_failed(n) {
                    continue;
                }
                let meta = g.iter().any(|&i| keys[i].binary());
                if meta {
                    if let Err(f) = require_meta(topology, n, &policy) {
                        admission.failed(n, &f.error);
                        note(&mut errors, f.error);
                        continue;
                    }
                }
                let mut buf = Vec::with_capacity(g.len() * 40);
                let last = encode(&mut buf, n, g, meta);
                requests.push(Outgoing {
                    n,
                    buf,
                    last,
                    indexes: g,
                    meta,
                });
            }
            let results = fan_out(
                topology,
                &policy,
                resend,
                requests
                    .iter()
                    .map(|o| (o.n, [&o.buf[..o.last], &o.buf[o.last..]])),
                |k, conn, deadline| {
                    let o = &requests[k];
                    read(
                        conn,
                        deadline,
                        &topology.nodes[o.n].server,
                        o.indexes,
                        o.meta,
                    )
                },
            );
            for (o, result) in requests.iter().zip(results) {
                let Err(f) = result else { continue };
                admission.failed(o.n, &f.error);
                if f.connect && policy.failover {
                    // Not sent: the server's keys go to the next live one.
                    pending.extend_from_slice(&groups[o.n]);
                } else {
                    note(&mut errors, f.error);
                }
            }
        }
        errors
    }

    /// Sends the request `encode(buffer, server index)` makes to server
    /// `only`, or to every server, then reads each one's reply (an encoder's
    /// error is returned before anything is sent). Servers
    /// marked dead fail at once; the first error is returned (after every
    /// server's reply was read).
    pub(super) fn on_servers<T>(
        &self,
        only: Option<usize>,
        mut encode: impl FnMut(&mut Vec<u8>, usize) -> Result<()>,
        mut read: impl FnMut(&mut Connection, Deadline) -> Result<T>,
    ) -> Result<Vec<T>> {
        let policy = self.policy();
        let topology = &self.topology;
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
                    encode(&mut request, n)?;
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
            admitted
                .iter()
                .map(|(n, request)| (*n, [request.as_slice(), &[]])),
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

/// One server's pipeline in [`Snapshot::per_server`]: the server, the
/// requests (the last command starting at `last`), the keys they are for
/// and whether they are meta commands.
struct Outgoing<'g> {
    n: usize,
    buf: Vec<u8>,
    last: usize,
    indexes: &'g [usize],
    meta: bool,
}

/// One request and how it goes out.
struct Exchange<'r> {
    send: SendFn,
    request: &'r [&'r [u8]],
    resend: Resend,
    /// Only a server with the meta commands may get it (it carries a
    /// binary key): see [`meta_check`].
    meta: bool,
}

/// A connection to node `n` fit to carry a request of `resend`'s kind: a
/// pooled one (flagged true) or a new one. A pooled connection is checked
/// first for a request that may not be sent twice.
fn checkout(
    node: &Node,
    policy: &Policy,
    resend: Resend,
) -> std::result::Result<(Box<Connection>, bool), Failure> {
    let (mut conn, reused) = node
        .checkout(&policy.dial)
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
fn reopen(node: &Node, policy: &Policy) -> std::result::Result<Box<Connection>, Failure> {
    Connection::open(&node.server.address, &policy.dial)
        .map(Box::new)
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
    mut read: impl FnMut(&mut Connection, Deadline) -> Result<T>,
) -> std::result::Result<T, Failure> {
    let node = &topology.nodes[n];
    if exchange.meta && node.lacks_meta() {
        // Known to lack them: no connection is opened for nothing.
        return Err(failure(node, policy, no_meta(), false));
    }
    let (mut conn, reused) = checkout(node, policy, exchange.resend)?;
    if exchange.meta {
        if let Err(e) = meta_check(node, policy, &mut conn) {
            return finish(node, policy, conn, Err(e));
        }
    }
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
    conn: Box<Connection>,
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
    requests: impl Iterator<Item = (usize, Pipeline<'r>)>,
    mut read: impl FnMut(usize, &mut Connection, Deadline) -> Result<T>,
) -> Vec<std::result::Result<T, Failure>> {
    let sent: Vec<(usize, Pipeline, Sent)> = requests
        .map(|(n, request)| {
            let node = &topology.nodes[n];
            let sent = match checkout(node, policy, resend) {
                Err(f) => Sent::Failed(f),
                Ok((mut conn, reused)) => match conn.send_pipeline(&request, policy.deadline) {
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
    request: Pipeline,
    read: impl FnMut(&mut Connection, Deadline) -> Result<T>,
) -> std::result::Result<T, Failure> {
    topology.nodes[n].close_all();
    let exchange = Exchange {
        send: Connection::send_pipeline,
        request: &request,
        // No second resend: the pool is empty, the connection new.
        resend: Resend::Never,
        // Known by now (the pipeline went out once).
        meta: false,
    };
    round_trip(topology, n, policy, &exchange, read)
}

/// Did the server answer (with an error of its own), so that it is alive?
fn answered(e: &Error) -> bool {
    !matches!(e.kind(), Kind::Timeout | Kind::Io | Kind::Protocol)
}

/// The requests of a pipeline to one server, in two parts: all but the
/// last command, and the last command. Over TLS the last command begins a
/// record of its own, so that memcached before 1.6.39 does not stop short
/// of it ([`crate::net::Connection::send_pipeline`]).
type Pipeline<'r> = [&'r [u8]; 2];

/// A request after the first phase of [`Client::fan_out`].
enum Sent {
    /// Written; the reply is to be read from this connection (reused or not).
    Waiting(Box<Connection>, bool),
    /// Written to a pooled connection the server had closed meanwhile: to
    /// be sent again on a new one.
    Stale,
    /// Could not be sent.
    Failed(Failure),
}

/// How a request is written: [`Connection::send`] for one request,
/// [`Connection::send_pipeline`] for many at once.
type SendFn = fn(&mut Connection, &[&[u8]], Deadline) -> Result<()>;

impl Exchange<'_> {
    /// Writes the request and reads its reply, by `deadline`.
    fn run<T>(
        &self,
        conn: &mut Connection,
        deadline: Deadline,
        read: &mut impl FnMut(&mut Connection, Deadline) -> Result<T>,
    ) -> Result<T> {
        (self.send)(conn, self.request, deadline)?;
        read(conn, deadline)
    }
}
