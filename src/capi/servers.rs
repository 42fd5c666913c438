//! A handle's servers (list, weights, which server a key goes to) and the
//! whole-server commands (flush, verbosity, stats, version).

use std::ffi::c_char;
use std::ptr;

use crate::daemon;
use crate::error::{Error, Kind, Result};

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
