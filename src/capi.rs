//! The C ABI: `#include <memcache.h>`, link with `-lmemcache`.
//!
//! Conventions, the same for every function:
//!
//! - Every function returns an `mc_result`; `MC_OK` is 0. A miss
//!   (`MC_NOTFOUND`), a refused store (`MC_NOTSTORED`) and a CAS conflict
//!   (`MC_EXISTS`) are results, not failures, and like every other result but
//!   `MC_OK` they leave a message for `mc_last_error()`.
//! - Handles are numbers from the process-wide registry, shared with Tcl
//!   (handle 3 is Tcl's `memcache3`). A deleted or unknown handle gives
//!   `MC_BADHANDLE`, never undefined behaviour. Any thread may use any handle
//!   at the same time as others.
//! - Keys are NUL-terminated strings of 1 to 250 bytes without whitespace or
//!   control characters; values are byte buffers with a length.
//! - TTLs are relative seconds; 0 means no expiry; more than 30 days works.
//! - Output parameters are written only when the call returns `MC_OK`.
//! - Memory the library returns (values, hit and stat arrays, strings) is one
//!   block per call, released with `mc_free()`.
//! - No Rust panic crosses this boundary: one becomes `MC_PANIC`.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use crate::client::ValueBuf;
use crate::client::{Client, Options, Placed, Status};
use crate::cluster::Distribution;
use crate::error::{Error, Kind, Result};
use crate::key;
use crate::protocol::StoreVerb;
use crate::{daemon, registry};

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

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with`, not `with`: in a thread's exit (a TLS destructor calling
    // into the library) the slot may be gone, and `with` would panic outside
    // any guard, across the C boundary.
    let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = text);
}

/// Runs `body` inside the panic boundary and turns its outcome into a result
/// code, recording the message of anything but success.
fn guard(body: impl FnOnce() -> Result<mc_result>) -> mc_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(code)) => {
            if code != mc_result::MC_OK {
                set_last_error(match code {
                    mc_result::MC_NOTFOUND => "not found",
                    mc_result::MC_NOTSTORED => "not stored",
                    mc_result::MC_EXISTS => "exists: the item changed since its CAS value was read",
                    _ => "failed",
                });
            }
            code
        }
        Ok(Err(e)) => {
            set_last_error(e.message());
            e.kind().into()
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            set_last_error(&format!("internal error (please report): {what}"));
            mc_result::MC_PANIC
        }
    }
}

fn null(name: &str) -> Error {
    Error::new(Kind::Invalid, format!("{name} is a null pointer"))
}

/// Reads a NUL-terminated string argument.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string.
unsafe fn text<'a>(p: *const c_char, name: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(null(name));
    }
    Ok(CStr::from_ptr(p).to_bytes())
}

/// Reads a byte buffer argument; a null pointer is allowed for length 0.
///
/// # Safety
/// `p` points to `len` readable bytes, or `len` is 0.
unsafe fn bytes<'a>(p: *const c_void, len: usize, name: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null(name));
    }
    Ok(std::slice::from_raw_parts(p.cast(), len))
}

/// Reads an optional placement value: null means none (each key by its
/// own hash).
///
/// # Safety
/// `p` is null or points to a NUL-terminated string.
unsafe fn place_arg<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_bytes())
    }
}

/// Writes `value` through an output pointer that may be null (not wanted).
///
/// # Safety
/// `p` is null or valid for a write of `T`.
unsafe fn put<T>(p: *mut T, value: T) {
    if !p.is_null() {
        p.write(value);
    }
}

fn client(handle: u64) -> Result<Arc<Client>> {
    registry::get(handle)
}

/// Changes a handle's settings with `change`, under the handle's lock.
fn configure(handle: u64, change: impl FnOnce(&mut Options)) -> Result<mc_result> {
    client(handle)?.update_options(|options| {
        change(options);
        Ok::<(), Error>(())
    })?;
    Ok(mc_result::MC_OK)
}

/// Allocates `size` bytes with `malloc` so that `mc_free` (`free`) releases it.
fn alloc(size: usize) -> Result<*mut u8> {
    // SAFETY: malloc has no preconditions; a null result is handled.
    let p = unsafe { libc::malloc(size.max(1)) }.cast::<u8>();
    if p.is_null() {
        Err(Error::new(
            Kind::Invalid,
            format!("out of memory allocating {size} bytes"),
        ))
    } else {
        Ok(p)
    }
}

/// A `malloc`ed, NUL-terminated copy of `data`.
fn malloc_copy(data: &[u8]) -> Result<*mut u8> {
    let p = alloc(data.len() + 1)?;
    // SAFETY: `p` has room for data.len() + 1 bytes.
    unsafe {
        ptr::copy_nonoverlapping(data.as_ptr(), p, data.len());
        *p.add(data.len()) = 0;
    }
    Ok(p)
}

/// The result whose number is `code`, if there is one. A new result is
/// added here too (the C test checks every number has its name).
fn result_from_code(code: u32) -> Option<mc_result> {
    use mc_result::*;
    [
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
    ]
    .into_iter()
    .find(|r| *r as u32 == code)
}

fn status(s: Status) -> mc_result {
    match s {
        Status::Stored => mc_result::MC_OK,
        Status::NotStored => mc_result::MC_NOTSTORED,
        Status::Exists => mc_result::MC_EXISTS,
        Status::NotFound => mc_result::MC_NOTFOUND,
    }
}

fn found(yes: bool) -> mc_result {
    if yes {
        mc_result::MC_OK
    } else {
        mc_result::MC_NOTFOUND
    }
}

/// The message of the last call on this thread that did not return
/// `MC_OK`, with the server's name and its own words where there were any.
/// Valid until the next `mc_` call on this thread; never null.
#[no_mangle]
pub extern "C" fn mc_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|last| last.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// The name of a result code, such as "MC_NOTFOUND"; "MC_UNKNOWN" for a
/// number that is no result (from a newer library, or garbage). A static
/// string.
#[no_mangle]
pub extern "C" fn mc_result_name(result: u32) -> *const c_char {
    // A C caller can pass any number (in C, `mc_result` is a `uint32_t`),
    // and an enum with an undefined value is undefined behaviour in Rust:
    // take the number and look it up.
    let Some(result) = result_from_code(result) else {
        return c"MC_UNKNOWN".as_ptr();
    };
    let name: &'static CStr = match result {
        mc_result::MC_OK => c"MC_OK",
        mc_result::MC_NOTFOUND => c"MC_NOTFOUND",
        mc_result::MC_NOTSTORED => c"MC_NOTSTORED",
        mc_result::MC_EXISTS => c"MC_EXISTS",
        mc_result::MC_BADKEY => c"MC_BADKEY",
        mc_result::MC_TOOLARGE => c"MC_TOOLARGE",
        mc_result::MC_NOTNUMERIC => c"MC_NOTNUMERIC",
        mc_result::MC_TIMEOUT => c"MC_TIMEOUT",
        mc_result::MC_IO => c"MC_IO",
        mc_result::MC_SERVER => c"MC_SERVER",
        mc_result::MC_CLIENT => c"MC_CLIENT",
        mc_result::MC_PROTOCOL => c"MC_PROTOCOL",
        mc_result::MC_BADHANDLE => c"MC_BADHANDLE",
        mc_result::MC_INVALID => c"MC_INVALID",
        mc_result::MC_DAEMON => c"MC_DAEMON",
        mc_result::MC_PANIC => c"MC_PANIC",
    };
    name.as_ptr()
}

/// Releases memory returned by this library (values, arrays, strings).
/// A null pointer is ignored.
///
/// # Safety
/// `p` is null or a pointer this library returned and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mc_free(p: *mut c_void) {
    libc::free(p);
}

// ----- handles -----

/// Creates a handle for `count` servers: "host", "host:port" (11211 by
/// default), "[v6addr]:port", or a Unix socket path (a name that contains
/// "/", starts with ".", or is marked with "|" or "=" at either end). Any
/// of them may end with "*N", the server's weight from 1 to 10000 (default
/// 1): "cache1:11211*3" gets three times the keys of a server of weight 1.
/// Keys are spread by ketama (see `mc_set_distribution`). Hosts
/// must resolve now; servers need not be up yet. A socket file that nothing
/// answers on gets a memcached daemon started behind it (and waited for):
/// `MC_DAEMON` with the reason if that fails. Same as `mc_create_with` with
/// default daemon settings.
///
/// # Safety
/// `servers` points to `count` NUL-terminated strings; `handle` is valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_create(
    servers: *const *const c_char,
    count: usize,
    handle: *mut u64,
) -> mc_result {
    mc_create_with(servers, count, ptr::null(), handle)
}

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
}

/// As `mc_create`, with daemon settings (`daemon` may be NULL: defaults).
///
/// # Safety
/// As `mc_create`; `daemon` is NULL or points to settings whose strings are
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mc_create_with(
    servers: *const *const c_char,
    count: usize,
    daemon: *const mc_daemon_options,
    handle: *mut u64,
) -> mc_result {
    guard(|| {
        if servers.is_null() {
            return Err(null("servers"));
        }
        if handle.is_null() {
            return Err(null("handle"));
        }
        let utf8 = |p: *const c_char, what: &str| {
            std::str::from_utf8(text(p, what)?)
                .map(str::to_owned)
                .map_err(|_| Error::new(Kind::Invalid, format!("{what} is not UTF-8")))
        };
        let specs = (0..count)
            .map(|i| utf8(*servers.add(i), "a server name"))
            .collect::<Result<Vec<_>>>()?;
        let mut options = Options::default();
        if let Some(d) = daemon.as_ref() {
            let o = &mut options.daemon;
            if !d.binary.is_null() {
                o.binary = utf8(d.binary, "the daemon binary")?.into();
            }
            if d.memory_mb > 0 {
                o.memory_mb = d.memory_mb;
            }
            if d.socket_mode > 0 {
                o.socket_mode = d.socket_mode;
            }
            if d.args.is_null() && d.arg_count > 0 {
                return Err(null("args"));
            }
            o.args = (0..d.arg_count)
                .map(|i| utf8(*d.args.add(i), "a daemon argument"))
                .collect::<Result<Vec<_>>>()?;
            if d.start_timeout_ms > 0 {
                o.start_timeout = Duration::from_millis(d.start_timeout_ms.into());
            }
            o.autostart = d.no_autostart == 0;
        }
        let id = registry::create(&specs, options)?;
        handle.write(id);
        Ok(mc_result::MC_OK)
    })
}

/// Deletes a handle and closes its connections (operations in flight on
/// other threads finish first). The items it stored stay on the servers.
#[no_mangle]
pub extern "C" fn mc_delete(handle: u64) -> mc_result {
    guard(|| registry::remove(handle).map(|()| mc_result::MC_OK))
}

/// Deletes every handle of the process, Tcl's included; `*count` is how many.
///
/// # Safety
/// `count` is null or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_delete_all(count: *mut usize) -> mc_result {
    guard(|| {
        put(count, registry::clear());
        Ok(mc_result::MC_OK)
    })
}

/// Lists the live handles, oldest first: writes up to `capacity` of them to
/// `handles` and their total number to `*count` (call with capacity 0 to
/// learn the size).
///
/// # Safety
/// `handles` has room for `capacity` values (or is null when capacity is 0);
/// `count` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_handles(
    handles: *mut u64,
    capacity: usize,
    count: *mut usize,
) -> mc_result {
    guard(|| {
        if count.is_null() {
            return Err(null("count"));
        }
        if handles.is_null() && capacity > 0 {
            return Err(null("handles"));
        }
        let ids = registry::ids();
        for (i, id) in ids.iter().take(capacity).enumerate() {
            handles.add(i).write(*id);
        }
        count.write(ids.len());
        Ok(mc_result::MC_OK)
    })
}

/// The handle called `name` ("memcache3", as Tcl names it).
///
/// # Safety
/// `name` is a NUL-terminated string; `handle` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_find(name: *const c_char, handle: *mut u64) -> mc_result {
    guard(|| {
        let name = text(name, "name")?;
        if handle.is_null() {
            return Err(null("handle"));
        }
        let id = registry::parse_name(&String::from_utf8_lossy(name))?;
        registry::get(id)?;
        handle.write(id);
        Ok(mc_result::MC_OK)
    })
}

/// The number of servers of a handle.
///
/// # Safety
/// `count` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_server_count(handle: u64, count: *mut usize) -> mc_result {
    guard(|| {
        if count.is_null() {
            return Err(null("count"));
        }
        count.write(client(handle)?.servers().count());
        Ok(mc_result::MC_OK)
    })
}

/// The name of server `index` of a handle ("host:port" or the socket path),
/// in a new string to release with `mc_free`.
///
/// # Safety
/// `name` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_server_name(
    handle: u64,
    index: usize,
    name: *mut *mut c_char,
) -> mc_result {
    guard(|| {
        if name.is_null() {
            return Err(null("name"));
        }
        let client = client(handle)?;
        name.write(malloc_copy(client.server(index)?.name.as_bytes())?.cast());
        Ok(mc_result::MC_OK)
    })
}

/// Sets a handle's timeouts in milliseconds (defaults: connect 2000, I/O
/// 3000): how long to wait for a connection, and for each reply.
#[no_mangle]
pub extern "C" fn mc_set_timeouts(handle: u64, connect_ms: u32, io_ms: u32) -> mc_result {
    guard(|| {
        configure(handle, |options| {
            options.connect_timeout = Duration::from_millis(connect_ms.into());
            options.io_timeout = Duration::from_millis(io_ms.into());
        })
    })
}

/// Sets a prefix put in front of every key of this handle and taken off
/// the keys `mc_get_multi` returns ("" for none): a namespace.
///
/// # Safety
/// `prefix` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mc_set_key_prefix(handle: u64, prefix: *const c_char) -> mc_result {
    guard(|| {
        let prefix = text(prefix, "prefix")?;
        configure(handle, |options| options.key_prefix = prefix.to_vec())
    })
}

/// Writes a new random key (32 hex digits and a NUL) into `buffer`, which
/// holds `size` bytes, at least `MC_UNIQUE_KEY_SIZE`.
///
/// # Safety
/// `buffer` has room for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn mc_unique_key(buffer: *mut c_char, size: usize) -> mc_result {
    guard(|| {
        if buffer.is_null() {
            return Err(null("buffer"));
        }
        if size < MC_UNIQUE_KEY_SIZE {
            return Err(Error::new(
                Kind::Invalid,
                format!(
                    "buffer of {size} bytes is too small for a unique key ({MC_UNIQUE_KEY_SIZE})"
                ),
            ));
        }
        let key = key::unique()?;
        ptr::copy_nonoverlapping(key.as_ptr(), buffer.cast::<u8>(), key.len());
        *buffer.add(key.len()) = 0;
        Ok(mc_result::MC_OK)
    })
}

// ----- storage -----

/// # Safety
/// `place` is null or a NUL-terminated string; `key` is a NUL-terminated
/// string; `value` has `len` readable bytes.
#[allow(clippy::too_many_arguments)]
unsafe fn store(
    handle: u64,
    place: *const c_char,
    verb: StoreVerb,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
) -> mc_result {
    guard(|| {
        let place = place_arg(place);
        let key = text(key, "key")?;
        let value = bytes(value, len, "value")?;
        let client = client(handle)?;
        Ok(status(
            client.at(place).store(verb, key, value, flags, ttl)?,
        ))
    })
}

/// Stores a value under a key, replacing any item.
///
/// `ttl` (here and in every call that takes one) is relative seconds, 0 for
/// no expiry. memcached reads more than 30 days as a Unix time, so a longer
/// TTL is sent as the server's own time (its `time` statistic) plus `ttl`:
/// the item never lives longer than asked, at most 2 s less. memcached
/// keeps times up to 2038-01-19 03:14:07 UTC: a TTL that ends later is
/// `MC_INVALID` with the limit in `mc_last_error`, never an item that is
/// already gone.
///
/// # Safety
/// `key` is a NUL-terminated string; `value` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mc_set(
    handle: u64,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
) -> mc_result {
    store(
        handle,
        ptr::null(),
        StoreVerb::Set,
        key,
        value,
        len,
        flags,
        ttl,
    )
}

/// Stores only if the key has no item; `MC_NOTSTORED` otherwise.
///
/// # Safety
/// As `mc_set`.
#[no_mangle]
pub unsafe extern "C" fn mc_add(
    handle: u64,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
) -> mc_result {
    store(
        handle,
        ptr::null(),
        StoreVerb::Add,
        key,
        value,
        len,
        flags,
        ttl,
    )
}

/// Stores only if the key has an item; `MC_NOTSTORED` otherwise.
///
/// # Safety
/// As `mc_set`.
#[no_mangle]
pub unsafe extern "C" fn mc_replace(
    handle: u64,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
) -> mc_result {
    store(
        handle,
        ptr::null(),
        StoreVerb::Replace,
        key,
        value,
        len,
        flags,
        ttl,
    )
}

/// Appends to an existing item (its flags and TTL stay); `MC_NOTSTORED`
/// if there is none.
///
/// # Safety
/// As `mc_set`.
#[no_mangle]
pub unsafe extern "C" fn mc_append(
    handle: u64,
    key: *const c_char,
    value: *const c_void,
    len: usize,
) -> mc_result {
    store(
        handle,
        ptr::null(),
        StoreVerb::Append,
        key,
        value,
        len,
        0,
        0,
    )
}

/// Prepends to an existing item; `MC_NOTSTORED` if there is none.
///
/// # Safety
/// As `mc_set`.
#[no_mangle]
pub unsafe extern "C" fn mc_prepend(
    handle: u64,
    key: *const c_char,
    value: *const c_void,
    len: usize,
) -> mc_result {
    store(
        handle,
        ptr::null(),
        StoreVerb::Prepend,
        key,
        value,
        len,
        0,
        0,
    )
}

/// Stores only if the item's CAS value is still `cas` (from `mc_get`):
/// `MC_EXISTS` if it changed since, `MC_NOTFOUND` if it is gone.
///
/// # Safety
/// As `mc_set`.
#[no_mangle]
pub unsafe extern "C" fn mc_cas(
    handle: u64,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
    cas: u64,
) -> mc_result {
    store(
        handle,
        ptr::null(),
        StoreVerb::Cas(cas),
        key,
        value,
        len,
        flags,
        ttl,
    )
}

/// Stores `count` items, pipelined (one write per server). `statuses`, if
/// not null, receives each item's result: `MC_OK`, `MC_NOTSTORED`, or the
/// server's error for that item alone (`MC_TOOLARGE`, `MC_SERVER`), which
/// does not stop the others. The call returns `MC_OK` when all were stored;
/// else the first item's error with its message if an item had one; else
/// `MC_NOTSTORED`. A bad key fails the whole call before anything is sent.
///
/// # Safety
/// `entries` points to `count` entries; `statuses` is null or has room for
/// `count` results.
#[no_mangle]
pub unsafe extern "C" fn mc_set_multi(
    handle: u64,
    entries: *const mc_entry,
    count: usize,
    ttl: u32,
    statuses: *mut mc_result,
) -> mc_result {
    set_multi(handle, ptr::null(), entries, count, ttl, statuses)
}

/// The body of `mc_set_multi` and `mc_set_multi_by_key`.
///
/// # Safety
/// As `mc_set_multi`; `place` is null or a NUL-terminated string.
unsafe fn set_multi(
    handle: u64,
    place: *const c_char,
    entries: *const mc_entry,
    count: usize,
    ttl: u32,
    statuses: *mut mc_result,
) -> mc_result {
    guard(|| {
        let place = place_arg(place);
        if entries.is_null() && count > 0 {
            return Err(null("entries"));
        }
        let items = (0..count)
            .map(|i| {
                let e = &*entries.add(i);
                Ok((
                    text(e.key, "an entry's key")?,
                    bytes(e.value, e.value_len, "an entry's value")?,
                    e.flags,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let client = client(handle)?;
        let results = client.at(place).set_many(&items, ttl)?;
        let mut all = mc_result::MC_OK;
        let mut first_error = None;
        for (i, outcome) in results.into_iter().enumerate() {
            let code = match outcome {
                Ok(s) => status(s),
                Err(e) => {
                    let code = e.kind().into();
                    first_error.get_or_insert(e);
                    code
                }
            };
            if code != mc_result::MC_OK {
                all = mc_result::MC_NOTSTORED;
            }
            if !statuses.is_null() {
                // Not `put(statuses.wrapping_add(i), ..)`: a null pointer
                // plus i is no longer null, and would be written through.
                statuses.add(i).write(code);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(all),
        }
    })
}

// ----- retrieval -----

/// A value's memory for the caller: `malloc`ed (so `mc_free` releases it),
/// one byte longer than the value for a NUL, filled straight from the
/// socket by the client. Freed on drop unless handed out.
struct MallocBuf {
    ptr: *mut u8,
    len: usize,
}

impl MallocBuf {
    fn new(len: usize) -> Result<MallocBuf> {
        let ptr = alloc(len.checked_add(1).ok_or_else(|| {
            Error::new(
                Kind::Invalid,
                format!("a value of {len} bytes is too large"),
            )
        })?)?;
        Ok(MallocBuf { ptr, len })
    }

    /// Hands the memory to the caller, NUL-terminated.
    fn into_raw(self) -> *mut u8 {
        let ptr = self.ptr;
        // SAFETY: the block has len + 1 bytes.
        unsafe { *ptr.add(self.len) = 0 };
        std::mem::forget(self);
        ptr
    }
}

impl ValueBuf for MallocBuf {
    fn slots(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        // SAFETY: `ptr` is a live malloc block of len + 1 bytes owned by
        // self; MaybeUninit needs no initialisation.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.cast(), self.len) }
    }

    unsafe fn set_filled(&mut self) {}
}

impl Drop for MallocBuf {
    fn drop(&mut self) {
        // SAFETY: a block from `alloc` (malloc) that was not handed out.
        unsafe { libc::free(self.ptr.cast()) }
    }
}

/// A `MallocBuf` for a value, for `get_with`.
fn malloc_buf(size: usize, _flags: u32) -> Result<MallocBuf> {
    MallocBuf::new(size)
}

/// The body of `mc_get` and `mc_get_and_touch`: checks the arguments, reads
/// the item with `read` (straight into the `malloc` block handed out), and
/// hands it out.
///
/// # Safety
/// As `mc_get`.
unsafe fn fetch(
    handle: u64,
    key: *const c_char,
    value: *mut *mut c_void,
    len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
    read: impl FnOnce(&Client, &[u8]) -> Result<Option<(MallocBuf, u32, u64)>>,
) -> mc_result {
    guard(|| {
        let key = text(key, "key")?;
        if value.is_null() || len.is_null() {
            return Err(null(if value.is_null() { "value" } else { "len" }));
        }
        match read(&*client(handle)?, key)? {
            Some((buf, f, c)) => {
                len.write(buf.len);
                value.write(buf.into_raw().cast());
                put(flags, f);
                put(cas, c);
                Ok(mc_result::MC_OK)
            }
            None => Ok(mc_result::MC_NOTFOUND),
        }
    })
}

/// Reads the item under `key`: `*value` receives a new buffer of `*len`
/// bytes (plus a NUL not counted) to release with `mc_free`; `flags` and
/// `cas` may be null. `MC_NOTFOUND` on a miss.
///
/// # Safety
/// `key` is a NUL-terminated string; `value` and `len` are valid for a
/// write; `flags` and `cas` are null or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_get(
    handle: u64,
    key: *const c_char,
    value: *mut *mut c_void,
    len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
) -> mc_result {
    fetch(handle, key, value, len, flags, cas, |c, key| {
        c.get_with(key, malloc_buf)
    })
}

/// As `mc_get`, and gives the item a new TTL in the same request.
///
/// # Safety
/// As `mc_get`.
#[no_mangle]
pub unsafe extern "C" fn mc_get_and_touch(
    handle: u64,
    key: *const c_char,
    ttl: u32,
    value: *mut *mut c_void,
    len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
) -> mc_result {
    fetch(handle, key, value, len, flags, cas, |c, key| {
        c.at(None).get_and_touch_with(key, ttl, malloc_buf)
    })
}

/// Reads many keys, pipelined (one request per server). `*hits` receives
/// an array of `*count` hits (misses are left out) in one block to release
/// with one `mc_free(*hits)`.
///
/// # Safety
/// `keys` points to `count_keys` NUL-terminated strings; `hits` and `count`
/// are valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_get_multi(
    handle: u64,
    keys: *const *const c_char,
    count_keys: usize,
    hits: *mut *mut mc_hit,
    count: *mut usize,
) -> mc_result {
    get_multi(
        handle,
        ptr::null(),
        keys,
        count_keys,
        hits,
        count,
        ptr::null_mut(),
    )
}

/// The body of the `mc_get_multi` calls: strict if `failed` is null,
/// else partial (the number of failed servers goes to `*failed`).
///
/// # Safety
/// As `mc_get_multi_partial`; `place` is null or a NUL-terminated string.
unsafe fn get_multi(
    handle: u64,
    place: *const c_char,
    keys: *const *const c_char,
    count_keys: usize,
    hits: *mut *mut mc_hit,
    count: *mut usize,
    failed: *mut usize,
) -> mc_result {
    guard(|| {
        let place = place_arg(place);
        if keys.is_null() && count_keys > 0 {
            return Err(null("keys"));
        }
        if hits.is_null() || count.is_null() {
            return Err(null(if hits.is_null() { "hits" } else { "count" }));
        }
        let keys = (0..count_keys)
            .map(|i| text(*keys.add(i), "a key"))
            .collect::<Result<Vec<_>>>()?;
        let client = client(handle)?;
        let at = client.at(place);
        // The hits' keys and values (each NUL-terminated) go into one
        // buffer as they are read, then into the block handed out: no
        // allocation per hit.
        let mut found = Found::with_capacity(keys.len());
        let each = |key: &[u8], flags, cas, value: &[u8]| found.add(key, flags, cas, value);
        if failed.is_null() {
            at.get_many_with(&keys, each)?;
            return found.give(hits, count);
        }
        let errors = at.get_many_partial_with(&keys, each)?;
        found.give(hits, count)?;
        failed.write(errors.len());
        if let Some(e) = errors.first() {
            set_last_error(e.message());
        }
        Ok(mc_result::MC_OK)
    })
}

/// The hits of a multi-get as they are read: keys and values, each
/// NUL-terminated, one after the other in `strings`; for each hit, where
/// its key starts, the key's and value's lengths, its flags and CAS.
struct Found {
    strings: Vec<u8>,
    hits: Vec<(usize, usize, usize, u32, u64)>,
}

impl Found {
    fn with_capacity(keys: usize) -> Found {
        Found {
            strings: Vec::with_capacity(keys * 128),
            hits: Vec::with_capacity(keys),
        }
    }

    fn add(&mut self, key: &[u8], flags: u32, cas: u64, value: &[u8]) {
        let at = self.strings.len();
        self.strings.extend_from_slice(key);
        self.strings.push(0);
        self.strings.extend_from_slice(value);
        self.strings.push(0);
        self.hits.push((at, key.len(), value.len(), flags, cas));
    }

    /// Hands the hits out as one `malloc`ed block: the `mc_hit` array,
    /// then the keys and values.
    ///
    /// # Safety
    /// `hits` and `count` are valid for a write.
    unsafe fn give(self, hits: *mut *mut mc_hit, count: *mut usize) -> Result<mc_result> {
        let head = self.hits.len() * std::mem::size_of::<mc_hit>();
        let block = alloc(head + self.strings.len())?;
        let array = block.cast::<mc_hit>();
        let base = block.add(head);
        ptr::copy_nonoverlapping(self.strings.as_ptr(), base, self.strings.len());
        for (i, &(at, key_len, value_len, flags, cas)) in self.hits.iter().enumerate() {
            array.add(i).write(mc_hit {
                key: base.add(at).cast(),
                value: base.add(at + key_len + 1),
                value_len,
                flags,
                cas,
            });
        }
        hits.write(array);
        count.write(self.hits.len());
        Ok(mc_result::MC_OK)
    }
}

/// `MC_OK` if the key has an item, `MC_NOTFOUND` if not; the value is not
/// transferred (meta get; memcached 1.6.10 or later).
///
/// # Safety
/// `key` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mc_exists(handle: u64, key: *const c_char) -> mc_result {
    guard(|| Ok(found(client(handle)?.exists(text(key, "key")?)?)))
}

/// The seconds the item under `key` has left to live (-1: no expiry);
/// `MC_NOTFOUND` if none (meta get; memcached 1.6.10 or later).
///
/// # Safety
/// `key` is a NUL-terminated string; `ttl` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_ttl(handle: u64, key: *const c_char, ttl: *mut i64) -> mc_result {
    guard(|| {
        let key = text(key, "key")?;
        if ttl.is_null() {
            return Err(null("ttl"));
        }
        match client(handle)?.ttl(key)? {
            Some(t) => {
                ttl.write(t);
                Ok(mc_result::MC_OK)
            }
            None => Ok(mc_result::MC_NOTFOUND),
        }
    })
}

// ----- other key operations -----

/// Deletes the item under `key`; `MC_NOTFOUND` if there was none.
///
/// # Safety
/// `key` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mc_remove(handle: u64, key: *const c_char) -> mc_result {
    mc_remove_by_key(handle, ptr::null(), key)
}

/// Deletes many keys, pipelined. `statuses`, if not null, receives `MC_OK`
/// or `MC_NOTFOUND` per key; the call returns `MC_OK` if every key had an
/// item, `MC_NOTFOUND` if some had none.
///
/// # Safety
/// `keys` points to `count` NUL-terminated strings; `statuses` is null or
/// has room for `count` results.
#[no_mangle]
pub unsafe extern "C" fn mc_remove_multi(
    handle: u64,
    keys: *const *const c_char,
    count: usize,
    statuses: *mut mc_result,
) -> mc_result {
    mc_remove_multi_by_key(handle, ptr::null(), keys, count, statuses)
}

/// As `mc_remove_multi`, every key on the server `place` picks (see
/// `mc_set_by_key`).
///
/// # Safety
/// As `mc_remove_multi`; `place` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mc_remove_multi_by_key(
    handle: u64,
    place: *const c_char,
    keys: *const *const c_char,
    count: usize,
    statuses: *mut mc_result,
) -> mc_result {
    guard(|| {
        let place = place_arg(place);
        if keys.is_null() && count > 0 {
            return Err(null("keys"));
        }
        let keys = (0..count)
            .map(|i| text(*keys.add(i), "a key"))
            .collect::<Result<Vec<_>>>()?;
        let mut all = mc_result::MC_OK;
        let client = client(handle)?;
        for (i, yes) in client.at(place).delete_many(&keys)?.into_iter().enumerate() {
            if !yes {
                all = mc_result::MC_NOTFOUND;
            }
            if !statuses.is_null() {
                statuses.add(i).write(found(yes));
            }
        }
        Ok(all)
    })
}

/// Gives the item under `key` a new TTL; `MC_NOTFOUND` if there is none.
///
/// # Safety
/// `key` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mc_touch(handle: u64, key: *const c_char, ttl: u32) -> mc_result {
    mc_touch_by_key(handle, ptr::null(), key, ttl)
}

/// Adds `delta` to the decimal number stored under `key` (wrapping at
/// 2^64); `*value` receives the new number. `MC_NOTFOUND` if there is no
/// item, `MC_NOTNUMERIC` if it is not a number.
///
/// # Safety
/// `key` is a NUL-terminated string; `value` is null or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_incr(
    handle: u64,
    key: *const c_char,
    delta: u64,
    value: *mut u64,
) -> mc_result {
    mc_incr_by_key(handle, ptr::null(), key, delta, value)
}

/// Subtracts `delta` from the number under `key`, stopping at 0.
///
/// # Safety
/// As `mc_incr`.
#[no_mangle]
pub unsafe extern "C" fn mc_decr(
    handle: u64,
    key: *const c_char,
    delta: u64,
    value: *mut u64,
) -> mc_result {
    mc_decr_by_key(handle, ptr::null(), key, delta, value)
}

// ----- whole servers -----

/// Invalidates every item on every server of the handle, after `delay`
/// seconds (0: now). A delay over 30 days counts from each server's own
/// clock, as a TTL does; one that ends after 2038-01-19 03:14:07 UTC is
/// `MC_INVALID`.
#[no_mangle]
pub extern "C" fn mc_flush(handle: u64, delay: u32) -> mc_result {
    guard(|| {
        client(handle)?.flush_all((delay > 0).then_some(delay))?;
        Ok(mc_result::MC_OK)
    })
}

/// Sets the servers' verbosity level.
#[no_mangle]
pub extern "C" fn mc_verbosity(handle: u64, level: u32) -> mc_result {
    guard(|| {
        client(handle)?.verbosity(level)?;
        Ok(mc_result::MC_OK)
    })
}

/// Every server's statistics (`group`: null for the general ones, or
/// "items", "slabs", "settings", ...; a group with a control character is
/// `MC_INVALID`): `*stats` receives an array of `*count` entries, server by
/// server in server order, in one block to release with one
/// `mc_free(*stats)`.
///
/// # Safety
/// `group` is null or a NUL-terminated string; `stats` and `count` are
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_stats(
    handle: u64,
    group: *const c_char,
    stats: *mut *mut mc_stat,
    count: *mut usize,
) -> mc_result {
    guard(|| {
        if stats.is_null() || count.is_null() {
            return Err(null(if stats.is_null() { "stats" } else { "count" }));
        }
        let group = if group.is_null() {
            None
        } else {
            // A control character is refused by the protocol encoder.
            Some(String::from_utf8_lossy(text(group, "group")?).into_owned())
        };
        let per_server = client(handle)?.stats(group.as_deref())?;
        let entries: Vec<(usize, &(String, String))> = per_server
            .iter()
            .enumerate()
            .flat_map(|(server, list)| list.iter().map(move |pair| (server, pair)))
            .collect();
        let head = entries.len() * std::mem::size_of::<mc_stat>();
        let size = head
            + entries
                .iter()
                .map(|(_, (n, v))| n.len() + v.len() + 2)
                .sum::<usize>();
        let block = alloc(size)?;
        let array = block.cast::<mc_stat>();
        let mut at = block.add(head);
        for (i, (server, (name, value))) in entries.iter().enumerate() {
            let mut place = |s: &str| {
                let start = at;
                ptr::copy_nonoverlapping(s.as_ptr(), at, s.len());
                *at.add(s.len()) = 0;
                at = at.add(s.len() + 1);
                start.cast::<c_char>()
            };
            let name = place(name);
            let value = place(value);
            array.add(i).write(mc_stat {
                server: *server,
                name,
                value,
            });
        }
        stats.write(array);
        count.write(entries.len());
        Ok(mc_result::MC_OK)
    })
}

/// The version of server `index` ("1.6.18"), in a new string to release
/// with `mc_free`.
///
/// # Safety
/// `version` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_version(
    handle: u64,
    index: usize,
    version: *mut *mut c_char,
) -> mc_result {
    guard(|| {
        if version.is_null() {
            return Err(null("version"));
        }
        let v = client(handle)?.server_version(index)?;
        version.write(malloc_copy(v.as_bytes())?.cast());
        Ok(mc_result::MC_OK)
    })
}

// ----- local daemons -----

/// Reports a daemon outcome: `MC_OK` with 1 (done) or -1 (nothing needed)
/// in `*outcome`, or `MC_DAEMON` with every problem in the message.
///
/// # Safety
/// `outcome` is null or valid for a write.
unsafe fn report(done: daemon::Outcome, outcome: *mut i32) -> Result<mc_result> {
    match done {
        daemon::Outcome::Failed(problems) => Err(Error::new(Kind::Daemon, problems.join("; "))),
        other => {
            put(outcome, other.code());
            Ok(mc_result::MC_OK)
        }
    }
}

/// Starts memcached for every local server of the handle that nothing
/// answers on (socket files, and TCP ports on this host's addresses), and
/// waits until each answers. `*outcome` is 1 if daemons were started, -1 if
/// every server was already served. `MC_DAEMON` if any could not be started
/// (a remote server, a missing binary, a daemon that exited: the message
/// says which and why). The binary is `$MEMCACHED` or `memcached` on PATH.
/// Socket-file servers are also started by `mc_create` when needed.
///
/// # Safety
/// `outcome` is null or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_start(handle: u64, outcome: *mut i32) -> mc_result {
    guard(|| report(daemon::start(&*client(handle)?), outcome))
}

/// Stops the local memcached daemons serving the handle (SIGTERM to the pid
/// their stats give, SIGKILL if one lingers) and closes the handle's
/// connections; they reopen by themselves once a daemon is back. `*outcome`
/// is 1 if daemons were stopped, -1 if none was running. `MC_DAEMON` if any
/// could not be stopped (a remote daemon, no permission). Their data is gone.
///
/// # Safety
/// `outcome` is null or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_stop(handle: u64, outcome: *mut i32) -> mc_result {
    guard(|| report(daemon::stop(&*client(handle)?), outcome))
}

// ----- many servers: distribution, placement, failure policy -----

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

/// Chooses how the handle spreads keys over its servers:
/// `MC_DISTRIBUTION_KETAMA` (the default) or `MC_DISTRIBUTION_MODULA`;
/// any other number is `MC_INVALID`. Every client sharing a pool must use
/// the same distribution, server list (in the same order) and weights:
/// ketama with libmemcached, PHP and pylibmc; modula with python-memcached.
#[no_mangle]
pub extern "C" fn mc_set_distribution(handle: u64, distribution: u32) -> mc_result {
    guard(|| {
        let distribution = match distribution {
            0 => Distribution::Ketama,
            1 => Distribution::Modula,
            other => {
                return Err(Error::new(
                    Kind::Invalid,
                    format!("bad distribution {other}: must be MC_DISTRIBUTION_KETAMA (0) or MC_DISTRIBUTION_MODULA (1)"),
                ))
            }
        };
        client(handle)?.set_distribution(distribution)?;
        Ok(mc_result::MC_OK)
    })
}

/// Sets the failure policy. A server that refuses a connection is not
/// marked (every request tries it, so a restarted server is used by the
/// next one). A server that times out a connection or a reply (or, with
/// failover, cannot be reached) is marked dead for 1 s the first time,
/// twice as long after each further failure in a row, at most `retry_ms`
/// milliseconds (default 30000; 0 marks no server dead): meanwhile
/// requests for its keys fail at once with `MC_IO` and a message naming it
/// ("127.0.0.1:11211: marked dead after \"...\", retried in 800 ms"),
/// then one request tries it again. With `failover` non-zero (default
/// 0), its keys go to the next live server instead (the next ketama point's
/// server, or python-memcached's rehash): the caller gets no error but may
/// read missing or stale data, also after the server comes back.
#[no_mangle]
pub extern "C" fn mc_set_failure_policy(handle: u64, retry_ms: u32, failover: i32) -> mc_result {
    guard(|| {
        configure(handle, |options| {
            options.retry_interval = Duration::from_millis(retry_ms.into());
            options.failover = failover != 0;
        })
    })
}

/// Clears every dead mark of the handle (python-memcached's
/// `forget_dead_hosts`): the next request to each server tries it.
#[no_mangle]
pub extern "C" fn mc_forget_dead(handle: u64) -> mc_result {
    guard(|| {
        client(handle)?.forget_dead();
        Ok(mc_result::MC_OK)
    })
}

/// Replaces the handle's servers with `count` new ones (written as for
/// `mc_create`, weights included), keeping the handle and its settings;
/// servers in both lists keep their connections and dead marks. A socket
/// file that nothing answers on gets a daemon, as with `mc_create`.
/// Nothing changes if a server is bad (`MC_INVALID`).
///
/// # Safety
/// `servers` points to `count` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn mc_set_servers(
    handle: u64,
    servers: *const *const c_char,
    count: usize,
) -> mc_result {
    guard(|| {
        if servers.is_null() && count > 0 {
            return Err(null("servers"));
        }
        let specs = (0..count)
            .map(|i| {
                std::str::from_utf8(text(*servers.add(i), "a server name")?)
                    .map(str::to_owned)
                    .map_err(|_| Error::new(Kind::Invalid, "a server name is not UTF-8"))
            })
            .collect::<Result<Vec<_>>>()?;
        let client = client(handle)?;
        client.set_servers(&specs)?;
        daemon::autostart(&client)?;
        Ok(mc_result::MC_OK)
    })
}

/// The index (as in `mc_server_name`) of the server `key` belongs to by
/// the handle's distribution, whether or not it is marked dead.
/// `MC_BADKEY` for a key that cannot be sent.
///
/// # Safety
/// `key` is a NUL-terminated string; `index` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_server_for_key(
    handle: u64,
    key: *const c_char,
    index: *mut usize,
) -> mc_result {
    guard(|| {
        let key = text(key, "key")?;
        if index.is_null() {
            return Err(null("index"));
        }
        index.write(client(handle)?.server_for(key)?);
        Ok(mc_result::MC_OK)
    })
}

/// The index of the server a placement value picks (see `mc_set_by_key`).
///
/// # Safety
/// `place` is a NUL-terminated string; `index` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_server_for_place(
    handle: u64,
    place: *const c_char,
    index: *mut usize,
) -> mc_result {
    guard(|| {
        let place = text(place, "place")?;
        if index.is_null() {
            return Err(null("index"));
        }
        index.write(client(handle)?.server_for_place(place));
        Ok(mc_result::MC_OK)
    })
}

/// The weight of server `index` of a handle.
///
/// # Safety
/// `weight` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_server_weight(
    handle: u64,
    index: usize,
    weight: *mut u32,
) -> mc_result {
    guard(|| {
        if weight.is_null() {
            return Err(null("weight"));
        }
        weight.write(client(handle)?.server(index)?.weight);
        Ok(mc_result::MC_OK)
    })
}

/// As `mc_set`, but the item goes to the server the placement value
/// `place` picks, not the one its key's hash picks (libmemcached's
/// `memcached_set_by_key`, python-memcached's `(hashvalue, key)`): keys
/// stored with the same `place` share a server. Read them with the same
/// `place`. Ketama hashes `place` like a key; modula uses a decimal
/// integer `place` as python-memcached uses an integer hash value and
/// hashes any other text like a key. A null `place` is the key's own.
///
/// # Safety
/// `place` is null or a NUL-terminated string; otherwise as `mc_set`.
#[no_mangle]
pub unsafe extern "C" fn mc_set_by_key(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
) -> mc_result {
    store(handle, place, StoreVerb::Set, key, value, len, flags, ttl)
}

/// As `mc_add`, on the server `place` picks (see `mc_set_by_key`).
///
/// # Safety
/// As `mc_set_by_key`.
#[no_mangle]
pub unsafe extern "C" fn mc_add_by_key(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
) -> mc_result {
    store(handle, place, StoreVerb::Add, key, value, len, flags, ttl)
}

/// As `mc_replace`, on the server `place` picks (see `mc_set_by_key`).
///
/// # Safety
/// As `mc_set_by_key`.
#[no_mangle]
pub unsafe extern "C" fn mc_replace_by_key(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
) -> mc_result {
    store(
        handle,
        place,
        StoreVerb::Replace,
        key,
        value,
        len,
        flags,
        ttl,
    )
}

/// As `mc_get`, from the server `place` picks (see `mc_set_by_key`).
///
/// # Safety
/// `place` is null or a NUL-terminated string; otherwise as `mc_get`.
#[no_mangle]
pub unsafe extern "C" fn mc_get_by_key(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    value: *mut *mut c_void,
    len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
) -> mc_result {
    let place = place_arg(place);
    fetch(handle, key, value, len, flags, cas, |c, key| {
        c.at(place).get_with(key, malloc_buf)
    })
}

/// As `mc_remove`, on the server `place` picks (see `mc_set_by_key`).
///
/// # Safety
/// `place` is null or a NUL-terminated string; `key` is a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn mc_remove_by_key(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
) -> mc_result {
    guard(|| {
        let place = place_arg(place);
        let key = text(key, "key")?;
        Ok(found(client(handle)?.at(place).delete(key)?))
    })
}

/// As `mc_touch`, on the server `place` picks (see `mc_set_by_key`).
///
/// # Safety
/// As `mc_remove_by_key`.
#[no_mangle]
pub unsafe extern "C" fn mc_touch_by_key(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    ttl: u32,
) -> mc_result {
    guard(|| {
        let place = place_arg(place);
        let key = text(key, "key")?;
        Ok(found(client(handle)?.at(place).touch(key, ttl)?))
    })
}

/// The body of the incr and decr calls.
///
/// # Safety
/// As `mc_incr_by_key`.
unsafe fn arith(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    value: *mut u64,
    op: impl FnOnce(Placed<'_>, &[u8]) -> Result<Option<u64>>,
) -> mc_result {
    guard(|| {
        let place = place_arg(place);
        let key = text(key, "key")?;
        let client = client(handle)?;
        match op(client.at(place), key)? {
            Some(n) => {
                put(value, n);
                Ok(mc_result::MC_OK)
            }
            None => Ok(mc_result::MC_NOTFOUND),
        }
    })
}

/// As `mc_incr`, on the server `place` picks (see `mc_set_by_key`).
///
/// # Safety
/// `place` is null or a NUL-terminated string; otherwise as `mc_incr`.
#[no_mangle]
pub unsafe extern "C" fn mc_incr_by_key(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    delta: u64,
    value: *mut u64,
) -> mc_result {
    arith(handle, place, key, value, |at, key| at.incr(key, delta))
}

/// As `mc_decr`, on the server `place` picks (see `mc_set_by_key`).
///
/// # Safety
/// As `mc_incr_by_key`.
#[no_mangle]
pub unsafe extern "C" fn mc_decr_by_key(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    delta: u64,
    value: *mut u64,
) -> mc_result {
    arith(handle, place, key, value, |at, key| at.decr(key, delta))
}

/// As `mc_get_multi`, every key read from the server `place` picks (see
/// `mc_set_by_key`): one request in all.
///
/// # Safety
/// `place` is null or a NUL-terminated string; otherwise as `mc_get_multi`.
#[no_mangle]
pub unsafe extern "C" fn mc_get_multi_by_key(
    handle: u64,
    place: *const c_char,
    keys: *const *const c_char,
    count_keys: usize,
    hits: *mut *mut mc_hit,
    count: *mut usize,
) -> mc_result {
    get_multi(
        handle,
        place,
        keys,
        count_keys,
        hits,
        count,
        ptr::null_mut(),
    )
}

/// As `mc_get_multi`, but a server that cannot be reached or is marked
/// dead does not fail the call: its keys are left out of the hits, like
/// misses (as python-memcached's `get_multi` does), and `*failed` receives
/// the number of servers that failed. Returns `MC_OK` with the other
/// servers' hits; when `*failed` > 0, `mc_last_error()` gives the first
/// failure (the one exception to "messages only for results other than
/// MC_OK"). Other errors (a bad key, a bad handle) fail the call as usual.
///
/// # Safety
/// As `mc_get_multi`; `failed` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_get_multi_partial(
    handle: u64,
    keys: *const *const c_char,
    count_keys: usize,
    hits: *mut *mut mc_hit,
    count: *mut usize,
    failed: *mut usize,
) -> mc_result {
    if failed.is_null() {
        return guard(|| Err(null("failed")));
    }
    get_multi(handle, ptr::null(), keys, count_keys, hits, count, failed)
}

/// As `mc_set_multi`, every item stored on the server `place` picks (see
/// `mc_set_by_key`).
///
/// # Safety
/// `place` is null or a NUL-terminated string; otherwise as `mc_set_multi`.
#[no_mangle]
pub unsafe extern "C" fn mc_set_multi_by_key(
    handle: u64,
    place: *const c_char,
    entries: *const mc_entry,
    count: usize,
    ttl: u32,
    statuses: *mut mc_result,
) -> mc_result {
    set_multi(handle, place, entries, count, ttl, statuses)
}
