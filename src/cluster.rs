//! The servers of a handle: which one a key goes to, which ones are marked
//! dead, and each one's pool of idle connections.
//!
//! Two distributions, chosen per handle, each exactly another client's so
//! that programs in other languages sharing the pool find the same keys:
//!
//! - [`Distribution::Ketama`] (the default): consistent hashing as
//!   libmemcached's `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED` (PHP's Memcached
//!   with `OPT_LIBKETAMA_COMPATIBLE`, pylibmc's `ketama_weighted`). Each
//!   server owns `floor(weight / total * 40 * servers) * 4` points on a
//!   32-bit circle, 4 from each MD5 digest of `"host-N"` (port 11211),
//!   `"host:port-N"` (other ports) or `"path:0-N"` (Unix sockets); a key
//!   goes to the first point at or after the little-endian u32 of its MD5
//!   digest. Adding a fourth server to three moves about a quarter of the
//!   keys.
//! - [`Distribution::Modula`]: python-memcached's. Each server appears
//!   `weight` times in a bucket list, in order; a key goes to bucket
//!   `((crc32(key) >> 16) & 0x7fff) % buckets`. Adding a server moves most
//!   keys.
//!
//! With failover on, a key whose server is dead goes where those clients
//! send it: ketama, the server of the next point owned by a live server;
//! modula, python-memcached's rehash (`hash(str(h) + str(i))`, 10 tries).
//!
//! [`Placement`] is pure (built once per server list, no I/O); [`Node`]
//! holds a server's connections and dead mark.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::error::{Error, Kind, Result};
use crate::fork::lock;
use crate::md5;
use crate::net::Connection;
use crate::server::{Address, Server, DEFAULT_PORT};

/// Idle connections kept per server; more are closed when returned. Enough
/// for as many threads as a machine has cores to share one handle.
const MAX_IDLE: usize = 64;

/// How many servers python-memcached tries for one key (its
/// `_SERVER_RETRIES`) before it gives up.
pub const MODULA_TRIES: usize = 10;

/// Ketama points per server at equal weights: libmemcached's
/// `MEMCACHED_POINTS_PER_SERVER_KETAMA`.
const KETAMA_POINTS: f32 = 160.0;

// ---------------------------------------------------------------------------
// Distributions and hashes (pure)
// ---------------------------------------------------------------------------

/// How keys are spread over the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Distribution {
    /// libmemcached's weighted ketama consistent hashing.
    #[default]
    Ketama,
    /// python-memcached's crc32 modulo the weighted bucket list.
    Modula,
}

impl Distribution {
    /// The word used in the Tcl options and the documentation.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Ketama => "ketama",
            Distribution::Modula => "modula",
        }
    }

    /// The distribution called `name`.
    pub fn from_name(name: &str) -> Option<Distribution> {
        match name {
            "ketama" => Some(Distribution::Ketama),
            "modula" => Some(Distribution::Modula),
            _ => None,
        }
    }
}

/// python-memcached's server hash (`cmemcache_hash`): 15 bits of the CRC-32.
pub fn modula_hash(key: &[u8]) -> u32 {
    (crc32(key) >> 16) & 0x7fff
}

/// The bucket of `key` among `count` servers of weight 1, as
/// python-memcached computes it.
pub fn bucket(key: &[u8], count: usize) -> usize {
    modula_hash(key) as usize % count
}

/// libmemcached's MD5 key hash: the little-endian u32 of digest bytes 0..4.
pub fn ketama_hash(key: &[u8]) -> u32 {
    let d = md5::digest(key);
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

/// The text whose MD5 digests give `server`'s ketama points, without the
/// `-N` suffix: the host as given (`host`, or `host:port` when the port is
/// not 11211), or `path:0` for a Unix socket (libmemcached gives sockets
/// port 0).
pub fn ketama_name(server: &Server) -> String {
    match &server.address {
        Address::Tcp { host, port, .. } if *port == DEFAULT_PORT => host.clone(),
        Address::Tcp { host, port, .. } => format!("{host}:{port}"),
        Address::Unix(_) => format!("{}:0", server.name),
    }
}

/// CRC-32 (IEEE 802.3, as zlib's `crc32`), bitwise over a 256-entry table.
fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// A Python integer given as a placement value in modula mode
/// (python-memcached's `(hashvalue, key)`): any size, kept as its
/// canonical decimal text (what Python's `str()` gives) for the rehash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyInt {
    negative: bool,
    /// Decimal digits without leading zeros ("0" for zero).
    digits: String,
}

