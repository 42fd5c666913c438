//! `memcache._native`: the C ABI of libmemcache as Python functions, for
//! the package's two interfaces (`memcache.Memcache`, seed 000's, and
//! `memcache.Client`, python-memcached's), which are written in Python
//! over it. Everything here converts: Python bytes and numbers to C
//! arguments, results to Python objects, failures to the package's
//! exceptions. Every call that may wait on a server releases the GIL.
//!
//! Handles are the registry's numbers (`memcache3` is 3); keys and values
//! are bytes (the Python layer encodes text); a placement value (`place`)
//! is python-memcached's hash value or libmemcached's group key.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod call;
mod fast;
mod ffi;
mod many;

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use call::{check_key, cstring, lossy, run, run_with, taken_string, Malloced};

/// A result slot the library has not written.
const UNWRITTEN: u32 = u32::MAX;

/// Gives the module the exception class of each result code (a dict
/// `code -> class`); until then failures raise RuntimeError.
#[pyfunction]
fn init(errors: Bound<'_, PyDict>) -> PyResult<()> {
    call::set_errors(errors)
}

/// The path of the libmemcache this module is bound to.
#[pyfunction]
fn library_path() -> String {
    // SAFETY: never null, a NUL-terminated string that lives as long as
    // the library.
    lossy(unsafe { ffi::mc_library_path() })
}

/// A new handle for `servers`, with `settings` (name, value) applied
/// first; a daemon is started for a socket file nothing answers on.
#[pyfunction]
fn create(py: Python<'_>, servers: Vec<String>, settings: Vec<(String, String)>) -> PyResult<u64> {
    let servers = servers
        .iter()
        .map(|s| cstring(s.as_bytes(), "server"))
        .collect::<PyResult<Vec<_>>>()?;
    let words = setting_words(&settings)?;
    let (servers, words) = (pointers(&servers), pointers(&words));
    let (servers, words) = (Shared(servers), Shared(words));
    let mut handle = 0u64;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_create_configured(
            servers.get().as_ptr(),
            servers.get().len(),
            words.get().as_ptr(),
            words.get().len() / 2,
            &mut handle,
        )
    })?;
    Ok(handle)
}

/// Deletes a handle.
#[pyfunction]
fn delete(py: Python<'_>, handle: u64) -> PyResult<()> {
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_delete(handle) }).map(drop)
}

/// Deletes every handle of the process; how many there were.
#[pyfunction]
fn delete_all(py: Python<'_>) -> PyResult<usize> {
    let mut count = 0usize;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_delete_all(&mut count) })?;
    Ok(count)
}

/// The live handles, oldest first.
#[pyfunction]
fn handles(py: Python<'_>) -> PyResult<Vec<u64>> {
    loop {
        let mut count = 0usize;
        // SAFETY: every pointer passed is into this call's live arguments (C
        // strings, buffers, out-parameters), valid for the whole C call.
        run(py, &[], || unsafe {
            ffi::mc_handles(ptr::null_mut(), 0, &mut count)
        })?;
        let mut list = vec![0u64; count + 8];
        let mut got = 0usize;
        // SAFETY: every pointer passed is into this call's live arguments (C
        // strings, buffers, out-parameters), valid for the whole C call.
        run(py, &[], || unsafe {
            ffi::mc_handles(list.as_mut_ptr(), list.len(), &mut got)
        })?;
        if got <= list.len() {
            list.truncate(got);
            return Ok(list);
        }
    }
}

/// The handle called `name`.
#[pyfunction]
fn find(py: Python<'_>, name: &str) -> PyResult<u64> {
    let name = cstring(name.as_bytes(), "name")?;
    let mut handle = 0u64;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_find(name.as_ptr(), &mut handle)
    })?;
    Ok(handle)
}

