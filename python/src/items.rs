//! Items: stores, reads, deletes, counters, one key or many, as module
//! functions of `_native` (the general path; `fast` and `many` hold the
//! common cases of the interfaces' hottest methods).

use std::ffi::CStr;
use std::ptr;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::call::{check_key, cstring, pointers, run, run_with, Malloced, Ptr, Shared};
use crate::ffi;
use crate::landing::{self, Landing};

/// A result slot the library has not written.
const UNWRITTEN: u32 = u32::MAX;

/// A TTL argument: the library's TTL (0 to 2^32 - 1), or with `exptime`
/// memcached's own exptime, a signed 32-bit number (python-memcached's
/// `time`: the `_exptime` calls).
#[derive(Clone, Copy)]
enum Expiry {
    Ttl(u32),
    Exptime(i32),
}

impl Expiry {
    fn new(ttl: i64, exptime: bool) -> PyResult<Expiry> {
        let range =
            || pyo3::exceptions::PyOverflowError::new_err(format!("ttl {ttl} out of range"));
        Ok(match exptime {
            false => Expiry::Ttl(u32::try_from(ttl).map_err(|_| range())?),
            true => Expiry::Exptime(i32::try_from(ttl).map_err(|_| range())?),
        })
    }
}

/// Any store (`verb` an `mc_verb`): 0 stored, 1 not found, 2 not stored,
/// 3 exists.
#[pyfunction]
#[pyo3(signature = (handle, verb, key, value, flags, ttl, cas=0, place=None, exptime=false))]
#[allow(clippy::too_many_arguments)]
pub fn store(
    py: Python<'_>,
    handle: u64,
    verb: u32,
    key: &[u8],
    value: &[u8],
    flags: u32,
    ttl: i64,
    cas: u64,
    place: Option<&[u8]>,
    exptime: bool,
) -> PyResult<u32> {
    let ttl = Expiry::new(ttl, exptime)?;
    let key = check_key(key)?;
    let place = place.map(|p| cstring(p, "place")).transpose()?;
    let place = Ptr(place.as_ref().map_or(ptr::null(), |p| p.as_ptr()));
    run(
        py,
        &[ffi::NOTFOUND, ffi::NOTSTORED, ffi::EXISTS],
        // SAFETY: every pointer passed is into this call's live arguments (C
        // strings, buffers, out-parameters), valid for the whole C call.
        || unsafe {
            let (key, value, len) = (key.as_ptr(), value.as_ptr().cast(), value.len());
            match ttl {
                Expiry::Ttl(ttl) => {
                    ffi::mc_store(handle, verb, place.get(), key, value, len, flags, ttl, cas)
                }
                Expiry::Exptime(e) => {
                    ffi::mc_store_exptime(handle, verb, place.get(), key, value, len, flags, e, cas)
                }
            }
        },
    )
}

/// `(value, flags, cas)` of a key, or None.
#[pyfunction]
#[pyo3(signature = (handle, key, place=None))]
pub fn get<'py>(
    py: Python<'py>,
    handle: u64,
    key: &[u8],
    place: Option<&[u8]>,
) -> PyResult<Option<(Bound<'py, PyBytes>, u32, u64)>> {
    let key = check_key(key)?;
    let place = place.map(|p| cstring(p, "place")).transpose()?;
    let place = Ptr(place.as_ref().map_or(ptr::null(), |p| p.as_ptr()));
    let mut value = Landing::new();
    let (mut flags, mut cas) = (0u32, 0u64);
    let rc = run(py, &[ffi::NOTFOUND], || {
        let user = value.user();
        // SAFETY: every pointer passed is into this call's live arguments
        // (C strings, out-parameters), valid for the whole C call; `user`
        // is the Landing `landing::alloc` expects.
        unsafe {
            ffi::mc_get_into(
                handle,
                place.get(),
                key.as_ptr(),
                Some(landing::alloc),
                user,
                ptr::null_mut(),
                &mut flags,
                &mut cas,
            )
        }
    })?;
    if rc == ffi::NOTFOUND {
        return Ok(None);
    }
    Ok(Some((value.into_bytes(py), flags, cas)))
}