impl PyInt {
    /// `text` if it is a decimal integer (`-?[0-9]+`), canonicalized.
    pub fn parse(text: &[u8]) -> Option<PyInt> {
        let (negative, digits) = match text.strip_prefix(b"-") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let first = digits.iter().position(|&d| d != b'0');
        let digits = match first {
            None => "0".to_string(),
            Some(at) => String::from_utf8_lossy(&digits[at..]).into_owned(),
        };
        Some(PyInt {
            negative: negative && digits != "0",
            digits,
        })
    }

    /// Python's `self % n` (never negative), for n > 0.
    fn rem(&self, n: u64) -> u64 {
        let n128 = u128::from(n);
        let m = self
            .digits
            .bytes()
            .fold(0u128, |m, d| (m * 10 + u128::from(d - b'0')) % n128) as u64;
        if self.negative && m != 0 {
            n - m
        } else {
            m
        }
    }

    /// Python's `str(self)`.
    fn text(&self) -> String {
        if self.negative {
            format!("-{}", self.digits)
        } else {
            self.digits.clone()
        }
    }
}

/// Where a key or placement value points, before any server is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hash {
    /// A point on the ketama circle.
    Ketama(u32),
    /// python-memcached's server hash of a key.
    Modula(u32),
    /// A placement value that is an integer, in modula mode: used as
    /// python-memcached uses the hash value of a `(hashvalue, key)` tuple.
    Given(PyInt),
}

/// Which server each key goes to, for one server list and distribution.
/// Built once when the servers or the distribution change.
#[derive(Debug, Clone)]
pub struct Placement {
    distribution: Distribution,
    count: usize,
    /// Ketama: (point, server index), sorted by point then index.
    continuum: Vec<(u32, u32)>,
    /// Modula: cumulative weights; bucket b is server
    /// `cumulative.partition_point(|&c| c <= b)`.
    cumulative: Vec<u64>,
}

impl Placement {
    /// The placement of `servers` (ketama name from [`ketama_name`], weight)
    /// in that order.
    pub fn new(distribution: Distribution, servers: &[(String, u32)]) -> Placement {
        let mut cumulative = Vec::with_capacity(servers.len());
        let mut total = 0u64;
        for (_, weight) in servers {
            total += u64::from((*weight).max(1));
            cumulative.push(total);
        }
        let continuum = match distribution {
            Distribution::Ketama if servers.len() > 1 => continuum(servers, total),
            _ => Vec::new(),
        };
        Placement {
            distribution,
            count: servers.len(),
            continuum,
            cumulative,
        }
    }

    /// The placement of parsed servers.
    pub fn of_servers(distribution: Distribution, servers: &[Server]) -> Placement {
        let named: Vec<(String, u32)> =
            servers.iter().map(|s| (ketama_name(s), s.weight)).collect();
        Placement::new(distribution, &named)
    }

    pub fn distribution(&self) -> Distribution {
        self.distribution
    }

    /// The number of servers.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The ketama continuum: (point, server index), sorted. Empty in
    /// modula mode and for a single server.
    pub fn points(&self) -> &[(u32, u32)] {
        &self.continuum
    }

    /// The hash of a key (as sent, key prefix included).
    pub fn hash_key(&self, key: &[u8]) -> Hash {
        if self.count <= 1 {
            // libmemcached skips hashing for one server; any hash picks it.
            return Hash::Modula(0);
        }
        match self.distribution {
            Distribution::Ketama => Hash::Ketama(ketama_hash(key)),
            Distribution::Modula => Hash::Modula(modula_hash(key)),
        }
    }

    /// The hash of a placement value given apart from the key (libmemcached's
    /// `group_key` of the `_by_key` calls, python-memcached's `hashvalue`).
    /// Ketama: hashed like a key. Modula: a decimal integer is used as
    /// python-memcached uses an integer hash value; other text is hashed
    /// like a key.
    pub fn hash_place(&self, place: &[u8]) -> Hash {
        if self.count > 1 && self.distribution == Distribution::Modula {
            if let Some(n) = PyInt::parse(place) {
                return Hash::Given(n);
            }
        }
        self.hash_key(place)
    }

    /// The server `hash` belongs to, dead or not.
    pub fn home(&self, hash: &Hash) -> usize {
        if self.count <= 1 {
            return 0;
        }
        match hash {
            Hash::Ketama(h) => self.continuum[self.point_at(*h)].1 as usize,
            Hash::Modula(h) => self.bucket_server(u64::from(*h) % self.total()),
            Hash::Given(n) => self.bucket_server(n.rem(self.total())),
        }
    }

