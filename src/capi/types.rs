//! The types of the C ABI: result codes (one table gives their names),
//! hits, entries, statistics, daemon settings, distributions.

use std::ffi::{c_char, c_void, CStr};

use crate::error::Kind;
use crate::key;

/// The result of every `mc_` function. The numbers are stable: new results
/// are only ever added at the end.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mc_result {
    /// Success.
    MC_OK = 0,
    /// The key has no item.
    MC_NOTFOUND = 1,
    /// Not stored: add on an existing key; replace, append or prepend on a
    /// missing one.
    MC_NOTSTORED = 2,
    /// cas on an item changed since its CAS value was read.
    MC_EXISTS = 3,
    /// The key is empty, longer than 250 bytes, or has whitespace or control
    /// characters. Nothing was sent.
    MC_BADKEY = 4,
    /// The value is larger than the server's item size limit.
    MC_TOOLARGE = 5,
    /// incr or decr on a value that is not a decimal number.
    MC_NOTNUMERIC = 6,
    /// No connection or no reply within the timeout.
    MC_TIMEOUT = 7,
    /// A socket error: refused, reset, closed.
    MC_IO = 8,
    /// The server answered SERVER_ERROR.
    MC_SERVER = 9,
    /// The server answered CLIENT_ERROR or ERROR (a bare ERROR; one with
    /// memcached's words, "ERROR Too many open connections", is `MC_IO`).
    MC_CLIENT = 10,
    /// The server's reply could not be understood, or does not answer the
    /// request (a value for a key not asked, a value where none was asked,
    /// a size over memcached's 1 GiB limit). The connection is dropped.
    MC_PROTOCOL = 11,
    /// No such handle, or it was deleted.
    MC_BADHANDLE = 12,
    /// A bad argument: a null pointer, a malformed server, an unresolvable
    /// host, a buffer too small.
    MC_INVALID = 13,
    /// A local memcached daemon could not be started or stopped.
    MC_DAEMON = 14,
    /// A bug in this library was caught (a Rust panic); the message says where.
    MC_PANIC = 15,
    /// An update whose item other writers kept changing, or a lock still
    /// held by another when the wait ran out (`mc_update`, `mc_lock`).
    MC_CONFLICT = 16,
    /// The server requires a login (`mc_set_auth`), and it was refused or
    /// none was set.
    MC_AUTH = 17,
}

impl From<Kind> for mc_result {
    fn from(kind: Kind) -> mc_result {
        match kind {
            Kind::NotFound => mc_result::MC_NOTFOUND,
            Kind::NotStored => mc_result::MC_NOTSTORED,
            Kind::Exists => mc_result::MC_EXISTS,
            Kind::BadKey => mc_result::MC_BADKEY,
            Kind::TooLarge => mc_result::MC_TOOLARGE,
            Kind::NotNumeric => mc_result::MC_NOTNUMERIC,
            Kind::Timeout => mc_result::MC_TIMEOUT,
            Kind::Io => mc_result::MC_IO,
            Kind::Server => mc_result::MC_SERVER,
            Kind::Client => mc_result::MC_CLIENT,
            Kind::Protocol => mc_result::MC_PROTOCOL,
            Kind::BadHandle => mc_result::MC_BADHANDLE,
            Kind::Invalid => mc_result::MC_INVALID,
            Kind::Daemon => mc_result::MC_DAEMON,
            Kind::Panic => mc_result::MC_PANIC,
            Kind::Conflict => mc_result::MC_CONFLICT,
            Kind::Auth => mc_result::MC_AUTH,
        }
    }
}

/// One hit of `mc_get_multi`. The key and value are NUL-terminated (the
/// value may also contain NULs: use `value_len`).
#[repr(C)]
pub struct mc_hit {
    pub key: *const c_char,
    pub value: *const u8,
    pub value_len: usize,
    pub flags: u32,
    pub cas: u64,
}

/// One item for `mc_set_multi`.
#[repr(C)]
pub struct mc_entry {
    pub key: *const c_char,
    pub value: *const c_void,
    pub value_len: usize,
    pub flags: u32,
}

/// One statistic of `mc_stats`: which server (its index, as in
/// `mc_server_name`), the statistic's name and value.
#[repr(C)]
pub struct mc_stat {
    pub server: usize,
    pub name: *const c_char,
    pub value: *const c_char,
}

/// The size of the buffer `mc_unique_key` fills: 32 hex digits and a NUL.
pub const MC_UNIQUE_KEY_SIZE: usize = 33;

const _: () = assert!(MC_UNIQUE_KEY_SIZE == key::UNIQUE_LEN + 1);

/// How local memcached daemons are started for a handle (by `mc_create_with`
/// for socket files, and by `mc_start`). Zero or NULL fields take the
/// defaults.
#[repr(C)]
pub struct mc_daemon_options {
    /// The memcached binary, a path or a name on PATH. Default: the
    /// MEMCACHED environment variable, else "memcached".
    pub binary: *const c_char,
    /// Item memory in megabytes (memcached -m). Default 64.
    pub memory_mb: u32,
    /// Permission bits of a socket file (memcached -a). Default 0700: only
    /// this user can connect.
    pub socket_mode: u32,
    /// More arguments for memcached: `arg_count` strings.
    pub args: *const *const c_char,
    pub arg_count: usize,
    /// How long to wait for a started daemon to answer. Default 5000.
    pub start_timeout_ms: u32,
    /// Nonzero: `mc_create_with` starts no daemon (for a handle made only
    /// to stop one, or to see whether one runs). Default 0: a socket-file
    /// server nothing answers on gets a daemon.
    pub no_autostart: u32,
    /// Nonzero: the daemons keep their items across `mc_stop` and
    /// `mc_start` in a memory file beside the socket (`<socket>.mem`, of
    /// `memory_mb`, owner-only; memcached's restartable cache), and
    /// `mc_stop` shuts them down gracefully. Default 0: a stopped daemon's
    /// items are gone.
    pub persist: u32,
}