/// The servers of a handle, as named when it was made.
#[pyfunction]
fn servers(py: Python<'_>, handle: u64) -> PyResult<Vec<String>> {
    let mut count = 0usize;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_server_count(handle, &mut count)
    })?;
    (0..count)
        .map(|i| {
            let mut name: *mut c_char = ptr::null_mut();
            let mut out = Out(&mut name);
            // SAFETY: every pointer passed is into this call's live arguments (C
            // strings, buffers, out-parameters), valid for the whole C call.
            run(py, &[], || unsafe {
                ffi::mc_server_name(handle, i, out.get())
            })?;
            // SAFETY: a string the library allocated for us.
            Ok(unsafe { taken_string(name) })
        })
        .collect()
}

/// Changes settings, all together (names and values as `mc_configure`).
#[pyfunction]
fn configure(py: Python<'_>, handle: u64, settings: Vec<(String, String)>) -> PyResult<()> {
    let words = setting_words(&settings)?;
    let words = Shared(pointers(&words));
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_configure(handle, words.get().as_ptr(), words.get().len() / 2)
    })
    .map(drop)
}

/// (name, value) pairs as one list of C strings.
fn setting_words(settings: &[(String, String)]) -> PyResult<Vec<CString>> {
    settings
        .iter()
        .flat_map(|(n, v)| [n, v])
        .map(|w| cstring(w.as_bytes(), "setting"))
        .collect()
}

/// A setting's value as text.
#[pyfunction]
fn option(py: Python<'_>, handle: u64, name: &str) -> PyResult<String> {
    let name = cstring(name.as_bytes(), "name")?;
    let mut value: *mut c_char = ptr::null_mut();
    let mut out = Out(&mut value);
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_option(handle, name.as_ptr(), out.get())
    })?;
    // SAFETY: a string the library allocated for us.
    Ok(unsafe { taken_string(value) })
}

/// A new random key (32 hex digits).
#[pyfunction]
fn unique_key(py: Python<'_>) -> PyResult<String> {
    let mut buffer = [0 as c_char; 33];
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_unique_key(buffer.as_mut_ptr(), buffer.len())
    })?;
    // SAFETY: the library wrote a NUL-terminated key into the buffer.
    Ok(lossy(buffer.as_ptr()))
}

/// Starts the handle's local daemons: 1 started, -1 nothing to do.
#[pyfunction]
fn start(py: Python<'_>, handle: u64) -> PyResult<i32> {
    let mut outcome = 0i32;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_start(handle, &mut outcome) })?;
    Ok(outcome)
}

/// Stops the handle's local daemons: 1 stopped, -1 none running.
#[pyfunction]
fn stop(py: Python<'_>, handle: u64) -> PyResult<i32> {
    let mut outcome = 0i32;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_stop(handle, &mut outcome) })?;
    Ok(outcome)
}

/// Clears every dead mark of the handle's servers.
#[pyfunction]
fn forget_dead(py: Python<'_>, handle: u64) -> PyResult<()> {
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_forget_dead(handle) }).map(drop)
}

/// Chooses what the flags mean: 0 raw, 1 python-memcached's (flag 8 is
/// zlib, decompressed on read).
#[pyfunction]
fn set_value_format(py: Python<'_>, handle: u64, format: u32) -> PyResult<()> {
    run(py, &[], || unsafe {
        ffi::mc_set_value_format(handle, format)
    })
    .map(drop)
}

/// Closes the handle's idle connections.
#[pyfunction]
fn disconnect(py: Python<'_>, handle: u64) -> PyResult<()> {
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_disconnect(handle) }).map(drop)
}

/// Marks server `index` dead after `reason`.
#[pyfunction]
fn mark_dead(py: Python<'_>, handle: u64, index: usize, reason: &str) -> PyResult<()> {
    let reason = cstring(reason.as_bytes(), "reason")?;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_mark_dead(handle, index, reason.as_ptr())
    })
    .map(drop)
}

/// Replaces the handle's servers.
#[pyfunction]
fn set_servers(py: Python<'_>, handle: u64, servers: Vec<String>) -> PyResult<()> {
    let servers = servers
        .iter()
        .map(|s| cstring(s.as_bytes(), "server"))
        .collect::<PyResult<Vec<_>>>()?;
    let list = Shared(pointers(&servers));
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_set_servers(handle, list.get().as_ptr(), list.get().len())
    })
    .map(drop)
}

