//! The retrievals: into `malloc` blocks the caller frees with `mc_free`,
//! one block per call.

use std::ffi::{c_char, c_void};
use std::ptr;

use crate::client::{Client, ValueBuf};
use crate::error::{Error, Kind, Result};

use super::boundary::*;
use super::found::Found;
use super::types::*;

/// A value's memory for the caller: `malloc`ed (so `mc_free` releases it),
/// one byte longer than the value for a NUL, filled straight from the
/// socket by the client. Freed on drop unless handed out.
pub(super) struct MallocBuf {
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
pub(super) fn malloc_buf(size: usize, _flags: u32) -> Result<MallocBuf> {
    MallocBuf::new(size)
}

/// The body of `mc_get`, `mc_get_and_touch` and `mc_get_n`: checks the arguments, reads
/// the item with `read` (straight into the `malloc` block handed out), and
/// hands it out.
///
/// # Safety
/// As `mc_get`.
pub(super) unsafe fn fetch(
    handle: u64,
    key: KeyArg,
    value: *mut *mut c_void,
    len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
    read: impl FnOnce(&Client, &[u8], bool) -> Result<Option<(MallocBuf, u32, u64)>>,
) -> mc_result {
    guard(|| {
        // SAFETY: as this function's contract.
        let key = unsafe { key.bytes() }?;
        if value.is_null() || len.is_null() {
            return Err(null(if value.is_null() { "value" } else { "len" }));
        }
        // A cas only when asked for (a `get` then, not a `gets`).
        match read(&*client(handle)?, key, !cas.is_null())? {
            Some((buf, f, c)) => {
                // SAFETY: `len` was checked to be non-null and is valid for writes (this function's contract).
                unsafe { len.write(buf.len) };
                // SAFETY: `value` was checked to be non-null and is valid for writes (this function's contract).
                unsafe { value.write(buf.into_raw().cast()) };
                // SAFETY: `flags` is null or valid for a write (this function's contract).
                unsafe { put(flags, f) };
                // SAFETY: `cas` is null or valid for a write (this function's contract).
                unsafe { put(cas, c) };
                Ok(mc_result::MC_OK)
            }
            None => Ok(mc_result::MC_NOTFOUND),
        }
    })
}

/// Reads the item under `key`: `*value` receives a new buffer of `*len`
/// bytes (plus a NUL not counted) to release with `mc_free`; `flags` and
/// `cas` may be null (a null `cas` asks the server for none: the request
/// is a `get`, not a `gets`). `MC_NOTFOUND` on a miss.
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
    // SAFETY: this function's contract covers `fetch`'s (see # Safety).
    unsafe {
        let key = KeyArg::Text(key);
        fetch(handle, key, value, len, flags, cas, |c, key, want| {
            c.get_with(key, want, malloc_buf)
        })
    }
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
    // SAFETY: this function's contract covers `fetch`'s (see # Safety).
    unsafe {
        let key = KeyArg::Text(key);
        fetch(handle, key, value, len, flags, cas, |c, key, _| {
            c.at(None).get_and_touch_with(key, ttl, malloc_buf)
        })
    }
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
    // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
    let place = unsafe { place_arg(place) };
    // SAFETY: this function's contract covers `fetch`'s (see # Safety).
    unsafe {
        fetch(
            handle,
            KeyArg::Text(key),
            value,
            len,
            flags,
            cas,
            |c, key, want| c.at(place).get_with(key, want, malloc_buf),
        )
    }
}

/// The caller's allocator of `mc_get_into`: `len` writable bytes for a
/// value with `flags` (after decompression, with the python value format),
/// or NULL when it cannot give them.
#[allow(non_camel_case_types)]
pub type mc_alloc_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, len: usize, flags: u32) -> *mut c_void>;

/// A value's memory from the caller's allocator.
struct CallerBuf {
    ptr: *mut u8,
    len: usize,
}

