//! The key calls that take a key's length (`_n`): binary keys, which may
//! hold any bytes, NUL included, on a handle with the `binarykeys`
//! setting (sent base64 over memcached 1.6's meta commands; a classic key
//! still goes as it is). Each does what the call without `_n` does, with
//! an optional placement value as the `_by_key` calls take.

use std::ffi::{c_char, c_void};

use super::boundary::*;
use super::fetch::{fetch, malloc_buf};
use super::keys::arith;
use super::store::store_verb;
use super::types::*;

/// As `mc_store`, with a key of `keylen` bytes.
///
/// # Safety
/// `place` is null or a NUL-terminated string; `key` has `keylen`
/// readable bytes; `value` has `len` readable bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mc_store_n(
    handle: u64,
    verb: u32,
    place: *const c_char,
    key: *const c_void,
    keylen: usize,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
    cas: u64,
) -> mc_result {
    let key = KeyArg::Sized(key, keylen);
    let ttl = Expiry::Ttl(ttl);
    // SAFETY: this function's contract covers `store_verb`'s (see # Safety).
    unsafe { store_verb(handle, verb, place, key, value, len, flags, ttl, cas) }
}

/// As `mc_get` (on the server `place` picks, if not null), with a key of
/// `keylen` bytes.
///
/// # Safety
/// `place` is null or a NUL-terminated string; `key` has `keylen`
/// readable bytes; otherwise as `mc_get`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mc_get_n(
    handle: u64,
    place: *const c_char,
    key: *const c_void,
    keylen: usize,
    value: *mut *mut c_void,
    len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
) -> mc_result {
    // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
    let place = unsafe { place_arg(place) };
    let key = KeyArg::Sized(key, keylen);
    // SAFETY: this function's contract covers `fetch`'s (see # Safety).
    unsafe {
        fetch(handle, key, value, len, flags, cas, |c, key, want| {
            c.at(place).get_with(key, want, malloc_buf)
        })
    }
}

/// As `mc_remove_by_key`, with a key of `keylen` bytes.
///
/// # Safety
/// `place` is null or a NUL-terminated string; `key` has `keylen`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mc_remove_n(
    handle: u64,
    place: *const c_char,
    key: *const c_void,
    keylen: usize,
) -> mc_result {
    guard(|| {
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        // SAFETY: `keylen` readable bytes (this function's contract).
        let key = unsafe { KeyArg::Sized(key, keylen).bytes() }?;
        Ok(found(client(handle)?.at(place).delete(key)?))
    })
}

/// As `mc_touch_by_key`, with a key of `keylen` bytes.
///
/// # Safety
/// As `mc_remove_n`.
#[no_mangle]
pub unsafe extern "C" fn mc_touch_n(
    handle: u64,
    place: *const c_char,
    key: *const c_void,
    keylen: usize,
    ttl: u32,
) -> mc_result {
    guard(|| {
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        // SAFETY: `keylen` readable bytes (this function's contract).
        let key = unsafe { KeyArg::Sized(key, keylen).bytes() }?;
        Ok(found(client(handle)?.at(place).touch(key, ttl)?))
    })
}

/// As `mc_incr_by_key`, with a key of `keylen` bytes.
///
/// # Safety
/// As `mc_remove_n`; `value` is null or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_incr_n(
    handle: u64,
    place: *const c_char,
    key: *const c_void,
    keylen: usize,
    delta: u64,
    value: *mut u64,
) -> mc_result {
    let key = KeyArg::Sized(key, keylen);
    // SAFETY: this function's contract covers `arith`'s (see # Safety).
    unsafe { arith(handle, place, key, value, |at, key| at.incr(key, delta)) }
}

/// As `mc_decr_by_key`, with a key of `keylen` bytes.
///
/// # Safety
/// As `mc_incr_n`.
#[no_mangle]
pub unsafe extern "C" fn mc_decr_n(
    handle: u64,
    place: *const c_char,
    key: *const c_void,
    keylen: usize,
    delta: u64,
    value: *mut u64,
) -> mc_result {
    let key = KeyArg::Sized(key, keylen);
    // SAFETY: this function's contract covers `arith`'s (see # Safety).
    unsafe { arith(handle, place, key, value, |at, key| at.decr(key, delta)) }
}
