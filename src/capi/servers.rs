//! A handle's servers (list, weights, which server a key goes to) and the
//! whole-server commands (flush, verbosity, stats, version).

use std::ffi::c_char;

use crate::daemon;

use super::boundary::*;
use super::types::*;

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
        // SAFETY: `servers` points to `count` NUL-terminated strings (this
        // function's contract).
        let specs = unsafe { utf8_texts(servers, count, "servers", "a server name") }?;
        daemon::replace_servers(&*client(handle)?, &specs)?;
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
        // SAFETY: `key` is null or a NUL-terminated string (this function's contract).
        let key = unsafe { text(key, "key") }?;
        if index.is_null() {
            return Err(null("index"));
        }
        // SAFETY: `index` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { index.write(client(handle)?.server_for(key)?) };
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
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { text(place, "place") }?;
        if index.is_null() {
            return Err(null("index"));
        }
        // SAFETY: `index` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { index.write(client(handle)?.server_for_place(place)) };
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
        // SAFETY: `weight` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { weight.write(client(handle)?.server(index)?.weight) };
        Ok(mc_result::MC_OK)
    })
}

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
    // SAFETY: this function's contract covers `stats_of`'s.
    unsafe { stats_of(handle, None, group, stats, count) }
}

/// As `mc_stats`, of server `index` alone (so that a server that does not
/// answer fails only its own call; `server` of each entry is `index`).
///
/// # Safety
/// As `mc_stats`.
#[no_mangle]
pub unsafe extern "C" fn mc_server_stats(
    handle: u64,
    index: usize,
    group: *const c_char,
    stats: *mut *mut mc_stat,
    count: *mut usize,
) -> mc_result {
    // SAFETY: this function's contract covers `stats_of`'s.
    unsafe { stats_of(handle, Some(index), group, stats, count) }
}

/// `mc_stats` (every server, `only` None) and `mc_server_stats`.
///
/// # Safety
/// As `mc_stats`.
unsafe fn stats_of(
    handle: u64,
    only: Option<usize>,
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
            // SAFETY: `group` is null or a NUL-terminated string (this function's contract).
            Some(String::from_utf8_lossy(unsafe { text(group, "group") }?).into_owned())
        };
        let client = client(handle)?;
        let per_server = match only {
            None => client.stats(group.as_deref())?,
            Some(n) => vec![client.server_stats(n, group.as_deref())?],
        };
        let entries: Vec<(usize, &(String, String))> = per_server
            .iter()
            .enumerate()
            .flat_map(|(server, list)| list.iter().map(move |pair| (only.unwrap_or(server), pair)))
            .collect();
        let mut strings = Vec::new();
        let mut at = Vec::with_capacity(entries.len());
        for (_, (name, value)) in &entries {
            at.push(strings.len());
            for text in [name, value] {
                strings.extend_from_slice(text.as_bytes());
                strings.push(0);
            }
        }
        let array = pack(entries.len(), &strings, |i, base| {
            let (server, (name, _)) = entries[i];
            let name_at = base.wrapping_add(at[i]);
            mc_stat {
                server,
                name: name_at.cast(),
                value: name_at.wrapping_add(name.len() + 1).cast(),
            }
        })?;
        // SAFETY: `stats` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { stats.write(array) };
        // SAFETY: `count` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { count.write(entries.len()) };
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
        // SAFETY: `version` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { version.write(malloc_copy(v.as_bytes())?.cast()) };
        Ok(mc_result::MC_OK)
    })
}
