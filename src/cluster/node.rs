//! A server at run time: its idle connections, its dead mark (when and why
//! it failed, when it is tried again) and its clock.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::error::{Error, Kind, Result};
use crate::fork::lock;
use crate::net::{nanos, Connection, Dial};
use crate::server::Server;

/// Not asked yet.
const META_UNKNOWN: u8 = 0;
/// Answered a meta command.
const META_HAS: u8 = 1;
/// Answered `ERROR` to one, or closed the connection and then answered a
/// classic command.
const META_LACKS: u8 = 2;

/// Idle connections kept per server; more are closed when returned. Enough
/// for as many threads as a machine has cores to share one handle.
const MAX_IDLE: usize = 64;

/// The instant the dead-mark clock counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `at` as a dead-mark value: nanoseconds after [`epoch`], plus one so
/// that 0 can mean "alive".
fn stamp(at: Instant) -> u64 {
    nanos(at.saturating_duration_since(epoch())).saturating_add(1)
}

/// "29 s", or "300 ms" under a second.
pub(super) fn show_wait(left: Duration) -> String {
    if left >= Duration::from_secs(1) {
        format!("{} s", left.as_millis().div_ceil(1000))
    } else {
        format!("{} ms", left.as_millis().max(1))
    }
}

/// The first dead mark of a server lasts this long (or the retry interval,
/// if shorter); each further failure in a row doubles it, up to the retry
/// interval. A server that was down for a moment is used again a second
/// after it answers; one that stays down costs a timeout per interval.
const FIRST_DEAD_MARK: Duration = Duration::from_secs(1);

/// How long a server's clock, once learned, is trusted before it is asked
/// again (a restarted memcached takes the host's clock anew).
const CLOCK_TRUSTED: Duration = Duration::from_secs(600);

/// One server and its idle connections.
pub struct Node {
    pub server: Server,
    /// Boxed: a connection moves from the pool to the caller and back on
    /// every request, and a pointer moves cheaper than the whole struct
    /// (measured: 150 instructions a get, `make bench`'s callgrind count).
    #[allow(clippy::vec_box)]
    idle: Mutex<Vec<Box<Connection>>>,
    /// The idle connection returned last, kept outside the lock (null:
    /// none): a thread making one request after another takes it and
    /// gives it back with one atomic operation each, not a lock and a Vec
    /// (measured: 80 instructions a request, `make bench`'s callgrind
    /// count). Owned by the node (a `Box` turned into a pointer).
    hot: AtomicPtr<Connection>,
    /// 0 when alive; else when the server may be tried again (see [`stamp`]).
    dead_until: AtomicU64,
    /// The failures in a row that marked it dead (the mark's length).
    failures: AtomicU32,
    /// The failure that marked it dead, without the server's name.
    dead_reason: Mutex<String>,
    /// The server's clock: its Unix time in nanoseconds minus the
    /// [`stamp`] of the moment it was read (0: not known yet).
    clock_base: AtomicU64,
    /// The [`stamp`] of the moment the clock was read.
    clock_read: AtomicU64,
    /// What is known of the server's meta commands: [`META_UNKNOWN`],
    /// [`META_HAS`] or [`META_LACKS`] (memcached before 1.6, or a proxy:
    /// questions go to it as classic commands, binary keys fail).
    meta: AtomicU8,
}

impl Node {
    pub fn new(server: Server) -> Node {
        Node {
            server,
            idle: Mutex::new(Vec::new()),
            hot: AtomicPtr::new(ptr::null_mut()),
            dead_until: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            dead_reason: Mutex::new(String::new()),
            clock_base: AtomicU64::new(0),
            clock_read: AtomicU64::new(0),
            meta: AtomicU8::new(META_UNKNOWN),
        }
    }

    /// The locks of this node, taken in the library's lock order (see
    /// `crate::fork`).
    #[allow(clippy::vec_box)]
    pub fn lock_all(&self) -> (MutexGuard<'_, Vec<Box<Connection>>>, MutexGuard<'_, String>) {
        (lock(&self.idle), lock(&self.dead_reason))
    }

    /// May a request go to this server now? Yes if it is not marked dead,
    /// or if its mark has run out: then this caller's request is the one
    /// probe of the server (the mark is moved on meanwhile, so concurrent
    /// requests still fail fast). Otherwise the error says which server,
    /// why, and when it is tried again.
    pub fn admit(&self, interval: Duration) -> Result<()> {
        let until = self.dead_until.load(Ordering::Acquire);
        if until == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let now_stamp = stamp(now);
        if now_stamp >= until || interval.is_zero() {
            let next = stamp(now + interval.min(FIRST_DEAD_MARK).max(Duration::from_millis(1)));
            if self
                .dead_until
                .compare_exchange(until, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(());
            }
        }
        let until = self.dead_until.load(Ordering::Acquire);
        if until == 0 {
            return Ok(());
        }
        let left = Duration::from_nanos(until.saturating_sub(now_stamp));
        Err(Error::new(
            Kind::Io,
            format!(
                "{}: marked dead after \"{}\", retried in {}",
                self.server,
                lock(&self.dead_reason),
                show_wait(left)
            ),
        ))
    }