/// The hits among `keys`, pipelined (one write per server): a list of
/// `(key, value, flags, cas)` in the servers' reply order. `partial`: a
/// server that fails leaves its keys out instead of failing the call
/// (python-memcached's `get_multi`; not with `place`).
#[pyfunction]
#[pyo3(signature = (handle, keys, place=None, partial=false))]
pub fn get_multi<'py>(
    py: Python<'py>,
    handle: u64,
    keys: Vec<Vec<u8>>,
    place: Option<&[u8]>,
    partial: bool,
) -> PyResult<Bound<'py, PyList>> {
    let keys = keys
        .iter()
        .map(|k| check_key(k))
        .collect::<PyResult<Vec<_>>>()?;
    let place = place.map(|p| cstring(p, "place")).transpose()?;
    let place = Ptr(place.as_ref().map_or(ptr::null(), |p| p.as_ptr()));
    let list = Shared(pointers(&keys));
    let mut hits = Malloced::new();
    let mut count = 0usize;
    let mut failed = 0usize;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        match partial {
            false => ffi::mc_get_multi_by_key(
                handle,
                place.get(),
                list.get().as_ptr(),
                list.get().len(),
                hits.ptr().cast(),
                &mut count,
            ),
            true => ffi::mc_get_multi_partial(
                handle,
                list.get().as_ptr(),
                list.get().len(),
                hits.ptr().cast(),
                &mut count,
                &mut failed,
            ),
        }
    })?;
    let out = PyList::empty(py);
    for hit in hits.records::<ffi::Hit>(count) {
        // SAFETY: the library's records: a NUL-terminated key and
        // `value_len` bytes of value, alive until `hits` is freed.
        let (key, value) = unsafe {
            (
                CStr::from_ptr(hit.key).to_bytes(),
                std::slice::from_raw_parts(hit.value, hit.value_len),
            )
        };
        let item = (
            PyBytes::new(py, key),
            PyBytes::new(py, value),
            hit.flags,
            hit.cas,
        );
        out.append(item)?;
    }
    Ok(out)
}

/// Stores `(key, value, flags)` entries, pipelined; a result code each.
#[pyfunction]
#[pyo3(signature = (handle, entries, ttl, exptime=false))]
pub fn set_multi(
    py: Python<'_>,
    handle: u64,
    entries: Vec<(Vec<u8>, Vec<u8>, u32)>,
    ttl: i64,
    exptime: bool,
) -> PyResult<Vec<u32>> {
    let ttl = Expiry::new(ttl, exptime)?;
    let keys = entries
        .iter()
        .map(|(k, _, _)| check_key(k))
        .collect::<PyResult<Vec<_>>>()?;
    let records: Vec<ffi::Entry> = entries
        .iter()
        .zip(&keys)
        .map(|((_, value, flags), key)| ffi::Entry {
            key: key.as_ptr(),
            value: value.as_ptr().cast(),
            value_len: value.len(),
            flags: *flags,
        })
        .collect();
    let records = Shared(records);
    // Per-item outcomes are written even when the call reports an item's
    // error; a status left unwritten means the whole call failed.
    let mut statuses = vec![UNWRITTEN; entries.len()];
    run_with(py, || {
        // SAFETY: the records point into `entries` and `keys`, alive for
        // the call; `statuses` has room for one result per record.
        let rc = unsafe {
            let (list, count, out) = (
                records.get().as_ptr(),
                records.get().len(),
                statuses.as_mut_ptr(),
            );
            match ttl {
                Expiry::Ttl(ttl) => ffi::mc_set_multi(handle, list, count, ttl, out),
                Expiry::Exptime(e) => {
                    ffi::mc_set_multi_exptime(handle, ptr::null(), list, count, e, out)
                }
            }
        };
        (rc, statuses.iter().all(|&s| s != UNWRITTEN))
    })?;
    Ok(statuses)
}

/// Deletes a key: whether it had an item.
#[pyfunction]
#[pyo3(signature = (handle, key, place=None))]
pub fn remove(py: Python<'_>, handle: u64, key: &[u8], place: Option<&[u8]>) -> PyResult<bool> {
    let key = check_key(key)?;
    let place = place.map(|p| cstring(p, "place")).transpose()?;
    let place = Ptr(place.as_ref().map_or(ptr::null(), |p| p.as_ptr()));
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    let rc = run(py, &[ffi::NOTFOUND], || unsafe {
        ffi::mc_remove_by_key(handle, place.get(), key.as_ptr())
    })?;
    Ok(rc == ffi::OK)
}