impl ValueBuf for CallerBuf {
    fn slots(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: the allocator gave `len` writable bytes at `ptr` (its
        // contract, `mc_get_into`'s).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.cast(), self.len) }
    }

    unsafe fn set_filled(&mut self) {}
}

/// As `mc_get_by_key` (`place` may be null), the value read straight into
/// memory the caller gives: once the value's size is known, the library
/// calls `alloc(user, len, flags)` and fills the `len` bytes it returns,
/// so a value lands where the caller wants it (an object of its own, an
/// arena) with no copy. `*len`, `*flags` and `*cas` (each may be null)
/// receive the value's size, flags and CAS value. `alloc` is called on
/// the calling thread, at most once per attempt: a request retried on a
/// new connection (the first one failed before its reply began) calls it
/// again, and every block it gave is the caller's, filled or not. NULL
/// from it fails the call with `MC_INVALID`. `MC_NOTFOUND` on a miss
/// (`alloc` is not called).
///
/// # Safety
/// `place` is null or a NUL-terminated string; `key` is a NUL-terminated
/// string; `alloc` returns null or `len` writable bytes; `len`, `flags`
/// and `cas` are null or valid for a write.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mc_get_into(
    handle: u64,
    place: *const c_char,
    key: *const c_char,
    alloc: mc_alloc_fn,
    user: *mut c_void,
    len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
) -> mc_result {
    guard(|| {
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        // SAFETY: `key` is null or a NUL-terminated string (this function's contract).
        let key = unsafe { text(key, "key") }?;
        let alloc = alloc.ok_or_else(|| null("alloc"))?;
        let make = |size: usize, f: u32| {
            // SAFETY: the caller's allocator, called as its contract says.
            let ptr = unsafe { alloc(user, size, f) }.cast::<u8>();
            if ptr.is_null() && size > 0 {
                return Err(Error::new(
                    Kind::Invalid,
                    format!("the caller's allocator gave no memory for a value of {size} bytes"),
                ));
            }
            Ok(CallerBuf { ptr, len: size })
        };
        match client(handle)?
            .at(place)
            .get_with(key, !cas.is_null(), make)?
        {
            Some((buf, f, c)) => {
                // SAFETY: each is null or valid for a write (this function's contract).
                unsafe {
                    put(len, buf.len);
                    put(flags, f);
                    put(cas, c);
                }
                Ok(mc_result::MC_OK)
            }
            None => Ok(mc_result::MC_NOTFOUND),
        }
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
    // SAFETY: this function's contract covers `get_multi`'s (see # Safety).
    unsafe {
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
    // SAFETY: this function's contract covers `get_multi`'s (see # Safety).
    unsafe {
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
    // SAFETY: this function's contract covers `get_multi`'s (see # Safety).
    unsafe { get_multi(handle, ptr::null(), keys, count_keys, hits, count, failed) }
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
        // SAFETY: `place` is null or a NUL-terminated string (this function's contract).
        let place = unsafe { place_arg(place) };
        if hits.is_null() || count.is_null() {
            return Err(null(if hits.is_null() { "hits" } else { "count" }));
        }
        // SAFETY: `keys` points to `count_keys` NUL-terminated strings (this
        // function's contract).
        let keys = unsafe { text_array(keys, count_keys, "keys", "a key") }?;
        let client = client(handle)?;
        let at = client.at(place);
        // The hits' keys and values go straight into the block handed out
        // as they are read: no allocation per hit, one copy.
        let mut found = Found::for_keys(keys.len())?;
        let each = |_, key: &[u8], flags, cas, value: &[u8]| found.add(key, flags, cas, value);
        if failed.is_null() {
            at.get_many_with(keys, true, each)?;
            // SAFETY: `hits` and `count` were checked to be non-null and
            // are valid for a write (this function's contract).
            return unsafe { found.give(hits, count) };
        }
        let errors = at.get_many_partial_with(keys, true, each)?;
        // SAFETY: as above.
        unsafe { found.give(hits, count) }?;
        // SAFETY: `failed` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { failed.write(errors.len()) };
        if let Some(e) = errors.first() {
            set_last_error(e.message());
        }
        Ok(mc_result::MC_OK)
    })
}

/// `MC_OK` if the key has an item, `MC_NOTFOUND` if not; the value is not
/// transferred (meta get; memcached 1.6.10 or later).
///
/// # Safety
/// `key` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mc_exists(handle: u64, key: *const c_char) -> mc_result {
    // SAFETY: `key` is null or a NUL-terminated string (this function's contract).
    guard(|| Ok(found(client(handle)?.exists(unsafe { text(key, "key") }?)?)))
}

/// The seconds the item under `key` has left to live (-1: no expiry);
/// `MC_NOTFOUND` if none (meta get; memcached 1.6.10 or later).
///
/// # Safety
/// `key` is a NUL-terminated string; `ttl` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_ttl(handle: u64, key: *const c_char, ttl: *mut i64) -> mc_result {
    // SAFETY: as this function's contract.
    guard(|| unsafe { asked(handle, key, ttl, "ttl", |c, key| c.ttl(key)) })
}

/// The flags stored with the item under `key`, as the server holds them
/// (compression bits included, whatever the value format); `MC_NOTFOUND`
/// if none. The value is not transferred (meta get; classic `gets` where
/// the server has no meta commands).
///
/// # Safety
/// `key` is a NUL-terminated string; `flags` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_flags(handle: u64, key: *const c_char, flags: *mut u32) -> mc_result {
    // SAFETY: as this function's contract.
    guard(|| unsafe { asked(handle, key, flags, "flags", |c, key| c.flags(key)) })
}

/// A question about the item under `key` (`ask`): its answer written to
/// `out` and `MC_OK`, or `MC_NOTFOUND`.
///
/// # Safety
/// `key` is null or a NUL-terminated string; `out` is null or valid for a
/// write.
unsafe fn asked<T>(
    handle: u64,
    key: *const c_char,
    out: *mut T,
    what: &str,
    ask: impl FnOnce(&crate::Client, &[u8]) -> crate::Result<Option<T>>,
) -> crate::Result<mc_result> {
    // SAFETY: `key` is null or a NUL-terminated string (the caller's contract).
    let key = unsafe { text(key, "key") }?;
    if out.is_null() {
        return Err(null(what));
    }
    match ask(&*client(handle)?, key)? {
        Some(answer) => {
            // SAFETY: `out` was checked to be non-null and is valid for a
            // write (the caller's contract).
            unsafe { out.write(answer) };
            Ok(mc_result::MC_OK)
        }
        None => Ok(mc_result::MC_NOTFOUND),
    }
}
