//! Deletes, touches and counters.

use std::ffi::c_char;
use std::ptr;

use crate::client::Placed;
use crate::error::Result;

use super::boundary::*;
use super::types::*;

/// Deletes the item under `key`; `MC_NOTFOUND` if there was none.
///
/// # Safety
/// `key` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mc_remove(handle: u64, key: *const c_char) -> mc_result {
    // SAFETY: this function's contract covers `mc_remove_by_key`'s (see # Safety).
    unsafe { mc_remove_by_key(handle, ptr::null(), key) }
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
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        // SAFETY: `key` is null or a NUL-terminated string (this function's contract).
        let key = unsafe { KeyArg::Text(key).bytes() }?;
        Ok(found(client(handle)?.at(place).delete(key)?))
    })
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
    // SAFETY: this function's contract covers `mc_remove_multi_by_key`'s (see # Safety).
    unsafe { mc_remove_multi_by_key(handle, ptr::null(), keys, count, statuses) }
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
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        // SAFETY: `keys` points to `count` NUL-terminated strings (this
        // function's contract).
        let keys = unsafe { text_array(keys, count, "keys", "a key") }?;
        let mut all = mc_result::MC_OK;
        let client = client(handle)?;
        for (i, yes) in client.at(place).delete_many(keys)?.into_iter().enumerate() {
            if !yes {
                all = mc_result::MC_NOTFOUND;
            }
            if !statuses.is_null() {
                // SAFETY: `statuses` was checked to be non-null and is valid for writes (this function's contract).
                unsafe { statuses.add(i).write(found(yes)) };
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
    // SAFETY: this function's contract covers `mc_touch_by_key`'s (see # Safety).
    unsafe { mc_touch_by_key(handle, ptr::null(), key, ttl) }
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
    // SAFETY: as this function's contract.
    unsafe { touch(handle, place, key, Expiry::Ttl(ttl)) }
}

/// The body of `mc_touch_by_key` and `mc_touch_exptime`.
///
/// # Safety
/// As `mc_touch_by_key`.
pub(super) unsafe fn touch(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    ttl: Expiry,
) -> mc_result {
    guard(|| {
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        // SAFETY: `key` is null or a NUL-terminated string (this function's contract).
        let key = unsafe { text(key, "key") }?;
        let client = client(handle)?;
        let (at, ttl) = ttl.at(&client, place);
        Ok(found(at.touch(key, ttl)?))
    })
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
    // SAFETY: this function's contract covers `mc_incr_by_key`'s (see # Safety).
    unsafe { mc_incr_by_key(handle, ptr::null(), key, delta, value) }
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
    // SAFETY: this function's contract covers `mc_decr_by_key`'s (see # Safety).
    unsafe { mc_decr_by_key(handle, ptr::null(), key, delta, value) }
}

/// The body of the incr and decr calls.
///
/// # Safety
/// As `mc_incr_by_key`, `key` as [`KeyArg::bytes`].
pub(super) unsafe fn arith(
    handle: u64,
    place: *const c_char,
    key: KeyArg,
    value: *mut u64,
    op: impl FnOnce(Placed<'_>, &[u8]) -> Result<Option<u64>>,
) -> mc_result {
    guard(|| {
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        // SAFETY: as this function's contract.
        let key = unsafe { key.bytes() }?;
        let client = client(handle)?;
        match op(client.at(place), key)? {
            Some(n) => {
                // SAFETY: `value` is null or valid for a write (this function's contract).
                unsafe { put(value, n) };
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
    // SAFETY: this function's contract covers `arith`'s (see # Safety).
    unsafe {
        arith(handle, place, KeyArg::Text(key), value, |at, key| {
            at.incr(key, delta)
        })
    }
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
    // SAFETY: this function's contract covers `arith`'s (see # Safety).
    unsafe {
        arith(handle, place, KeyArg::Text(key), value, |at, key| {
            at.decr(key, delta)
        })
    }
}

/// Checks a key of `len` bytes (any bytes, NUL included) as every call
/// does before sending: `MC_OK`, or `MC_BADKEY` with the reason. For
/// callers whose keys come as byte strings: a key with a NUL byte cannot
/// be passed as a C string, and this gives the error it deserves.
///
/// # Safety
/// `key` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mc_check_key(key: *const c_char, len: usize) -> mc_result {
    guard(|| {
        // SAFETY: `len` readable bytes (this function's contract).
        let key = unsafe { bytes(key.cast(), len, "key") }?;
        crate::key::check(key)?;
        Ok(mc_result::MC_OK)
    })
}