/// Deletes keys, pipelined; a result code each (0 deleted, 1 not found).
#[pyfunction]
pub fn remove_multi(py: Python<'_>, handle: u64, keys: Vec<Vec<u8>>) -> PyResult<Vec<u32>> {
    let keys = keys
        .iter()
        .map(|k| check_key(k))
        .collect::<PyResult<Vec<_>>>()?;
    let list = Shared(pointers(&keys));
    let mut statuses = vec![0u32; keys.len()];
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[ffi::NOTFOUND], || unsafe {
        ffi::mc_remove_multi(
            handle,
            list.get().as_ptr(),
            list.get().len(),
            statuses.as_mut_ptr(),
        )
    })?;
    Ok(statuses)
}

/// Sets a key's TTL: whether it had an item.
#[pyfunction]
#[pyo3(signature = (handle, key, ttl, place=None, exptime=false))]
pub fn touch(
    py: Python<'_>,
    handle: u64,
    key: &[u8],
    ttl: i64,
    place: Option<&[u8]>,
    exptime: bool,
) -> PyResult<bool> {
    let ttl = Expiry::new(ttl, exptime)?;
    let key = check_key(key)?;
    let place = place.map(|p| cstring(p, "place")).transpose()?;
    let place = Ptr(place.as_ref().map_or(ptr::null(), |p| p.as_ptr()));
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    let rc = run(py, &[ffi::NOTFOUND], || unsafe {
        match ttl {
            Expiry::Ttl(ttl) => ffi::mc_touch_by_key(handle, place.get(), key.as_ptr(), ttl),
            Expiry::Exptime(e) => ffi::mc_touch_exptime(handle, place.get(), key.as_ptr(), e),
        }
    })?;
    Ok(rc == ffi::OK)
}

/// Adds `delta` to a counter (`down`: subtracts, stopping at 0): the new
/// value, or None when the key has no item.
#[pyfunction]
#[pyo3(signature = (handle, key, delta, down, place=None))]
pub fn count(
    py: Python<'_>,
    handle: u64,
    key: &[u8],
    delta: u64,
    down: bool,
    place: Option<&[u8]>,
) -> PyResult<Option<u64>> {
    let key = check_key(key)?;
    let place = place.map(|p| cstring(p, "place")).transpose()?;
    let place = Ptr(place.as_ref().map_or(ptr::null(), |p| p.as_ptr()));
    let mut value = 0u64;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    let rc = run(py, &[ffi::NOTFOUND], || unsafe {
        match down {
            false => ffi::mc_incr_by_key(handle, place.get(), key.as_ptr(), delta, &mut value),
            true => ffi::mc_decr_by_key(handle, place.get(), key.as_ptr(), delta, &mut value),
        }
    })?;
    Ok((rc == ffi::OK).then_some(value))
}

/// Whether a key has an item.
#[pyfunction]
pub fn exists(py: Python<'_>, handle: u64, key: &[u8]) -> PyResult<bool> {
    let key = check_key(key)?;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    let rc = run(py, &[ffi::NOTFOUND], || unsafe {
        ffi::mc_exists(handle, key.as_ptr())
    })?;
    Ok(rc == ffi::OK)
}

/// Seconds a key's item has left (-1: no expiry), or None.
#[pyfunction]
pub fn ttl(py: Python<'_>, handle: u64, key: &[u8]) -> PyResult<Option<i64>> {
    ask(py, handle, key, ffi::mc_ttl)
}

/// The flags of a key's item as the server holds them, or None.
#[pyfunction]
pub fn flags(py: Python<'_>, handle: u64, key: &[u8]) -> PyResult<Option<u32>> {
    ask(py, handle, key, ffi::mc_flags)
}

/// The answer of a C question about a key's item (`mc_ttl`, `mc_flags`),
/// or None if it has none.
fn ask<T: Default + Send>(
    py: Python<'_>,
    handle: u64,
    key: &[u8],
    question: unsafe extern "C" fn(u64, *const std::ffi::c_char, *mut T) -> ffi::McResult,
) -> PyResult<Option<T>> {
    let key = check_key(key)?;
    let mut answer = T::default();
    // SAFETY: every pointer passed is into this call's live arguments (a
    // C string, an out-parameter), valid for the whole C call.
    let rc = run(py, &[ffi::NOTFOUND], || unsafe {
        question(handle, key.as_ptr(), &mut answer)
    })?;
    Ok((rc == ffi::OK).then_some(answer))
}
