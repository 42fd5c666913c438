//! Handles: create (with daemon settings), delete, find, list; their
//! settings; local daemons; the failure policy.

use std::ffi::c_char;
use std::ptr;
use std::time::Duration;

use crate::client::{Credentials, Options, MAX_COMPRESS_MIN};
use crate::cluster::Distribution;
use crate::error::{Error, Kind, Result};
use crate::key;
use crate::{daemon, registry};

use super::boundary::*;
use super::types::*;

/// Creates a handle for `count` servers: "host", "host:port" (11211 by
/// default), "\[v6addr\]:port", or a Unix socket path (a name that contains
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
    // SAFETY: this function's contract covers `mc_create_with`'s (see # Safety).
    unsafe { mc_create_with(servers, count, ptr::null(), handle) }
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
        // SAFETY: `servers` points to `count` NUL-terminated strings (this
        // function's contract).
        let specs = unsafe { utf8_texts(servers, count, "servers", "a server name") }?;
        let mut options = Options::default();
        // SAFETY: `daemon` is null or points to settings (this function's
        // contract).
        if let Some(d) = unsafe { daemon.as_ref() } {
            let o = &mut options.daemon;
            if !d.binary.is_null() {
                // SAFETY: a non-null `binary` is a NUL-terminated string.
                o.binary = utf8(
                    unsafe { text(d.binary, "the daemon binary") }?,
                    "the daemon binary",
                )?
                .into();
            }
            if d.memory_mb > 0 {
                o.memory_mb = d.memory_mb;
            }
            if d.socket_mode > 0 {
                o.socket_mode = d.socket_mode;
            }
            // SAFETY: `args` points to `arg_count` NUL-terminated strings.
            o.args = unsafe { utf8_texts(d.args, d.arg_count, "args", "a daemon argument") }?;
            if d.start_timeout_ms > 0 {
                o.start_timeout = Duration::from_millis(d.start_timeout_ms.into());
            }
            o.autostart = d.no_autostart == 0;
            o.persist = d.persist != 0;
        }
        let id = registry::create(&specs, options)?;
        // SAFETY: `handle` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { handle.write(id) };
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
        // SAFETY: `count` is null or valid for a write (this function's contract).
        unsafe { put(count, registry::clear()) };
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
            // SAFETY: `handles` was checked to be non-null and is valid for writes (this function's contract).
            unsafe { handles.add(i).write(*id) };
        }
        // SAFETY: `count` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { count.write(ids.len()) };
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
        // SAFETY: `name` is null or a NUL-terminated string (this function's contract).
        let name = unsafe { text(name, "name") }?;
        if handle.is_null() {
            return Err(null("handle"));
        }
        let id = registry::parse_name(&String::from_utf8_lossy(name))?;
        registry::get(id)?;
        // SAFETY: `handle` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { handle.write(id) };
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
        // SAFETY: `count` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { count.write(client(handle)?.servers().count()) };
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
        // SAFETY: `name` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { name.write(malloc_copy(client.server(index)?.name.as_bytes())?.cast()) };
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

/// Sets the login the handle's connections send first, for servers started
/// with an auth file (`memcached -Y`): every new connection (pooled,
/// reconnected, a forked child's) logs in before its first command. A
/// NULL `username` removes the login. A refused login is `MC_AUTH` with
/// the server's words; the password is never in a message.
///
/// # Safety
/// `username` is NULL or a NUL-terminated string; `password` is a
/// NUL-terminated string when `username` is not NULL.
#[no_mangle]
pub unsafe extern "C" fn mc_set_auth(
    handle: u64,
    username: *const c_char,
    password: *const c_char,
) -> mc_result {
    guard(|| {
        let auth = if username.is_null() {
            None
        } else {
            // SAFETY: `username` is a NUL-terminated string (this
            // function's contract).
            let user = utf8(unsafe { text(username, "username") }?, "the username")?;
            // SAFETY: `password` is a NUL-terminated string (this
            // function's contract).
            let pass = utf8(unsafe { text(password, "password") }?, "the password")?;
            Some(Credentials::new(&user, &pass)?)
        };
        client(handle)?.update_options(|o| {
            o.auth = auth;
            Ok::<(), Error>(())
        })?;
        Ok(mc_result::MC_OK)
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
        // SAFETY: `prefix` is null or a NUL-terminated string (this function's contract).
        let prefix = unsafe { text(prefix, "prefix") }?;
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
        // SAFETY: `buffer` has `size` writable bytes (this function's
        // contract), and size >= MC_UNIQUE_KEY_SIZE = key.len() + 1.
        unsafe {
            ptr::copy_nonoverlapping(key.as_ptr(), buffer.cast::<u8>(), key.len());
            *buffer.add(key.len()) = 0;
        }
        Ok(mc_result::MC_OK)
    })
}

