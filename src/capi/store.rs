//! The storage commands, with and without a placement value, one item or
//! many.

use std::ffi::{c_char, c_void};
use std::ptr;

use crate::client::{Placed, Status, StoreVerb};
use crate::error::{Error, Kind, Result};

use super::boundary::*;
use super::types::*;

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
    // SAFETY: this function's contract is `stored`'s.
    unsafe {
        stored(
            handle,
            place,
            KeyArg::Text(key),
            value,
            len,
            Expiry::Ttl(ttl),
            |at, key, value, ttl| at.store(verb, key, value, flags, ttl),
        )
    }
}

/// The body of every single-item store: reads the arguments, resolves
/// `MC_TTL_DEFAULT`, and runs `op` (a store or an append-or-add) on the
/// server `place` picks, reading `ttl` as it says.
///
/// # Safety
/// As `store`.
unsafe fn stored(
    handle: u64,
    place: *const c_char,
    key: KeyArg,
    value: *const c_void,
    len: usize,
    ttl: Expiry,
    op: impl FnOnce(Placed<'_>, &[u8], &[u8], u32) -> Result<Status>,
) -> mc_result {
    guard(|| {
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        // SAFETY: as this function's contract.
        let key = unsafe { key.bytes() }?;
        // SAFETY: `value` has `len` readable bytes, or `len` is 0 (this function's contract).
        let value = unsafe { bytes(value, len, "value") }?;
        let client = client(handle)?;
        let ttl = match ttl {
            Expiry::Ttl(MC_TTL_DEFAULT) => Expiry::Ttl(client.default_ttl()),
            ttl => ttl,
        };
        let (at, ttl) = ttl.at(&client, place);
        Ok(status(op(at, key, value, ttl)?))
    })
}

/// Any storage command (`verb`, an `mc_verb`), with an optional placement
/// value (`place`: null for the key's own server, else as the `_by_key`
/// calls): one entry point for every store. `cas` is used by
/// `MC_VERB_CAS` only; flags and TTL are ignored by append and prepend.
/// A `ttl` of `MC_TTL_DEFAULT` is the handle's default TTL (its `ttl`
/// setting: 8 hours unless changed), as the Tcl and Python `put` use.
/// Results as the single calls (`MC_NOTSTORED`, `MC_EXISTS`,
/// `MC_NOTFOUND`); an unknown verb is `MC_INVALID`.
///
/// # Safety
/// `place` is null or a NUL-terminated string; `key` is a NUL-terminated
/// string; `value` has `len` readable bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mc_store(
    handle: u64,
    verb: u32,
    place: *const c_char,
    key: *const c_char,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: u32,
    cas: u64,
) -> mc_result {
    let key = KeyArg::Text(key);
    let ttl = Expiry::Ttl(ttl);
    // SAFETY: this function's contract covers `store_verb`'s (see # Safety).
    unsafe { store_verb(handle, verb, place, key, value, len, flags, ttl, cas) }
}

/// The body of `mc_store`, `mc_store_n` and `mc_store_exptime`.
///
/// # Safety
/// As `mc_store`, `key` as [`KeyArg::bytes`].
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn store_verb(
    handle: u64,
    verb: u32,
    place: *const c_char,
    key: KeyArg,
    value: *const c_void,
    len: usize,
    flags: u32,
    ttl: Expiry,
    cas: u64,
) -> mc_result {
    // `None`: append-or-add (6), two commands rather than one verb.
    let verb = match verb {
        0 => Some(StoreVerb::Set),
        1 => Some(StoreVerb::Add),
        2 => Some(StoreVerb::Replace),
        3 => Some(StoreVerb::Append),
        4 => Some(StoreVerb::Prepend),
        5 => Some(StoreVerb::Cas(cas)),
        6 => None,
        _ => {
            return guard(|| {
                Err(Error::new(
                    Kind::Invalid,
                    format!("bad verb {verb}: must be an mc_verb from 0 to 6"),
                ))
            })
        }
    };
    // SAFETY: this function's contract covers `stored`'s.
    unsafe {
        stored(
            handle,
            place,
            key,
            value,
            len,
            ttl,
            |at, key, value, ttl| match verb {
                Some(verb) => at.store(verb, key, value, flags, ttl),
                None => at.append_or_add(key, value, flags, ttl),
            },
        )
    }
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
    // SAFETY: this function's contract covers `store`'s (see # Safety).
    unsafe {
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
    // SAFETY: this function's contract covers `store`'s (see # Safety).
    unsafe {
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
    // SAFETY: this function's contract covers `store`'s (see # Safety).
    unsafe {
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
    // SAFETY: this function's contract covers `store`'s (see # Safety).
    unsafe {
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
    // SAFETY: this function's contract covers `store`'s (see # Safety).
    unsafe {
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
    // SAFETY: this function's contract covers `store`'s (see # Safety).
    unsafe {
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
    // SAFETY: this function's contract covers `store`'s (see # Safety).
    unsafe { store(handle, place, StoreVerb::Set, key, value, len, flags, ttl) }
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
    // SAFETY: this function's contract covers `store`'s (see # Safety).
    unsafe { store(handle, place, StoreVerb::Add, key, value, len, flags, ttl) }
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
    // SAFETY: this function's contract covers `store`'s (see # Safety).
    unsafe {
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
    // SAFETY: this function's contract covers `set_multi`'s (see # Safety).
    unsafe {
        set_multi(
            handle,
            ptr::null(),
            entries,
            count,
            Expiry::Ttl(ttl),
            statuses,
        )
    }
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
    // SAFETY: this function's contract covers `set_multi`'s (see # Safety).
    unsafe { set_multi(handle, place, entries, count, Expiry::Ttl(ttl), statuses) }
}

/// The body of `mc_set_multi`, `mc_set_multi_by_key` and
/// `mc_set_multi_exptime`.
///
/// # Safety
/// As `mc_set_multi`; `place` is null or a NUL-terminated string.
pub(super) unsafe fn set_multi(
    handle: u64,
    place: *const c_char,
    entries: *const mc_entry,
    count: usize,
    ttl: Expiry,
    statuses: *mut mc_result,
) -> mc_result {
    guard(|| {
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        if entries.is_null() && count > 0 {
            return Err(null("entries"));
        }
        let items = (0..count)
            .map(|i| {
                // SAFETY: i < count, and `entries` points to `count`
                // entries (this function's contract).
                let e = unsafe { &*entries.add(i) };
                Ok((
                    // SAFETY: `e.key` is null or a NUL-terminated string (this function's contract).
                    unsafe { text(e.key, "an entry's key") }?,
                    // SAFETY: `e.value` has `e.value_len` readable bytes, or `e.value_len` is 0 (this function's contract).
                    unsafe { bytes(e.value, e.value_len, "an entry's value") }?,
                    e.flags,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let client = client(handle)?;
        let (at, ttl) = ttl.at(&client, place);
        let results = at.set_many(&items, ttl)?;
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
                // SAFETY: `statuses.wrapping_add(i)` is null or valid for a write (this function's contract).
                // Not `unsafe { put(statuses.wrapping_add(i), ..) }`: a null pointer
                // plus i is no longer null, and would be written through.
                // SAFETY: `statuses` was checked to be non-null and is valid for writes (this function's contract).
                unsafe { statuses.add(i).write(code) };
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(all),
        }
    })
}
