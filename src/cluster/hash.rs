//! The hashes of the two distributions, exactly other clients' (pure).

use crate::md5;
use crate::server::{Address, Server, DEFAULT_PORT};

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
pub(super) fn crc32(data: &[u8]) -> u32 {
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
    pub(super) fn rem(&self, n: u64) -> u64 {
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
    pub(super) fn text(&self) -> String {
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
