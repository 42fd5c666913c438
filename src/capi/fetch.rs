//! The retrievals: into `malloc` blocks the caller frees with `mc_free`,
//! one block per call.

use std::ffi::{c_char, c_void};
use std::ptr;

use crate::client::{Client, ValueBuf};
use crate::error::{Error, Kind, Result};

use super::boundary::*;
use super::types::*;

/// A value's memory for the caller: `malloc`ed (so `mc_free` releases it),
/// one byte longer than the value for a NUL, filled straight from the
/// socket by the client. Freed on drop unless handed out.
struct MallocBuf {
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
fn malloc_buf(size: usize, _flags: u32) -> Result<MallocBuf> {
    MallocBuf::new(size)
}

/// The body of `mc_get` and `mc_get_and_touch`: checks the arguments, reads
/// the item with `read` (straight into the `malloc` block handed out), and
/// hands it out.
///
/// # Safety
/// As `mc_get`.
unsafe fn fetch(
    handle: u64,
    key: *const c_char,
    value: *mut *mut c_void,
    len: *mut usize,
    flags: *mut u32,
    cas: *mut u64,
    read: impl FnOnce(&Client, &[u8]) -> Result<Option<(MallocBuf, u32, u64)>>,
) -> mc_result {
    guard(|| {
        // SAFETY: `key` is null or a NUL-terminated string (this function's contract).
        let key = unsafe { text(key, "key") }?;
        if value.is_null() || len.is_null() {
            return Err(null(if value.is_null() { "value" } else { "len" }));
        }
        match read(&*client(handle)?, key)? {
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
/// `cas` may be null. `MC_NOTFOUND` on a miss.
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
        fetch(handle, key, value, len, flags, cas, |c, key| {
            c.get_with(key, malloc_buf)
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
        fetch(handle, key, value, len, flags, cas, |c, key| {
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
        fetch(handle, key, value, len, flags, cas, |c, key| {
            c.at(place).get_with(key, malloc_buf)
        })
    }
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
        let keys = unsafe { texts(keys, count_keys, "keys", "a key") }?;
        let client = client(handle)?;
        let at = client.at(place);
        // The hits' keys and values (each NUL-terminated) go into one
        // buffer as they are read, then into the block handed out: no
        // allocation per hit.
        let mut found = Found::with_capacity(keys.len());
        let each = |key: &[u8], flags, cas, value: &[u8]| found.add(key, flags, cas, value);
        if failed.is_null() {
            at.get_many_with(&keys, each)?;
            // SAFETY: `hits` and `count` were checked to be non-null and
            // are valid for a write (this function's contract).
            return unsafe { found.give(hits, count) };
        }
        let errors = at.get_many_partial_with(&keys, each)?;
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

/// The hits of a multi-get as they are read: keys and values, each
/// NUL-terminated, one after the other in `strings`, and where each hit's
/// are.
struct Found {
    strings: Vec<u8>,
    hits: Vec<FoundHit>,
}

/// One hit in [`Found`]: its key at `strings[at..]`, its value right after
/// the key's NUL.
#[derive(Clone, Copy)]
struct FoundHit {
    at: usize,
    key_len: usize,
    value_len: usize,
    flags: u32,
    cas: u64,
}

impl Found {
    fn with_capacity(keys: usize) -> Found {
        Found {
            strings: Vec::with_capacity(keys * 128),
            hits: Vec::with_capacity(keys),
        }
    }

    fn add(&mut self, key: &[u8], flags: u32, cas: u64, value: &[u8]) {
        let at = self.strings.len();
        self.strings.extend_from_slice(key);
        self.strings.push(0);
        self.strings.extend_from_slice(value);
        self.strings.push(0);
        self.hits.push(FoundHit {
            at,
            key_len: key.len(),
            value_len: value.len(),
            flags,
            cas,
        });
    }

    /// Hands the hits out as one `malloc`ed block: the `mc_hit` array,
    /// then the keys and values.
    ///
    /// # Safety
    /// `hits` and `count` are valid for a write.
    unsafe fn give(self, hits: *mut *mut mc_hit, count: *mut usize) -> Result<mc_result> {
        let array = pack(self.hits.len(), &self.strings, |i, base| {
            let hit = self.hits[i];
            mc_hit {
                key: base.wrapping_add(hit.at).cast(),
                value: base.wrapping_add(hit.at + hit.key_len + 1),
                value_len: hit.value_len,
                flags: hit.flags,
                cas: hit.cas,
            }
        })?;
        // SAFETY: `hits` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { hits.write(array) };
        // SAFETY: `count` was checked to be non-null and is valid for writes (this function's contract).
        unsafe { count.write(self.hits.len()) };
        Ok(mc_result::MC_OK)
    }
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
    guard(|| {
        // SAFETY: `key` is null or a NUL-terminated string (this function's contract).
        let key = unsafe { text(key, "key") }?;
        if ttl.is_null() {
            return Err(null("ttl"));
        }
        match client(handle)?.ttl(key)? {
            Some(t) => {
                // SAFETY: `ttl` was checked to be non-null and is valid for writes (this function's contract).
                unsafe { ttl.write(t) };
                Ok(mc_result::MC_OK)
            }
            None => Ok(mc_result::MC_NOTFOUND),
        }
    })
}