/// The index of the server a key goes to.
#[pyfunction]
fn server_for_key(py: Python<'_>, handle: u64, key: &[u8]) -> PyResult<usize> {
    let key = check_key(key)?;
    let mut index = 0usize;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_server_for_key(handle, key.as_ptr(), &mut index)
    })?;
    Ok(index)
}

/// Any store (`verb` an `mc_verb`): 0 stored, 1 not found, 2 not stored,
/// 3 exists.
#[pyfunction]
#[pyo3(signature = (handle, verb, key, value, flags, ttl, cas=0, place=None))]
#[allow(clippy::too_many_arguments)]
fn store(
    py: Python<'_>,
    handle: u64,
    verb: u32,
    key: &[u8],
    value: &[u8],
    flags: u32,
    ttl: u32,
    cas: u64,
    place: Option<&[u8]>,
) -> PyResult<u32> {
    let key = check_key(key)?;
    let place = place.map(|p| cstring(p, "place")).transpose()?;
    let place = Ptr(place.as_ref().map_or(ptr::null(), |p| p.as_ptr()));
    run(
        py,
        &[ffi::NOTFOUND, ffi::NOTSTORED, ffi::EXISTS],
        // SAFETY: every pointer passed is into this call's live arguments (C
        // strings, buffers, out-parameters), valid for the whole C call.
        || unsafe {
            ffi::mc_store(
                handle,
                verb,
                place.get(),
                key.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                flags,
                ttl,
                cas,
            )
        },
    )
}

/// `(value, flags, cas)` of a key, or None.
#[pyfunction]
#[pyo3(signature = (handle, key, place=None))]
fn get<'py>(
    py: Python<'py>,
    handle: u64,
    key: &[u8],
    place: Option<&[u8]>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let key = check_key(key)?;
    let place = place.map(|p| cstring(p, "place")).transpose()?;
    let place = Ptr(place.as_ref().map_or(ptr::null(), |p| p.as_ptr()));
    let mut value = Malloced::new();
    let (mut flags, mut cas) = (0u32, 0u64);
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    let rc = run(py, &[ffi::NOTFOUND], || unsafe {
        ffi::mc_get_by_key(
            handle,
            place.get(),
            key.as_ptr(),
            value.ptr(),
            value.len(),
            &mut flags,
            &mut cas,
        )
    })?;
    if rc == ffi::NOTFOUND {
        return Ok(None);
    }
    let data = PyBytes::new(py, value.bytes());
    Ok(Some(PyTuple::new(
        py,
        [
            data.into_any(),
            flags.into_pyobject(py)?.into_any(),
            cas.into_pyobject(py)?.into_any(),
        ],
    )?))
}

/// `(value, flags, cas)` of a key whose TTL is set to `ttl`, or None.
#[pyfunction]
fn get_and_touch<'py>(
    py: Python<'py>,
    handle: u64,
    key: &[u8],
    ttl: u32,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let key = check_key(key)?;
    let mut value = Malloced::new();
    let (mut flags, mut cas) = (0u32, 0u64);
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    let rc = run(py, &[ffi::NOTFOUND], || unsafe {
        ffi::mc_get_and_touch(
            handle,
            key.as_ptr(),
            ttl,
            value.ptr(),
            value.len(),
            &mut flags,
            &mut cas,
        )
    })?;
    if rc == ffi::NOTFOUND {
        return Ok(None);
    }
    let data = PyBytes::new(py, value.bytes());
    Ok(Some(PyTuple::new(
        py,
        [
            data.into_any(),
            flags.into_pyobject(py)?.into_any(),
            cas.into_pyobject(py)?.into_any(),
        ],
    )?))
}

/// The hits among `keys`, pipelined (one write per server): a list of
/// `(key, value, flags, cas)` in the servers' reply order. `partial`: a
/// server that fails leaves its keys out instead of failing the call
/// (python-memcached's `get_multi`; not with `place`).
#[pyfunction]
#[pyo3(signature = (handle, keys, place=None, partial=false))]
fn get_multi<'py>(
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
fn set_multi(
    py: Python<'_>,
    handle: u64,
    entries: Vec<(Vec<u8>, Vec<u8>, u32)>,
    ttl: u32,
) -> PyResult<Vec<u32>> {
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
            ffi::mc_set_multi(
                handle,
                records.get().as_ptr(),
                records.get().len(),
                ttl,
                statuses.as_mut_ptr(),
            )
        };
        (rc, statuses.iter().all(|&s| s != UNWRITTEN))
    })?;
    Ok(statuses)
}

