//! The cache stampede's answer: get-or-compute with a lease (`mc_fetch`)
//! and stale-while-revalidate (`mc_invalidate`), on memcached 1.6's meta
//! commands.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use crate::client::{FetchOptions, LeaseState};
use crate::error::{Error, Kind};

use super::boundary::*;
use super::types::*;
use super::update::mc_update_value;

/// How `mc_fetch` waits and recomputes; a zero field takes its default.
#[repr(C)]
pub struct mc_fetch_options {
    /// Seconds the caller that computes has before others may: the lifetime
    /// of the placeholder a miss leaves (default 30).
    pub lease: u32,
    /// Milliseconds the other callers wait for its value (default 10000);
    /// then each computes the value itself (stored only if the placeholder
    /// is still there), so none fails because the winner is slow.
    pub wait_ms: u32,
    /// With more than 0: when a live item has fewer seconds left, one
    /// caller recomputes it early while the others keep getting it.
    pub recache: u32,
}

/// The function `mc_fetch` calls to compute a missing value: it fills
/// `*value` (the bytes stay valid until `mc_fetch` returns) and returns 0;
/// anything else is a failure (nothing is stored).
#[allow(non_camel_case_types)]
pub type mc_compute_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, value: *mut mc_update_value) -> u32>;

/// The value of `key`, computed by `compute` when there is none, by one
/// caller among all that ask at once, in every thread and process (a
/// lease: memcached 1.6's meta `N`/`W`/`Z`); the others wait for its value
/// and get it. An item marked stale (`mc_invalidate`) is returned at once
/// to every caller but one, who recomputes it. The value computed is
/// stored with `ttl`. `*value` receives a new buffer of `*len` bytes (plus
/// a NUL) to release with `mc_free`; `flags` may be null. When `compute`
/// fails, nothing is stored, the win is given back at once (the next
/// caller computes) and the result is `MC_NOTSTORED`. A server without the
/// meta commands answers `MC_CLIENT` ("ERROR"), with nothing left behind.
///
/// # Safety
/// `key` is a NUL-terminated string; `options` is null or valid; `compute`
/// is a function as described, called on this thread only; `value` and
/// `len` are valid for a write, `flags` null or valid for one.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mc_fetch(
    handle: u64,
    key: *const c_char,
    ttl: u32,
    options: *const mc_fetch_options,
    compute: mc_compute_fn,
    user: *mut c_void,
    value: *mut *mut c_void,
    len: *mut usize,
    flags: *mut u32,
) -> mc_result {
    guard(|| {
        // SAFETY: a NUL-terminated string (this function's contract).
        let key = unsafe { text(key, "key") }?;
        let compute = compute.ok_or_else(|| null("compute"))?;
        if value.is_null() || len.is_null() {
            return Err(null(if value.is_null() { "value" } else { "len" }));
        }
        let mut chosen = FetchOptions::default();
        // SAFETY: null or valid (this function's contract).
        if let Some(o) = unsafe { options.as_ref() } {
            if o.lease > 0 {
                chosen.lease = o.lease;
            }
            if o.wait_ms > 0 {
                chosen.wait = Duration::from_millis(o.wait_ms.into());
            }
            chosen.recache = o.recache;
        }
        let run = || {
            let mut out = mc_update_value {
                value: std::ptr::null(),
                len: 0,
                flags: 0,
            };
            // SAFETY: the caller's function (this function's contract);
            // `out` is a local it may write.
            let failed = unsafe { compute(user, &mut out) };
            if failed != 0 {
                return Err(Error::new(
                    Kind::NotStored,
                    format!("the compute function failed (it returned {failed}): nothing stored"),
                ));
            }
            // SAFETY: the function's promise: `out.len` bytes at `out.value`.
            let data = unsafe { bytes(out.value, out.len, "the value computed") }?;
            Ok((data.to_vec(), out.flags))
        };
        let (data, f) = client(handle)?.fetch(key, ttl, chosen, run)?;
        let copy = malloc_copy(&data)?;
        // SAFETY: checked non-null, valid for writes (this function's contract).
        unsafe {
            value.write(copy.cast());
            len.write(data.len());
            put(flags, f);
        }
        Ok(mc_result::MC_OK)
    })
}

