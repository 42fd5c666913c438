//! A handle's settings: timeouts, key prefix, default TTL, distribution,
//! failure policy, and how its local daemons are started.

use std::ffi::OsString;
use std::time::Duration;

use super::codec::Packing;
use crate::cluster::Distribution;
use crate::net::{Credentials, TlsOptions};

/// The longest retry interval a setting takes: a day. A server left alone
/// longer is better removed from the list.
pub const MAX_RETRY_SECONDS: f64 = 86_400.0;

/// The highest socket permission mask (`rwxrwxrwx`).
pub const MAX_SOCKET_MODE: u32 = 0o777;

/// The largest compression threshold: memcached's largest item, 1 GiB.
pub const MAX_COMPRESS_MIN: usize = 1 << 30;

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
    /// The login for servers started with an auth file (`-Y`), sent first
    /// on every new connection (pooled, reconnected, a forked child's).
    /// Default none.
    pub auth: Option<Credentials>,
    /// TLS to servers started with `-Z`: on or off, the CA, the client
    /// certificate, the name to verify. Default off.
    pub tls: TlsOptions,
    /// What the flags mean: [`ValueFormat::Raw`] (the default for Rust
    /// and C) leaves them to the caller; [`ValueFormat::Python`] (Tcl's)
    /// reads flag 8 as zlib compression, as python-memcached, pylibmc and
    /// pymemcache write it; [`ValueFormat::Php`] reads and writes PHP
    /// Memcached's flags.
    pub value_format: ValueFormat,
    /// With [`ValueFormat::Python`] or [`ValueFormat::Php`]: store values
    /// of at least this many bytes zlib-compressed, as python-memcached's
    /// `min_compress_len` does (flag 8) or PHP's compression does (flags
    /// 16 and 32, the length first), when that makes them smaller (not
    /// appended or prepended data). Default `None`: never.
    pub compress_min: Option<usize>,
    /// Keys of any bytes: a key the classic commands cannot carry (a
    /// space, a control character, up to [`crate::key::MAX_BINARY_LEN`]
    /// bytes) goes base64 over the meta commands (memcached 1.6), where
    /// every other key goes as it is. Default off: such a key is a
    /// `BadKey` error, as clients of the classic protocol cannot name it.
    pub binary_keys: bool,
}

/// The convention of a handle's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueFormat {
    /// Flags are the caller's: stored and returned exactly, nothing
    /// decoded or compressed.
    #[default]
    Raw,
    /// python-memcached's: a value with flag 8 is zlib data, decompressed
    /// on every read (its flags returned without the 8; one that expands
    /// past 128 MiB is an error), and values over the compression
    /// threshold are stored compressed. Text is flagged 16.
    Python,
    /// PHP Memcached's: the low 4 bits are the PHP type (0 string, 1
    /// integer, 2 float, 3 boolean, 4 serialized, 5 igbinary, 6 JSON, 7
    /// msgpack); 16 is compressed, with 32 zlib (read and written) or 64
    /// fastlz (refused on read: no well-kept crate), the data after a
    /// 4-byte length; PHP's own flags are above bit 16. Text is a PHP
    /// string (type 0), and strings, numbers and booleans read as text.
    Php,
}

impl ValueFormat {
    /// The format called `name` (`raw`, `python`, `php`).
    pub fn from_name(name: &str) -> Option<ValueFormat> {
        match name {
            "raw" => Some(ValueFormat::Raw),
            "python" => Some(ValueFormat::Python),
            "php" => Some(ValueFormat::Php),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ValueFormat::Raw => "raw",
            ValueFormat::Python => "python",
            ValueFormat::Php => "php",
        }
    }

    /// The flag bits a binding that tells text from bytes (Tcl, Python)
    /// adds to a text value's flags: 16 (python), none (php: a PHP string
    /// is type 0; raw).
    pub fn text_flag(self) -> u32 {
        match self {
            ValueFormat::Python => TEXT_FLAG,
            ValueFormat::Raw | ValueFormat::Php => 0,
        }
    }

    /// Whether data stored with `flags` (compression bits removed) is text
    /// to such a binding, when it is valid UTF-8: flagged 16 (python: other
    /// flags are the caller's, python-memcached's int (2) and long (4)
    /// among them, whose data reads as the bytes of its digits); a PHP
    /// string, integer, float or boolean (php); never (raw).
    pub fn is_text(self, flags: u32) -> bool {
        match self {
            ValueFormat::Python => flags & TEXT_FLAG != 0,
            ValueFormat::Php => flags & 0xf <= 3,
            ValueFormat::Raw => false,
        }
    }
}

/// The text flag of python-memcached, pymemcache and this library's Tcl
/// and Python bindings.
pub const TEXT_FLAG: u32 = 16;

impl Options {
    /// How values are compressed, by the value format.
    pub(crate) fn packing(&self) -> Packing {
        match self.value_format {
            ValueFormat::Raw => Packing::None,
            ValueFormat::Python => Packing::Python,
            ValueFormat::Php => Packing::Php,
        }
    }

    /// The compression threshold in force: none in the raw format.
    pub(crate) fn compression(&self) -> Option<usize> {
        self.compress_min
            .filter(|_| self.packing() != Packing::None)
    }
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
            auth: None,
            tls: TlsOptions::default(),
            value_format: ValueFormat::Raw,
            compress_min: None,
            binary_keys: false,
        }
    }
}

/// How daemons are started. Part of a handle's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonOptions {
    /// The memcached binary: a path, or a name looked up on `PATH`. The
    /// default is `$MEMCACHED` if set, else `memcached`.
    pub binary: OsString,
    /// Item memory in megabytes (`-m`). Default 64, memcached's own.
    pub memory_mb: u32,
    /// Permission mask of a socket file (`-a`, octal). Default 0700: only
    /// the owner can connect, so other users of the host cannot read or
    /// change the cache.
    pub socket_mode: u32,
    /// More arguments for memcached, appended as given.
    pub args: Vec<String>,
    /// How long to wait for a started daemon to answer. Default 5 s.
    pub start_timeout: Duration,
    /// Start a daemon for a socket-file server nothing answers on when the
    /// handle is created. Default on; off for a handle made only to stop a
    /// daemon (or to see whether one runs), which must not start one.
    pub autostart: bool,
    /// Keep the items across a stop and a start: the daemon keeps them in
    /// a memory file (memcached's restartable cache, `-e`) beside its
    /// socket (`<socket>.mem`, the size of `memory_mb`, owner-only), and
    /// `stop` shuts it down gracefully (SIGUSR1) so that the next start
    /// finds every item again, with its flags and remaining lifetime.
    /// Default off: a stopped daemon's items are gone, as seed 000 says.
    pub persist: bool,
}

impl Default for DaemonOptions {
    fn default() -> DaemonOptions {
        DaemonOptions {
            binary: std::env::var_os("MEMCACHED").unwrap_or_else(|| "memcached".into()),
            memory_mb: 64,
            socket_mode: 0o700,
            args: Vec::new(),
            start_timeout: Duration::from_secs(5),
            autostart: true,
            persist: false,
        }
    }
}
