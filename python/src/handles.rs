//! Handles, their settings, servers and daemons, and the servers'
//! statistics: the C ABI's calls as module functions of `_native`.

use std::ffi::{c_char, CString};
use std::ptr;

use pyo3::prelude::*;

use crate::call::{
    check_key, cstring, lossy, pointers, run, run_for_string, Malloced, Ptr, Shared,
};
use crate::ffi;

/// A new handle for `servers`, with `settings` (name, value) applied
/// first; a daemon is started for a socket file nothing answers on.
#[pyfunction]
pub fn create(
    py: Python<'_>,
    servers: Vec<String>,
    settings: Vec<(String, String)>,
) -> PyResult<u64> {
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
pub fn delete(py: Python<'_>, handle: u64) -> PyResult<()> {
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_delete(handle) }).map(drop)
}

/// Deletes every handle of the process; how many there were.
#[pyfunction]
pub fn delete_all(py: Python<'_>) -> PyResult<usize> {
    let mut count = 0usize;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_delete_all(&mut count) })?;
    Ok(count)
}

/// The live handles, oldest first.
#[pyfunction]
pub fn handles(py: Python<'_>) -> PyResult<Vec<u64>> {
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
pub fn find(py: Python<'_>, name: &str) -> PyResult<u64> {
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
pub fn servers(py: Python<'_>, handle: u64) -> PyResult<Vec<String>> {
    let mut count = 0usize;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_server_count(handle, &mut count)
    })?;
    (0..count)
        .map(|i| {
            // SAFETY: `out` is the library's place to write the name.
            run_for_string(py, |out| unsafe { ffi::mc_server_name(handle, i, out) })
        })
        .collect()
}

/// Changes settings, all together (names and values as `mc_configure`).
#[pyfunction]
pub fn configure(py: Python<'_>, handle: u64, settings: Vec<(String, String)>) -> PyResult<()> {
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
pub fn setting_words(settings: &[(String, String)]) -> PyResult<Vec<CString>> {
    settings
        .iter()
        .flat_map(|(n, v)| [n, v])
        .map(|w| cstring(w.as_bytes(), "setting"))
        .collect()
}

/// A setting's value as text.
#[pyfunction]
pub fn option(py: Python<'_>, handle: u64, name: &str) -> PyResult<String> {
    let name = cstring(name.as_bytes(), "name")?;
    // SAFETY: `name` is a live C string; `out` is the library's place to
    // write the value.
    run_for_string(py, |out| unsafe {
        ffi::mc_option(handle, name.as_ptr(), out)
    })
}

/// A new random key (32 hex digits).
#[pyfunction]
pub fn unique_key(py: Python<'_>) -> PyResult<String> {
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
pub fn start(py: Python<'_>, handle: u64) -> PyResult<i32> {
    let mut outcome = 0i32;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_start(handle, &mut outcome) })?;
    Ok(outcome)
}

/// Stops the handle's local daemons: 1 stopped, -1 none running.
#[pyfunction]
pub fn stop(py: Python<'_>, handle: u64) -> PyResult<i32> {
    let mut outcome = 0i32;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_stop(handle, &mut outcome) })?;
    Ok(outcome)
}

/// Clears every dead mark of the handle's servers.
#[pyfunction]
pub fn forget_dead(py: Python<'_>, handle: u64) -> PyResult<()> {
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_forget_dead(handle) }).map(drop)
}

/// The flag bits text gets in the value `format` (`mc_text_flag`); also
/// the binding's own safe call of it.
#[pyfunction]
pub fn text_flag(format: u32) -> u32 {
    // SAFETY: a pure function of a number.
    unsafe { ffi::mc_text_flag(format) }
}

/// Whether data stored with `flags` is text in the value `format`
/// (`mc_is_text`); also the binding's own safe call of it.
#[pyfunction]
pub fn is_text(format: u32, flags: u32) -> bool {
    // SAFETY: a pure function of two numbers.
    unsafe { ffi::mc_is_text(format, flags) != 0 }
}

/// Chooses what the flags mean: 0 raw, 1 python-memcached's (flag 8 is
/// zlib, decompressed on read), 2 PHP's.
#[pyfunction]
pub fn set_value_format(py: Python<'_>, handle: u64, format: u32) -> PyResult<()> {
    // SAFETY: no pointer is passed.
    run(py, &[], || unsafe {
        ffi::mc_set_value_format(handle, format)
    })
    .map(drop)
}

/// Closes the handle's idle connections.
#[pyfunction]
pub fn disconnect(py: Python<'_>, handle: u64) -> PyResult<()> {
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_disconnect(handle) }).map(drop)
}

/// Marks server `index` dead after `reason`.
#[pyfunction]
pub fn mark_dead(py: Python<'_>, handle: u64, index: usize, reason: &str) -> PyResult<()> {
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
pub fn set_servers(py: Python<'_>, handle: u64, servers: Vec<String>) -> PyResult<()> {
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
pub fn server_for_key(py: Python<'_>, handle: u64, key: &[u8]) -> PyResult<usize> {
    let key = check_key(key)?;
    let mut index = 0usize;
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe {
        ffi::mc_server_for_key(handle, key.as_ptr(), &mut index)
    })?;
    Ok(index)
}

/// Invalidates every item of every server, after `delay` seconds.
#[pyfunction]
pub fn flush(py: Python<'_>, handle: u64, delay: u32) -> PyResult<()> {
    // SAFETY: every pointer passed is into this call's live arguments (C
    // strings, buffers, out-parameters), valid for the whole C call.
    run(py, &[], || unsafe { ffi::mc_flush(handle, delay) }).map(drop)
}

/// The statistics of every server (`group`: `items`, `slabs`...): a list
/// of `(server index, name, value)`.
#[pyfunction]
#[pyo3(signature = (handle, group=None))]
pub fn stats(
    py: Python<'_>,
    handle: u64,
    group: Option<&str>,
) -> PyResult<Vec<(usize, String, String)>> {
    stats_rows(py, handle, None, group)
}

/// The statistics of server `index` alone: a list of `(name, value)`.
#[pyfunction]
#[pyo3(signature = (handle, index, group=None))]
pub fn stats_of(
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

pub fn stats_rows(
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
pub fn version(py: Python<'_>, handle: u64, index: usize) -> PyResult<String> {
    // SAFETY: `out` is the library's place to write the version.
    run_for_string(py, |out| unsafe { ffi::mc_version(handle, index, out) })
}