/// Reports a daemon outcome: `MC_OK` with 1 (done) or -1 (nothing needed)
/// in `*outcome`, or `MC_DAEMON` with every problem in the message.
///
/// # Safety
/// `outcome` is null or valid for a write.
unsafe fn report(done: daemon::Outcome, outcome: *mut i32) -> Result<mc_result> {
    match done {
        daemon::Outcome::Failed(problems) => Err(Error::new(Kind::Daemon, problems.join("; "))),
        other => {
            // SAFETY: `outcome` is null or valid for a write (this function's contract).
            unsafe { put(outcome, other.code()) };
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
    // SAFETY: `outcome` is null or valid for a write (this function's contract).
    guard(|| unsafe { report(daemon::start(&*client(handle)?), outcome) })
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
    // SAFETY: `outcome` is null or valid for a write (this function's contract).
    guard(|| unsafe { report(daemon::stop(&*client(handle)?), outcome) })
}

/// Chooses how the handle spreads keys over its servers:
/// `MC_DISTRIBUTION_KETAMA` (the default) or `MC_DISTRIBUTION_MODULA`;
/// any other number is `MC_INVALID`. Every client sharing a pool must use
/// the same distribution, server list (in the same order) and weights:
/// ketama with libmemcached, PHP and pylibmc; modula with python-memcached.
#[no_mangle]
pub extern "C" fn mc_set_distribution(handle: u64, distribution: u32) -> mc_result {
    guard(|| {
        let distribution = choice(
            distribution,
            &[Distribution::Ketama, Distribution::Modula],
            "distribution",
            "MC_DISTRIBUTION_KETAMA (0) or MC_DISTRIBUTION_MODULA (1)",
        )?;
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

/// With `MC_VALUES_PYTHON` (`mc_set_value_format`): stores values of at
/// least `min_bytes` bytes compressed with zlib and flag 8 added (as
/// python-memcached's `min_compress_len`), when that makes them smaller;
/// appended and prepended data is never compressed. 0 (the default) turns
/// it off; with `MC_VALUES_RAW` nothing is compressed. `min_bytes` over 1
/// GiB (memcached's largest item) is `MC_INVALID`.
#[no_mangle]
pub extern "C" fn mc_set_compress(handle: u64, min_bytes: usize) -> mc_result {
    guard(|| {
        if min_bytes > MAX_COMPRESS_MIN {
            return Err(Error::new(
                Kind::Invalid,
                format!("bad compress size {min_bytes}: must be from 0 (off) to 1073741824 bytes"),
            ));
        }
        configure(handle, |options| {
            options.compress_min = (min_bytes > 0).then_some(min_bytes);
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

/// Marks server `index` of the handle dead, `reason` being why (it
/// appears in the errors of the calls it fails): as if it had failed, its
/// keys fail at once, or go to the next server with failover, for one
/// second, then twice as long after each further failure in a row, up to
/// the retry interval (`mc_set_failure_policy`); `mc_forget_dead` clears
/// it. python-memcached's `_Host.mark_dead`.
///
/// # Safety
/// `reason` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mc_mark_dead(
    handle: u64,
    index: usize,
    reason: *const c_char,
) -> mc_result {
    guard(|| {
        // SAFETY: a NUL-terminated string (this function's contract).
        let reason = String::from_utf8_lossy(unsafe { text(reason, "reason") }?).into_owned();
        client(handle)?.mark_dead(index, &reason)?;
        Ok(mc_result::MC_OK)
    })
}

/// Closes the handle's idle connections (python-memcached's
/// `disconnect_all`); operations reconnect by themselves.
#[no_mangle]
pub extern "C" fn mc_disconnect(handle: u64) -> mc_result {
    guard(|| {
        client(handle)?.disconnect_all();
        Ok(mc_result::MC_OK)
    })
}

/// The value a C enum's number `n` stands for, `choices` being its values
/// in number order; else INVALID: "bad `what` n: must be `names`".
pub(super) fn choice<T: Copy>(n: u32, choices: &[T], what: &str, names: &str) -> Result<T> {
    usize::try_from(n)
        .ok()
        .and_then(|i| choices.get(i).copied())
        .ok_or_else(|| Error::new(Kind::Invalid, format!("bad {what} {n}: must be {names}")))
}
