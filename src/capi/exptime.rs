//! The calls that take memcached's own exptime instead of a TTL, as
//! libmemcached and python-memcached pass it: a C program ported from
//! libmemcached keeps its expirations, and python-memcached's `Client`
//! (which accepts a Unix time or a negative time, see `doc/python.md`)
//! is built on them.

use std::ffi::{c_char, c_void};

use super::boundary::*;
use super::keys::touch;
use super::store::{set_multi, store_verb};
use super::types::*;

/// As `mc_store`, with memcached's own `exptime` instead of a TTL, sent
/// as it is: 0 for no expiry, up to 30 days (2592000) relative seconds,
/// beyond that a Unix time, negative an item gone at once (memcached's
/// reading of each; as libmemcached's `expiration` and python-memcached's
/// `time`). Not counted from the server's clock as a TTL over 30 days is.
///
/// # Safety
/// As `mc_store`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mc_store_exptime(
    handle: u64,
    verb: u32,
    place: *const c_char,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    exptime: i32,
    cas: u64,
) -> mc_result {
    let key = KeyArg::Text(key);
    let exptime = Expiry::Exptime(exptime);
    // SAFETY: this function's contract covers `store_verb`'s (see # Safety).
    unsafe { store_verb(handle, verb, place, key, value, len, flags, exptime, cas) }
}

/// As `mc_set_multi_by_key` (`place` may be null), with memcached's own
/// `exptime` as `mc_store_exptime` takes it.
///
/// # Safety
/// As `mc_set_multi_by_key`.
#[no_mangle]
pub unsafe extern "C" fn mc_set_multi_exptime(
    handle: u64,
    place: *const c_char,
    entries: *const mc_entry,
    count: usize,
    exptime: i32,
    statuses: *mut mc_result,
) -> mc_result {
    let exptime = Expiry::Exptime(exptime);
    // SAFETY: this function's contract covers `set_multi`'s (see # Safety).
    unsafe { set_multi(handle, place, entries, count, exptime, statuses) }
}

/// As `mc_touch_by_key` (`place` may be null), with memcached's own
/// `exptime` as `mc_store_exptime` takes it.
///
/// # Safety
/// As `mc_touch_by_key`.
#[no_mangle]
pub unsafe extern "C" fn mc_touch_exptime(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    exptime: i32,
) -> mc_result {
    // SAFETY: this function's contract covers `touch`'s (see # Safety).
    unsafe { touch(handle, place, key, Expiry::Exptime(exptime)) }
}
