//! CGI state: read-modify-write without lost updates (`mc_update`) and
//! locks (`mc_lock`, `mc_unlock`).

use std::ffi::{c_char, c_void};
use std::time::Duration;

use crate::client::Change;
use crate::error::{Error, Kind};

use super::boundary::*;
use super::types::*;

/// What the function given to `mc_update` asks for.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mc_change {
    /// Store the value the function put in `*store`.
    MC_CHANGE_STORE = 0,
    /// Remove the item (if it is still the one the function saw).
    MC_CHANGE_REMOVE = 1,
    /// Store nothing; `mc_update` returns `MC_OK`.
    MC_CHANGE_KEEP = 2,
    /// Give up: nothing is stored; `mc_update` returns `MC_NOTSTORED`.
    MC_CHANGE_ABORT = 3,
}

/// The value the function given to `mc_update` wants stored: `value` (`len`
/// bytes, valid until the function is called again or `mc_update`
/// returns) with `flags`.
#[repr(C)]
pub struct mc_update_value {
    pub value: *const c_void,
    pub len: usize,
    pub flags: u32,
}

/// The function `mc_update` calls with the item it read: `user` as given,
/// the item's value, length and flags (`found` 0: there is none, `old` is
/// NULL). It returns an `mc_change`, and for `MC_CHANGE_STORE` fills
/// `*store`. It may be called again (after another writer changed the
/// item): it must compute the new value from `old` each time.
#[allow(non_camel_case_types)]
pub type mc_update_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        old: *const c_void,
        old_len: usize,
        old_flags: u32,
        found: i32,
        store: *mut mc_update_value,
    ) -> u32,
>;

/// Reads the item under `key`, calls `change` with it, and does what it
/// returns, only if no other writer changed the item meanwhile (its CAS
/// value; `add` when there was none); when one did, reads and calls again
/// (up to 64 times, with a growing random pause), then `MC_CONFLICT`.
/// `MC_OK` once stored, removed or kept; `MC_NOTSTORED` when `change` gave
/// up (`MC_CHANGE_ABORT`) or returned an unknown number: nothing stored.
/// `ttl` is the stored item's lifetime. Two CGI requests adding to the same
/// cart both land, in either order.
///
/// # Safety
/// `key` is a NUL-terminated string; `change` is a function as described,
/// called on this thread only.
#[no_mangle]
pub unsafe extern "C" fn mc_update(
    handle: u64,
    key: *const c_char,
    ttl: u32,
    change: mc_update_fn,
    user: *mut c_void,
) -> mc_result {
    guard(|| {
        // SAFETY: `key` is a NUL-terminated string (this function's contract).
        let key = unsafe { text(key, "key") }?;
        let change = change.ok_or_else(|| null("change"))?;
        let client = client(handle)?;
        client.update(key, ttl, |item| {
            let mut store = mc_update_value {
                value: std::ptr::null(),
                len: 0,
                flags: 0,
            };
            let (old, old_len, old_flags) = match item {
                Some(item) => (item.value.as_ptr().cast(), item.value.len(), item.flags),
                None => (std::ptr::null(), 0, 0),
            };
            // SAFETY: `change` is the caller's function (this function's
            // contract); `old` is valid for `old_len` bytes during the
            // call, `store` is a local it may write.
            let asked = unsafe {
                change(
                    user,
                    old,
                    old_len,
                    old_flags,
                    i32::from(item.is_some()),
                    &mut store,
                )
            };
            match asked {
                x if x == mc_change::MC_CHANGE_STORE as u32 => {
                    // SAFETY: the function's promise: `store.value` has
                    // `store.len` bytes until it is called again.
                    let value = unsafe { bytes(store.value, store.len, "the value to store") }?;
                    Ok(Change::Store {
                        value: value.to_vec(),
                        flags: store.flags,
                    })
                }
                x if x == mc_change::MC_CHANGE_REMOVE as u32 => Ok(Change::Remove),
                x if x == mc_change::MC_CHANGE_KEEP as u32 => Ok(Change::Keep),
                other => Err(Error::new(
                    Kind::NotStored,
                    if other == mc_change::MC_CHANGE_ABORT as u32 {
                        "not stored: the update function gave up".to_string()
                    } else {
                        format!("not stored: the update function returned {other}, no mc_change")
                    },
                )),
            }
        })?;
        Ok(mc_result::MC_OK)
    })
}

/// Takes the lock `name` (an item of that key on the handle's servers):
/// once it is free, writes its token (32 hex digits and a NUL, only this
/// holder knows it) to `token` and returns `MC_OK`. While another holds
/// it, tries again with a growing random pause for `wait_ms`, then
/// `MC_CONFLICT`. The lock lives `ttl` seconds at most (at least 1,
/// `MC_INVALID` for 0), so a holder that crashed cannot keep it.
///
/// # Safety
/// `name` is a NUL-terminated string; `token` has `MC_UNIQUE_KEY_SIZE`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn mc_lock(
    handle: u64,
    name: *const c_char,
    ttl: u32,
    wait_ms: u32,
    token: *mut c_char,
) -> mc_result {
    guard(|| {
        // SAFETY: `name` is a NUL-terminated string (this function's contract).
        let name = unsafe { text(name, "name") }?;
        if token.is_null() {
            return Err(null("token"));
        }
        let wait = Duration::from_millis(wait_ms.into());
        let taken = client(handle)?.lock(name, ttl, wait)?;
        // SAFETY: `token` has MC_UNIQUE_KEY_SIZE = taken.len() + 1 writable
        // bytes (this function's contract).
        unsafe {
            std::ptr::copy_nonoverlapping(taken.as_ptr(), token.cast::<u8>(), taken.len());
            *token.add(taken.len()) = 0;
        }
        Ok(mc_result::MC_OK)
    })
}

/// Releases the lock `name` if `token` (from `mc_lock`) still holds it:
/// `MC_OK`. `MC_NOTFOUND` when it no longer does (it expired, and another
/// holder may have it now: that one keeps it).
///
/// # Safety
/// `name` and `token` are NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn mc_unlock(
    handle: u64,
    name: *const c_char,
    token: *const c_char,
) -> mc_result {
    guard(|| {
        // SAFETY: `name` is a NUL-terminated string (this function's contract).
        let name = unsafe { text(name, "name") }?;
        // SAFETY: `token` is a NUL-terminated string (this function's contract).
        let token = utf8(unsafe { text(token, "token") }?, "token")?;
        Ok(found(client(handle)?.unlock(name, &token)?))
    })
}