    /// The servers to try for `hash`, in order, the first being its home:
    /// ketama, each server in the order of its first point at or after the
    /// hash (every server once); modula, python-memcached's 10 tries (the
    /// home, then a server per rehash; a server can come more than once).
    pub fn candidates(&self, hash: &Hash) -> Vec<usize> {
        if self.count <= 1 {
            return vec![0; self.count];
        }
        match hash {
            Hash::Ketama(h) => {
                let start = self.point_at(*h);
                let mut seen = vec![false; self.count];
                let mut order = Vec::with_capacity(self.count);
                let points = self.continuum.len();
                for k in 0..points {
                    let server = self.continuum[(start + k) % points].1 as usize;
                    if !seen[server] {
                        seen[server] = true;
                        order.push(server);
                        if order.len() == self.count {
                            break;
                        }
                    }
                }
                order
            }
            Hash::Modula(_) | Hash::Given(_) => {
                // python-memcached's _get_server: try buckets[h % n]; on a
                // dead server, h = hash(str(h) + str(i)).
                let total = self.total();
                let (first, mut text) = match hash {
                    Hash::Given(n) => (n.rem(total), n.text()),
                    Hash::Modula(h) => (u64::from(*h) % total, h.to_string()),
                    Hash::Ketama(_) => unreachable!("matched above"),
                };
                let mut order = Vec::with_capacity(MODULA_TRIES);
                order.push(self.bucket_server(first));
                for i in 0..MODULA_TRIES - 1 {
                    let next = modula_hash(format!("{text}{i}").as_bytes());
                    order.push(self.bucket_server(u64::from(next) % total));
                    text = next.to_string();
                }
                order
            }
        }
    }

    /// Chooses the server for `hash`. `admit(n)` says whether server `n`
    /// may be used now (not dead), or why not. Without failover that is
    /// the home server or its error; with failover the first admitted of
    /// [`Placement::candidates`], else the home server's error.
    pub fn route(
        &self,
        hash: &Hash,
        failover: bool,
        mut admit: impl FnMut(usize) -> Result<()>,
    ) -> Result<usize> {
        let home = self.home(hash);
        let refused = match admit(home) {
            Ok(()) => return Ok(home),
            Err(e) => e,
        };
        if failover {
            for n in self.candidates(hash).into_iter().skip(1) {
                if admit(n).is_ok() {
                    return Ok(n);
                }
            }
        }
        Err(refused)
    }

    fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(1)
    }

    fn bucket_server(&self, bucket: u64) -> usize {
        self.cumulative.partition_point(|&c| c <= bucket)
    }

    /// The index of the first point >= `h`, wrapping to 0 (libmemcached's
    /// `dispatch_host`).
    fn point_at(&self, h: u32) -> usize {
        let at = self.continuum.partition_point(|&(point, _)| point < h);
        if at == self.continuum.len() {
            0
        } else {
            at
        }
    }
}

/// libmemcached 1.1.4's `update_continuum` for weighted ketama, every
/// server live: its float arithmetic (`f32`) included, so the point counts
/// are the same to the last one.
fn continuum(servers: &[(String, u32)], total: u64) -> Vec<(u32, u32)> {
    let live = servers.len() as f32;
    let mut points = Vec::new();
    for (index, (name, weight)) in servers.iter().enumerate() {
        let pct = (*weight).max(1) as f32 / total as f32;
        let per_server =
            ((pct * KETAMA_POINTS / 4.0 * live + 0.000_000_000_1_f32).floor() as u32) * 4;
        for n in 0..per_server / 4 {
            let digest = md5::digest(format!("{name}-{n}").as_bytes());
            for quarter in digest.chunks_exact(4) {
                let point = u32::from_le_bytes([quarter[0], quarter[1], quarter[2], quarter[3]]);
                points.push((point, index as u32));
            }
        }
    }
    points.sort_unstable();
    points
}

// ---------------------------------------------------------------------------
// Servers at run time: connections and dead marks
// ---------------------------------------------------------------------------

/// The instant the dead-mark clock counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `at` as a dead-mark value: nanoseconds after [`epoch`], plus one so
/// that 0 can mean "alive".
fn stamp(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch()).as_nanos())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