/// Deletes a key: whether it had an item.
#[pyfunction]
#[pyo3(signature = (handle, key, place=None))]
fn remove(py: Python<'_>, handle: u64, key: &[u8], place: Option<&[u8]>) -> PyResult<bool> {
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
fn remove_multi(py: Python<'_>, handle: u64, keys: Vec<Vec<u8>>) -> PyResult<Vec<u32>> {
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
#[pyo3(signature = (handle, key, ttl, place=None))]
fn touch(
    py: Python<'_>,
    handle: u64,
    key: &[u8],
    ttl: u32,
    place: Option<&[u8]>,
) -> PyResult<bool> {
    let key = check_key(key)?;
    let place = place.map(|p| cstring(p, "place")).transpose()?;
    let place = Ptr(place.as_ref().map_or(ptr::null(), |p| p.as_ptr()));
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    let rc = run(py, &[ffi::NOTFOUND], || unsafe {
        ffi::mc_touch_by_key(handle, place.get(), key.as_ptr(), ttl)
    })?;
    Ok(rc == ffi::OK)
}

/// Adds `delta` to a counter (`down`: subtracts, stopping at 0): the new
/// value, or None when the key has no item.
#[pyfunction]
#[pyo3(signature = (handle, key, delta, down, place=None))]
fn count(
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
fn exists(py: Python<'_>, handle: u64, key: &[u8]) -> PyResult<bool> {
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
fn ttl(py: Python<'_>, handle: u64, key: &[u8]) -> PyResult<Option<i64>> {
    let key = check_key(key)?;
    let mut left = 0i64;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    let rc = run(py, &[ffi::NOTFOUND], || unsafe {
        ffi::mc_ttl(handle, key.as_ptr(), &mut left)
    })?;
    Ok((rc == ffi::OK).then_some(left))
}

/// Invalidates every item of every server, after `delay` seconds.
#[pyfunction]
fn flush(py: Python<'_>, handle: u64, delay: u32) -> PyResult<()> {
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_flush(handle, delay) }).map(drop)
}

/// The statistics of every server (`group`: `items`, `slabs`...): a list
/// of `(server index, name, value)`.
#[pyfunction]
#[pyo3(signature = (handle, group=None))]
fn stats(
    py: Python<'_>,
    handle: u64,
    group: Option<&str>,
) -> PyResult<Vec<(usize, String, String)>> {
    stats_rows(py, handle, None, group)
}

/// The statistics of server `index` alone: a list of `(name, value)`.
#[pyfunction]
#[pyo3(signature = (handle, index, group=None))]
fn stats_of(
    py: Python<'_>,
    handle: u64,
    index: usize,
    group: Option<&str>,
) -> PyResult<Vec<(String, String)>> {
    let rows = stats_rows(py, handle, Some(index), group)?;
    Ok(rows
        .into_iter()
        .map(|(_, name, value)| (name, value))
        .collect())
}

fn stats_rows(
    py: Python<'_>,
    handle: u64,
    only: Option<usize>,
    group: Option<&str>,
) -> PyResult<Vec<(usize, String, String)>> {
    let group = group.map(|g| cstring(g.as_bytes(), "group")).transpose()?;
    let group = Ptr(group.as_ref().map_or(ptr::null(), |g| g.as_ptr()));
    let mut stats = Malloced::new();
    let mut count = 0usize;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        match only {
            None => ffi::mc_stats(handle, group.get(), stats.ptr().cast(), &mut count),
            Some(n) => ffi::mc_server_stats(handle, n, group.get(), stats.ptr().cast(), &mut count),
        }
    })?;
    Ok(stats
        .records::<ffi::Stat>(count)
        .iter()
        .map(|s| (s.server, lossy(s.name), lossy(s.value)))
        .collect())
}