/// The TTL that `mc_store` (and `mc_set`, `mc_add`, `mc_replace`) reads as
/// the handle's default TTL (the `ttl`
/// setting of `mc_configure`). As a TTL it would end past 2038, which
/// memcached cannot keep, so it takes nothing away.
pub const MC_TTL_DEFAULT: u32 = u32::MAX;

/// The storage command of `mc_store`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mc_verb {
    /// Store, replacing any item.
    MC_VERB_SET = 0,
    /// Store only if the key has no item.
    MC_VERB_ADD = 1,
    /// Store only if the key has an item.
    MC_VERB_REPLACE = 2,
    /// Add the value at the end of the item's data.
    MC_VERB_APPEND = 3,
    /// Add the value at the start of the item's data.
    MC_VERB_PREPEND = 4,
    /// Store only if the item's CAS value is still the one given.
    MC_VERB_CAS = 5,
    /// Append, or store a new item when there is none (the Tcl and Python
    /// `append`): safe when several clients do it at once.
    MC_VERB_APPEND_OR_ADD = 6,
}

/// How a handle spreads keys over its servers (`mc_set_distribution`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mc_distribution {
    /// Consistent hashing exactly as libmemcached's KETAMA_WEIGHTED (PHP's
    /// Memcached with OPT_LIBKETAMA_COMPATIBLE, pylibmc's ketama_weighted):
    /// adding a server moves few keys. The default.
    MC_DISTRIBUTION_KETAMA = 0,
    /// python-memcached's: crc32 of the key modulo the weighted server
    /// list. The same server for every key as python-memcached with the
    /// same server list and weights.
    MC_DISTRIBUTION_MODULA = 1,
}

/// What a handle's flags mean (`mc_set_value_format`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mc_value_format {
    /// Flags are the caller's: stored and returned exactly, nothing
    /// decoded or compressed. The default.
    MC_VALUES_RAW = 0,
    /// python-memcached's convention (also pylibmc's and pymemcache's, and
    /// the Tcl binding's): a value with flag 8 is zlib data, decompressed on
    /// every read and returned with its flags without the 8; with
    /// `mc_set_compress`, long values are stored compressed.
    MC_VALUES_PYTHON = 1,
    /// PHP Memcached's convention: a value with flag 16 is compressed (32:
    /// zlib, read and written; 64: fastlz, `MC_PROTOCOL` on read), its data
    /// after a 4-byte length; it is decompressed on every read and returned
    /// with its flags without 16, 32 and 64; with `mc_set_compress`, long
    /// values are stored compressed with flags 16 and 32. The low 4 bits
    /// (PHP's type: 0 string, 1 integer, 2 float, 3 boolean, 4 serialized)
    /// and the bits above 16 (PHP's own flags) are the caller's.
    MC_VALUES_PHP = 2,
}

/// Every result with its name, in number order: the one list besides the
/// enum itself (a unit test checks that they agree). A new result is added
/// to both.
const RESULTS: [(mc_result, &CStr); 18] = {
    use mc_result::*;
    macro_rules! named {
        ($($result:ident),* $(,)?) => {
            [$(($result, match CStr::from_bytes_with_nul(concat!(stringify!($result), "\0").as_bytes()) {
                Ok(name) => name,
                Err(_) => panic!("a result name has a NUL"),
            })),*]
        };
    }
    named!(
        MC_OK,
        MC_NOTFOUND,
        MC_NOTSTORED,
        MC_EXISTS,
        MC_BADKEY,
        MC_TOOLARGE,
        MC_NOTNUMERIC,
        MC_TIMEOUT,
        MC_IO,
        MC_SERVER,
        MC_CLIENT,
        MC_PROTOCOL,
        MC_BADHANDLE,
        MC_INVALID,
        MC_DAEMON,
        MC_PANIC,
        MC_CONFLICT,
        MC_AUTH,
    )
};

/// The name of a result code, such as "MC_NOTFOUND"; "MC_UNKNOWN" for a
/// number that is no result (from a newer library, or garbage). A static
/// string.
#[no_mangle]
pub extern "C" fn mc_result_name(result: u32) -> *const c_char {
    // A C caller can pass any number (in C, `mc_result` is a `uint32_t`),
    // and an enum with an undefined value is undefined behaviour in Rust:
    // the number is looked up, never cast.
    RESULTS
        .iter()
        .find(|(r, _)| *r as u32 == result)
        .map_or(c"MC_UNKNOWN", |(_, name)| name)
        .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_table_has_every_result_in_number_order() {
        for (n, (result, name)) in RESULTS.iter().enumerate() {
            assert_eq!(*result as usize, n);
            assert_eq!(name.to_str().unwrap(), format!("{result:?}"));
        }
        // The last one is the highest: nothing after it.
        assert_eq!(RESULTS.len(), mc_result::MC_AUTH as usize + 1);
    }
}