/// "29 s", or "300 ms" under a second.
fn show_wait(left: Duration) -> String {
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
    idle: Mutex<Vec<Connection>>,
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
}

impl Node {
    pub fn new(server: Server) -> Node {
        Node {
            server,
            idle: Mutex::new(Vec::new()),
            dead_until: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            dead_reason: Mutex::new(String::new()),
            clock_base: AtomicU64::new(0),
            clock_read: AtomicU64::new(0),
        }
    }

    /// The locks of this node, taken in the library's lock order (see
    /// [`crate::fork`]).
    pub fn lock_all(&self) -> (MutexGuard<'_, Vec<Connection>>, MutexGuard<'_, String>) {
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
    pub fn checkout(
        &self,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<(Connection, bool)> {
        loop {
            let conn = lock(&self.idle).pop();
            match conn {
                Some(conn) if conn.is_inherited() => {
                    self.close_all();
                    drop(conn);
                }
                Some(conn) => return Ok((conn, true)),
                None => break,
            }
        }
        let conn = Connection::open(&self.server.address, connect_timeout, io_timeout)?;
        Ok((conn, false))
    }

    /// Returns a connection that finished its operation cleanly; one with
    /// unread bytes is closed instead.
    pub fn checkin(&self, conn: Connection) {
        if !conn.is_drained() {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Closes every idle connection: after one failed, or after a fork, the
    /// others are suspect too.
    pub fn close_all(&self) {
        let stale = std::mem::take(&mut *lock(&self.idle));
        drop(stale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(distribution: Distribution, servers: &[(&str, u32)]) -> Placement {
        let named: Vec<(String, u32)> = servers.iter().map(|(n, w)| (n.to_string(), *w)).collect();
        Placement::new(distribution, &named)
    }

    #[test]
    fn crc32_matches_zlib() {
        // zlib.crc32 values, checked with Python's binascii.crc32.
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b"foo"), 0x8c73_6521);
    }

    #[test]
    fn buckets_match_python_memcached() {
        // python-memcached: serverhash = ((crc32(key) & 0xffffffff) >> 16) & 0x7fff
        assert_eq!(modula_hash(b"foo"), 0x0c73);
        assert_eq!(bucket(b"foo", 3), 0x0c73 % 3);
        assert_eq!(bucket(b"anything", 1), 0);
    }

    #[test]
    fn ketama_hash_is_md5_le() {
        // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8
        assert_eq!(ketama_hash(b"foo"), 0xdb18_bdac);
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(ketama_hash(b""), 0xd98c_1dd4);
    }

    #[test]
    fn ketama_point_counts_follow_libmemcacheds_float_rule() {
        let count = |weights: &[u32]| {
            let names: Vec<(String, u32)> = weights
                .iter()
                .enumerate()
                .map(|(i, w)| (format!("10.0.0.{i}"), *w))
                .collect();
            let p = Placement::new(Distribution::Ketama, &names);
            (0..weights.len())
                .map(|i| p.points().iter().filter(|(_, s)| *s as usize == i).count())
                .collect::<Vec<_>>()
        };
        assert_eq!(count(&[1, 1, 1]), vec![160, 160, 160]);
        assert_eq!(count(&[1, 1]), vec![160, 160]);
        // 1/6 * 160 / 4 * 3 = 20 -> 80; 2/6 -> 160; 3/6 -> 240.
        assert_eq!(count(&[1, 2, 3]), vec![80, 160, 240]);
        // 1/7 * 40 * 3 = 17.14 -> 68; 2/7 -> 34.28 -> 136; 4/7 -> 68.57 -> 272.
        assert_eq!(count(&[1, 2, 4]), vec![68, 136, 272]);
        assert_eq!(count(&[1, 1, 1, 1]), vec![160, 160, 160, 160]);
    }

    #[test]
    fn ketama_names_follow_libmemcached() {
        let tcp = crate::server::parse("127.0.0.1:11211*3").unwrap();
        assert_eq!(ketama_name(&tcp), "127.0.0.1");
        let tcp = crate::server::parse("localhost:22122").unwrap();
        assert_eq!(ketama_name(&tcp), "localhost:22122");
        let v6 = crate::server::parse("[::1]:5").unwrap();
        assert_eq!(ketama_name(&v6), "::1:5");
        let unix = crate::server::parse("/tmp/mc.sock").unwrap();
        assert_eq!(ketama_name(&unix), "/tmp/mc.sock:0");
    }

    #[test]
    fn ketama_lookup_takes_the_first_point_at_or_after_the_hash() {
        let p = placement(Distribution::Ketama, &[("a", 1), ("b", 1)]);
        let points = p.points().to_vec();
        assert_eq!(points.len(), 320);
        assert!(points.windows(2).all(|w| w[0] <= w[1]));
        for &(point, server) in &points[..20] {
            assert_eq!(p.home(&Hash::Ketama(point)), server as usize);
        }
        let (first, owner) = points[0];
        assert_eq!(
            p.home(&Hash::Ketama(first.saturating_sub(1))),
            owner as usize
        );
        // Past the last point: wraps to the first.
        let (last, _) = points[points.len() - 1];
        if last < u32::MAX {
            assert_eq!(p.home(&Hash::Ketama(last + 1)), owner as usize);
        }
        assert_eq!(p.home(&Hash::Ketama(0)), owner as usize);
    }

    #[test]
    fn modula_buckets_repeat_each_server_weight_times() {
        let p = placement(Distribution::Modula, &[("a", 1), ("b", 3), ("c", 2)]);
        // Buckets: a b b b c c.
        let want = [0, 1, 1, 1, 2, 2];
        for h in 0..60u32 {
            assert_eq!(p.home(&Hash::Modula(h)), want[h as usize % 6], "{h}");
        }
    }

    #[test]
    fn modula_rehash_is_python_memcacheds() {
        // The servers python-memcached 1.62's Client._get_server tries, in
        // order, when every server is dead (recorded from its connect()
        // calls), for a key or a (hashvalue, key) tuple and the weights.
        type Case = (
            &'static [u32],
            Option<&'static [u8]>,
            &'static [u8],
            [usize; 10],
        );
        let cases: [Case; 5] = [
            (&[1, 1, 1], None, b"foo", [1, 1, 0, 0, 0, 0, 2, 2, 2, 1]),
            (
                &[1, 1, 1],
                Some(b"42"),
                b"foo",
                [0, 2, 1, 0, 2, 1, 1, 1, 2, 0],
            ),
            (
                &[1, 3, 2],
                Some(b"-7"),
                b"foo",
                [2, 1, 1, 1, 1, 1, 2, 2, 1, 1],
            ),
            (
                &[1, 3, 2],
                None,
                b"some-key",
                [1, 1, 1, 0, 1, 0, 1, 1, 2, 1],
            ),
            (
                &[2, 1, 1, 5],
                Some(b"123456789012345678901234567890"),
                b"k",
                [0, 0, 3, 1, 3, 3, 3, 3, 2, 3],
            ),
        ];
        for (weights, place, key, want) in cases {
            let names: Vec<(String, u32)> = weights
                .iter()
                .enumerate()
                .map(|(i, w)| (format!("s{i}"), *w))
                .collect();
            let p = Placement::new(Distribution::Modula, &names);
            let h = match place {
                Some(place) => p.hash_place(place),
                None => p.hash_key(key),
            };
            assert_eq!(p.candidates(&h), want, "{weights:?} {place:?} {key:?}");
            assert_eq!(p.home(&h), want[0]);
        }
    }

    #[test]
    fn placement_values() {
        let m = placement(Distribution::Modula, &[("a", 1), ("b", 1), ("c", 1)]);
        assert_eq!(
            m.hash_place(b"42"),
            Hash::Given(PyInt::parse(b"42").unwrap())
        );
        assert_eq!(m.home(&m.hash_place(b"42")), 0);
        assert_eq!(m.home(&m.hash_place(b"43")), 1);
        assert_eq!(m.home(&m.hash_place(b"-1")), 2, "Python: -1 % 3 == 2");
        assert_eq!(m.home(&m.hash_place(b"0005")), 2);
        // Python: 123456789012345678901234567890123456789012 % 3 == 0
        // (more digits than a u128 holds).
        assert_eq!(
            m.home(&m.hash_place(b"123456789012345678901234567890123456789012")),
            0
        );
        assert_eq!(
            m.home(&m.hash_place(b"123456789012345678901234567890123456789013")),
            1
        );
        // Not an integer: hashed like a key.
        assert_eq!(m.hash_place(b"user42"), m.hash_key(b"user42"));
        assert_eq!(m.hash_place(b"+5"), m.hash_key(b"+5"));
        assert_eq!(m.hash_place(b"-"), m.hash_key(b"-"));
        let k = placement(Distribution::Ketama, &[("a", 1), ("b", 1)]);
        assert_eq!(k.hash_place(b"42"), Hash::Ketama(ketama_hash(b"42")));
        // Python's str() of the given integer feeds the rehash.
        let c = m.candidates(&m.hash_place(b"-007"));
        assert_eq!(c[0], 2);
        assert_eq!(c[1], (modula_hash(b"-70") % 3) as usize);
        assert_eq!(c.len(), MODULA_TRIES);
    }

    #[test]
    fn single_server_needs_no_hash() {
        for d in [Distribution::Ketama, Distribution::Modula] {
            let p = placement(d, &[("only", 5)]);
            assert_eq!(p.home(&p.hash_key(b"anything")), 0);
            assert_eq!(p.home(&p.hash_place(b"77")), 0);
            assert_eq!(p.candidates(&p.hash_key(b"x")), vec![0]);
        }
    }

    #[test]
    fn ketama_candidates_walk_the_circle() {
        let p = placement(
            Distribution::Ketama,
            &[("a", 1), ("b", 1), ("c", 1), ("d", 1)],
        );
        for key in [&b"k1"[..], b"k2", b"k3", b"another"] {
            let h = p.hash_key(key);
            let c = p.candidates(&h);
            assert_eq!(c.len(), 4);
            assert_eq!(c[0], p.home(&h));
            let mut sorted = c.clone();
            sorted.sort();
            assert_eq!(sorted, vec![0, 1, 2, 3]);
            // The second is the owner of the next point not the home's.
            let points = p.points();
            let start = points.partition_point(|&(pt, _)| pt < ketama_hash(key)) % points.len();
            let next = (0..points.len())
                .map(|k| points[(start + k) % points.len()].1 as usize)
                .find(|&s| s != c[0])
                .unwrap();
            assert_eq!(c[1], next);
        }
    }

    #[test]
    fn route_fails_over_only_when_asked() {
        let p = placement(Distribution::Ketama, &[("a", 1), ("b", 1), ("c", 1)]);
        let h = p.hash_key(b"some key");
        let home = p.home(&h);
        let dead = |n: usize| {
            if n == home {
                Err(Error::new(Kind::Io, format!("{n} is dead")))
            } else {
                Ok(())
            }
        };
        assert_eq!(
            p.route(&h, false, dead).unwrap_err().message(),
            format!("{home} is dead")
        );
        assert_eq!(p.route(&h, true, dead), Ok(p.candidates(&h)[1]));
        let all_dead = |n: usize| Err(Error::new(Kind::Io, format!("{n} is dead")));
        assert_eq!(
            p.route(&h, true, all_dead).unwrap_err().message(),
            format!("{home} is dead")
        );
        assert_eq!(p.route(&h, true, |_| Ok(())), Ok(home));
    }

    #[test]
    fn dead_marks_fail_fast_then_admit_one_probe() {
        let node = Node::new(crate::server::parse("127.0.0.1:1").unwrap());
        let interval = Duration::from_millis(200);
        assert_eq!(node.admit(interval), Ok(()));
        assert_eq!(node.dead_for(), None);
        node.mark_dead(&Error::new(Kind::Io, "cannot connect: refused"), interval);
        let e = node.admit(interval).unwrap_err();
        assert_eq!(e.kind(), Kind::Io);
        assert!(
            e.message().starts_with(
                "127.0.0.1:1: marked dead after \"cannot connect: refused\", retried in "
            ),
            "{}",
            e.message()
        );
        assert!(e.message().ends_with(" ms"), "{}", e.message());
        std::thread::sleep(interval + Duration::from_millis(20));
        // One caller gets to probe; the next still fails fast.
        assert_eq!(node.admit(interval), Ok(()));
        assert!(node.admit(interval).is_err());
        node.mark_alive();
        assert_eq!(node.admit(interval), Ok(()));
        assert_eq!(node.dead_for(), None);
        // A zero interval marks nothing.
        node.mark_dead(&Error::new(Kind::Io, "x"), Duration::ZERO);
        assert_eq!(node.dead_for(), None);
    }

    #[test]
    fn waits_are_shown_in_whole_units_rounded_up() {
        assert_eq!(show_wait(Duration::from_millis(29_001)), "30 s");
        assert_eq!(show_wait(Duration::from_secs(29)), "29 s");
        assert_eq!(show_wait(Duration::from_millis(1000)), "1 s");
        assert_eq!(show_wait(Duration::from_millis(999)), "999 ms");
        assert_eq!(show_wait(Duration::ZERO), "1 ms");
    }
}