    /// Marks the server dead after `why` (an error without the server's
    /// name): for one second the first time, twice as long after each
    /// further failure in a row, never longer than `interval`. A zero
    /// interval marks nothing.
    pub fn mark_dead(&self, why: &Error, interval: Duration) {
        if interval.is_zero() {
            return;
        }
        let failures = self.failures.fetch_add(1, Ordering::AcqRel).min(16);
        let length = FIRST_DEAD_MARK.saturating_mul(1 << failures).min(interval);
        *lock(&self.dead_reason) = why.message().to_string();
        self.dead_until
            .store(stamp(Instant::now() + length), Ordering::Release);
    }

    /// Whether the server was found to have no meta commands.
    pub fn lacks_meta(&self) -> bool {
        self.meta.load(Ordering::Relaxed) == META_LACKS
    }

    /// Whether the server was found to have the meta commands.
    pub fn has_meta(&self) -> bool {
        self.meta.load(Ordering::Relaxed) == META_HAS
    }

    /// Remembers whether the server has the meta commands.
    pub fn mark_meta(&self, has: bool) {
        let known = if has { META_HAS } else { META_LACKS };
        self.meta.store(known, Ordering::Relaxed);
    }

    /// The server answered: it is alive.
    pub fn mark_alive(&self) {
        if self.dead_until.load(Ordering::Relaxed) != 0 {
            self.dead_until.store(0, Ordering::Release);
        }
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Release);
        }
    }

    /// The server's Unix time now, as far as it is known: a lower bound of
    /// its own clock, so a lifetime counted from it never ends later than
    /// asked. memcached's clock ticks once a second, up to a second behind
    /// the time it reports when read, hence one second less. `None` when
    /// the clock was never read, or too long ago.
    pub fn server_time(&self) -> Option<u64> {
        let base = self.clock_base.load(Ordering::Acquire);
        let read = self.clock_read.load(Ordering::Acquire);
        let now = stamp(Instant::now());
        if base == 0 || now.saturating_sub(read) > CLOCK_TRUSTED.as_nanos() as u64 {
            return None;
        }
        let nanos = base.checked_add(now)?;
        Some((nanos / 1_000_000_000).saturating_sub(1))
    }

    /// Records the server's clock: `unix_time` (its `time` stat) was its
    /// time at `read` or before.
    pub fn learn_time(&self, unix_time: u64, read: Instant) {
        let at = stamp(read);
        let base = unix_time
            .saturating_mul(1_000_000_000)
            .saturating_sub(at)
            .max(1);
        self.clock_base.store(base, Ordering::Release);
        self.clock_read.store(at, Ordering::Release);
    }

    /// How long until a server marked dead is tried again (zero when that
    /// time has come), or `None` if it is not marked dead.
    pub fn dead_for(&self) -> Option<Duration> {
        match self.dead_until.load(Ordering::Acquire) {
            0 => None,
            until => Some(Duration::from_nanos(
                until.saturating_sub(stamp(Instant::now())),
            )),
        }
    }

    /// An idle connection, or a new one. The flag says whether it was used
    /// before (and so may have been closed by the server meanwhile).
    /// Connections inherited through `fork()` are closed, never used. The
    /// error of a failed connect is without the server's name.
    pub fn checkout(&self, dial: &Dial<'_>) -> Result<(Box<Connection>, bool)> {
        loop {
            let conn = self.take_hot().or_else(|| lock(&self.idle).pop());
            match conn {
                Some(conn) if conn.is_inherited() => {
                    self.close_all();
                    drop(conn);
                }
                Some(conn) => return Ok((conn, true)),
                None => break,
            }
        }
        let conn = Connection::open(&self.server.address, dial)?;
        Ok((Box::new(conn), false))
    }

    /// Returns a connection that finished its operation cleanly; one with
    /// unread bytes is closed instead.
    pub fn checkin(&self, conn: Box<Connection>) {
        if !conn.is_drained() {
            return;
        }
        let raw = Box::into_raw(conn);
        if self
            .hot
            .compare_exchange(ptr::null_mut(), raw, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        // SAFETY: `raw` came from `Box::into_raw` just above and was not
        // stored: the box is still ours.
        let conn = unsafe { Box::from_raw(raw) };
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Closes every idle connection: after one failed, or after a fork, the
    /// others are suspect too.
    pub fn close_all(&self) {
        drop(self.take_hot());
        let stale = std::mem::take(&mut *lock(&self.idle));
        drop(stale);
    }

    /// The connection in [`Node::hot`], if any, now the caller's.
    fn take_hot(&self) -> Option<Box<Connection>> {
        let raw = self.hot.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: a non-null pointer in `hot` came from `Box::into_raw` in
        // `checkin`, and the swap made this caller its only owner.
        (!raw.is_null()).then(|| unsafe { Box::from_raw(raw) })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        drop(self.take_hot());
    }
}