/// The verdict of `mc_lease_get`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mc_lease_state {
    /// A value: use it.
    MC_LEASE_HIT = 0,
    /// This caller computes the value and stores it with `mc_cas` and the
    /// CAS value given (`MC_EXISTS` then means another value landed
    /// meanwhile: keep it). To give the win back instead: `mc_remove` when
    /// the value given is empty (a placeholder), `mc_invalidate` when it
    /// is stale.
    MC_LEASE_WIN = 1,
    /// Another caller computes the value: wait, and ask again.
    MC_LEASE_WAIT = 2,
    /// A stale value that another caller is recomputing: use it.
    MC_LEASE_STALE = 3,
}

/// One lease get, for a C program that runs its own loop (`mc_fetch`
/// runs one): the item of `key` (`*value`, `*len` bytes plus a NUL, to
/// release with `mc_free`; empty for a placeholder), its flags and CAS
/// value, and the server's verdict in `*state` (an `mc_lease_state`). On a
/// miss the server makes an empty placeholder that lives `lease` seconds
/// (at least 1) and hands this call the win; with `recache` > 0, a live
/// item with fewer seconds left hands one call the win too. `flags`,
/// `cas` may be null.
///
/// # Safety
/// `key` is a NUL-terminated string; `value`, `len` and `state` are valid
/// for a write; `flags` and `cas` are null or valid for a write.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mc_lease_get(
    handle: u64,
    key: *const c_char,
    lease: u32,
    recache: u32,
    value: *mut *mut c_void,
    len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
    state: *mut u32,
) -> mc_result {
    guard(|| {
        // SAFETY: a NUL-terminated string (this function's contract).
        let key = unsafe { text(key, "key") }?;
        if value.is_null() || len.is_null() || state.is_null() {
            return Err(null(match (value.is_null(), len.is_null()) {
                (true, _) => "value",
                (false, true) => "len",
                _ => "state",
            }));
        }
        if lease == 0 {
            return Err(Error::new(
                Kind::Invalid,
                "a lease get needs a lease of at least 1 second",
            ));
        }
        let found = client(handle)?.lease_get(key, lease, recache)?;
        let verdict = match found.state() {
            LeaseState::Hit => mc_lease_state::MC_LEASE_HIT,
            LeaseState::Win => mc_lease_state::MC_LEASE_WIN,
            LeaseState::Wait => mc_lease_state::MC_LEASE_WAIT,
            LeaseState::Stale => mc_lease_state::MC_LEASE_STALE,
        };
        let copy = malloc_copy(&found.data)?;
        // SAFETY: checked non-null or null-or-valid (this function's contract).
        unsafe {
            value.write(copy.cast());
            len.write(found.data.len());
            state.write(verdict as u32);
            put(flags, found.flags);
            put(cas, found.cas);
        }
        Ok(mc_result::MC_OK)
    })
}

/// Marks the item of `key` stale instead of deleting it (meta `md ... I`):
/// the next `mc_fetch` calls get it at once while one of them recomputes
/// it. `ttl`: how long the stale item may still be served (0: its
/// lifetime is kept). `MC_NOTFOUND` when there is no item.
///
/// # Safety
/// `key` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mc_invalidate(handle: u64, key: *const c_char, ttl: u32) -> mc_result {
    guard(|| {
        // SAFETY: a NUL-terminated string (this function's contract).
        let key = unsafe { text(key, "key") }?;
        let ttl = (ttl > 0).then_some(ttl);
        Ok(found(client(handle)?.invalidate(key, ttl)?))
    })
}