/// The version of server `index`.
#[pyfunction]
fn version(py: Python<'_>, handle: u64, index: usize) -> PyResult<String> {
    let mut text: *mut c_char = ptr::null_mut();
    let mut out = Out(&mut text);
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_version(handle, index, out.get())
    })?;
    // SAFETY: a string the library allocated for us.
    Ok(unsafe { taken_string(text) })
}

/// The pointers of C strings, for an array argument.
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings.iter().map(|s| s.as_ptr()).collect()
}

/// Pointers into memory this call owns and keeps alive (its `CString`s
/// and buffers), handed to the GIL-free closure that makes the C call.
/// The closure must be `Send`; it runs on the calling thread (releasing
/// the GIL does not move it), while the memory pointed to is alive.
struct Shared<T>(T);
// SAFETY: only read by the C call on the same thread, while the memory
// the pointers point into is alive (see the type's comment).
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as for Send: nothing is shared with another thread.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn get(&self) -> &T {
        &self.0
    }
}

/// One pointer, as [`Shared`].
#[derive(Clone, Copy)]
struct Ptr(*const c_char);
// SAFETY: as `Shared`.
unsafe impl Send for Ptr {}
// SAFETY: as `Shared`.
unsafe impl Sync for Ptr {}

impl Ptr {
    fn get(self) -> *const c_char {
        self.0
    }
}

/// An output pointer for a string the library allocates.
struct Out<'a>(&'a mut *mut c_char);
// SAFETY: as `Shared`: written by the C call on the same thread.
unsafe impl Send for Out<'_> {}
impl Out<'_> {
    fn get(&mut self) -> *mut *mut c_char {
        &mut *self.0
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<fast::Handle>()?;
    m.add_class::<fast::ClientBase>()?;
    m.add_function(wrap_pyfunction!(init, m)?)?;
    m.add_function(wrap_pyfunction!(set_value_format, m)?)?;
    m.add_function(wrap_pyfunction!(library_path, m)?)?;
    m.add_function(wrap_pyfunction!(create, m)?)?;
    m.add_function(wrap_pyfunction!(delete, m)?)?;
    m.add_function(wrap_pyfunction!(delete_all, m)?)?;
    m.add_function(wrap_pyfunction!(handles, m)?)?;
    m.add_function(wrap_pyfunction!(find, m)?)?;
    m.add_function(wrap_pyfunction!(servers, m)?)?;
    m.add_function(wrap_pyfunction!(configure, m)?)?;
    m.add_function(wrap_pyfunction!(option, m)?)?;
    m.add_function(wrap_pyfunction!(unique_key, m)?)?;
    m.add_function(wrap_pyfunction!(start, m)?)?;
    m.add_function(wrap_pyfunction!(stop, m)?)?;
    m.add_function(wrap_pyfunction!(forget_dead, m)?)?;
    m.add_function(wrap_pyfunction!(disconnect, m)?)?;
    m.add_function(wrap_pyfunction!(mark_dead, m)?)?;
    m.add_function(wrap_pyfunction!(set_servers, m)?)?;
    m.add_function(wrap_pyfunction!(server_for_key, m)?)?;
    m.add_function(wrap_pyfunction!(store, m)?)?;
    m.add_function(wrap_pyfunction!(get, m)?)?;
    m.add_function(wrap_pyfunction!(get_and_touch, m)?)?;
    m.add_function(wrap_pyfunction!(get_multi, m)?)?;
    m.add_function(wrap_pyfunction!(set_multi, m)?)?;
    m.add_function(wrap_pyfunction!(remove, m)?)?;
    m.add_function(wrap_pyfunction!(remove_multi, m)?)?;
    m.add_function(wrap_pyfunction!(touch, m)?)?;
    m.add_function(wrap_pyfunction!(count, m)?)?;
    m.add_function(wrap_pyfunction!(exists, m)?)?;
    m.add_function(wrap_pyfunction!(ttl, m)?)?;
    m.add_function(wrap_pyfunction!(flush, m)?)?;
    m.add_function(wrap_pyfunction!(stats, m)?)?;
    m.add_function(wrap_pyfunction!(stats_of, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
