//! CGI state (the C ABI's `mc_update`, `mc_lock`, `mc_unlock`, `mc_fetch`,
//! `mc_invalidate`): an item changed by a Python function without lost
//! writes, locks a crashed holder cannot keep, and values computed once
//! however many callers miss them at once.

use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::call::{check_key, cstring, lossy, run, Malloced, Shared};
use crate::ffi;

/// What `update`'s C callback needs: the Python function, the sentinels,
/// and what it gave last (kept alive for the library to read).
struct Updating {
    change: Py<PyAny>,
    keep: Py<PyAny>,
    /// The handle's value format (what is text).
    format: u32,
    stored: Option<Vec<u8>>,
    /// What the function returned last, when it asked to store it.
    returned: Option<Py<PyAny>>,
    error: Option<PyErr>,
}

/// The `mc_update_fn`: calls the Python function with the item's value
/// (str for text, bytes otherwise, None when there is none) and turns
/// what it returns into the change asked for: a str or bytes value to
/// store (the item's other flags kept, the text flag following the new
/// value), None to remove the item, `keep` to store nothing. An exception
/// (or any other result) stores nothing; it is raised by `update`.
///
/// # Safety
/// As `mc_update_fn`, with `user` an `Updating` of this thread's.
unsafe extern "C" fn call_change(
    user: *mut c_void,
    old: *const c_void,
    old_len: usize,
    old_flags: u32,
    found: i32,
    store: *mut ffi::UpdateValue,
) -> u32 {
    // SAFETY: `user` is the caller's Updating (this function's contract).
    let state = unsafe { &mut *user.cast::<Updating>() };
    // Each call starts afresh: only the last one's answer counts.
    state.returned = None;
    let Updating {
        change,
        keep,
        format,
        stored,
        returned,
        error,
    } = state;
    let asked = in_python(error, "update function", |py| {
        let old = if found == 0 {
            py.None().into_bound(py)
        } else {
            // SAFETY: `old` has `old_len` bytes during this call.
            let data = unsafe { std::slice::from_raw_parts(old.cast::<u8>(), old_len) };
            match crate::fast::text(py, data, old_flags, *format) {
                Some(text) => text.into_any(),
                None => PyBytes::new(py, data).into_any(),
            }
        };
        let new = change.bind(py).call1((old,))?;
        if new.is(keep.bind(py)) {
            return Ok(ffi::CHANGE_KEEP);
        }
        if new.is_none() {
            return Ok(ffi::CHANGE_REMOVE);
        }
        let must = "update function must return str, bytes, None (remove) or memcache.KEEP";
        let text_flag = crate::handles::text_flag(*format);
        let (bytes, text) = result_bytes(&new, must, text_flag)?;
        *returned = Some(new.unbind());
        // SAFETY: `store` is the library's, writable (the contract).
        unsafe { offer(store, stored.insert(bytes), (old_flags & !text_flag) | text) };
        Ok(ffi::CHANGE_STORE)
    });
    asked.unwrap_or(ffi::CHANGE_ABORT)
}

/// Runs `f` with the GIL, for a C callback: an exception, or a panic (none
/// may cross into C), is kept in `error` to be raised once the C call
/// returns, and gives None.
fn in_python<T>(
    error: &mut Option<PyErr>,
    what: &str,
    f: impl FnOnce(Python<'_>) -> PyResult<T>,
) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(|| Python::attach(f))) {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            *error = Some(e);
            None
        }
        Err(_) => {
            let e = pyo3::exceptions::PyRuntimeError::new_err(format!("{what} panicked"));
            *error = Some(e);
            None
        }
    }
}

/// A function's str or bytes result as bytes and its text flag
/// (`text_flag` for str); for any other type a TypeError, `must` saying
/// what it must be.
fn result_bytes(new: &Bound<'_, PyAny>, must: &str, text_flag: u32) -> PyResult<(Vec<u8>, u32)> {
    if let Ok(s) = new.cast::<PyString>() {
        return Ok((s.to_cow()?.as_bytes().to_vec(), text_flag));
    }
    if let Ok(b) = new.cast::<PyBytes>() {
        return Ok((b.as_bytes().to_vec(), 0));
    }
    let kind = new.get_type().name()?;
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "{must}, not {kind}"
    )))
}

/// Hands `value` (kept alive by the caller until the C call reads it)
/// with `flags` to the library.
///
/// # Safety
/// `out` is the library's `mc_update_value`, writable.
unsafe fn offer(out: *mut ffi::UpdateValue, value: &[u8], flags: u32) {
    // SAFETY: writable (this function's contract).
    unsafe {
        *out = ffi::UpdateValue {
            value: value.as_ptr().cast(),
            len: value.len(),
            flags,
        }
    };
}

/// Changes the item under `key` with `change` (see `call_change`),
/// again when another writer got there first. Returns what the function
/// returned when that was stored, else None; the function's exception is
/// raised.
#[pyfunction]
pub fn update(
    py: Python<'_>,
    handle: u64,
    key: &[u8],
    ttl: u32,
    change: Py<PyAny>,
    keep: Py<PyAny>,
) -> PyResult<Option<Py<PyAny>>> {
    let key = check_key(key)?;
    let mut state = Updating {
        change,
        keep,
        format: crate::fast::format_of(handle),
        stored: None,
        returned: None,
        error: None,
    };
    let user = Shared((&mut state as *mut Updating).cast::<c_void>());
    let rc = run(py, &[ffi::NOTSTORED], || {
        // SAFETY: `key` is NUL-terminated; `user` is the Updating that
        // `call_change` expects, alive for the whole call, used by this
        // thread alone.
        unsafe { ffi::mc_update(handle, key.as_ptr(), ttl, Some(call_change), *user.get()) }
    })?;
    if let Some(e) = state.error.take() {
        return Err(e);
    }
    // Stored only when the last call asked to store (not remove or keep).
    Ok(if rc == ffi::OK { state.returned } else { None })
}

/// What `fetch`'s C callback needs: the Python function, what it gave
/// last (kept alive for the library to read), its exception.
struct Computing {
    compute: Py<PyAny>,
    /// The flag bits a str result gets.
    text_flag: u32,
    value: Option<Vec<u8>>,
    error: Option<PyErr>,
}

/// The `mc_compute_fn`: calls the Python function; a str or bytes result
/// is the value (str with the text flag); an exception (or another type)
/// is a failure, raised by `fetch`.
///
/// # Safety
/// As `mc_compute_fn`, with `user` a `Computing` of this thread's.
unsafe extern "C" fn call_compute(user: *mut c_void, out: *mut ffi::UpdateValue) -> u32 {
    // SAFETY: `user` is the caller's Computing (this function's contract).
    let state = unsafe { &mut *user.cast::<Computing>() };
    let Computing {
        compute,
        text_flag,
        value,
        error,
    } = state;
    let computed = in_python(error, "fetch function", |py| {
        result_bytes(
            &compute.bind(py).call0()?,
            "fetch function must return str or bytes",
            *text_flag,
        )
    });
    match computed {
        Some((bytes, flags)) => {
            // SAFETY: `out` is the library's, writable (the contract).
            unsafe { offer(out, value.insert(bytes), flags) };
            0
        }
        None => 1,
    }
}

/// The value of `key` and its flags, computed by `compute` (a Python
/// function of no arguments) by one caller among all that ask at once
/// (see `mc_fetch`); the function's exception is raised.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn fetch<'py>(
    py: Python<'py>,
    handle: u64,
    key: &[u8],
    ttl: u32,
    lease: u32,
    wait_ms: u32,
    recache: u32,
    compute: Py<PyAny>,
) -> PyResult<(Bound<'py, PyBytes>, u32)> {
    let key = check_key(key)?;
    let mut state = Computing {
        compute,
        text_flag: crate::handles::text_flag(crate::fast::format_of(handle)),
        value: None,
        error: None,
    };
    let options = ffi::FetchOptions {
        lease,
        wait_ms,
        recache,
    };
    let user = Shared((&mut state as *mut Computing).cast::<c_void>());
    let mut value = Malloced::new();
    let mut flags = 0u32;
    let result = run(py, &[], || {
        // SAFETY: `key` is NUL-terminated; `user` is the Computing that
        // `call_compute` expects, alive for the whole call and used by this
        // thread alone; the out-parameters are this call's own.
        unsafe {
            ffi::mc_fetch(
                handle,
                key.as_ptr(),
                ttl,
                &options,
                Some(call_compute),
                *user.get(),
                value.ptr(),
                value.len(),
                &mut flags,
            )
        }
    });
    if let Some(e) = state.error.take() {
        return Err(e);
    }
    result?;
    Ok((PyBytes::new(py, value.bytes()), flags))
}

/// Marks the key's item stale: whether there was one.
#[pyfunction]
pub fn invalidate(py: Python<'_>, handle: u64, key: &[u8], ttl: u32) -> PyResult<bool> {
    let key = check_key(key)?;
    let rc = run(py, &[ffi::NOTFOUND], || {
        // SAFETY: a NUL-terminated key, alive for the whole call.
        unsafe { ffi::mc_invalidate(handle, key.as_ptr(), ttl) }
    })?;
    Ok(rc == ffi::OK)
}

/// Takes the lock `name`: its token.
#[pyfunction]
pub fn lock(py: Python<'_>, handle: u64, name: &[u8], ttl: u32, wait_ms: u32) -> PyResult<String> {
    let name = check_key(name)?;
    let mut token = [0 as c_char; 33];
    let out = Shared(token.as_mut_ptr());
    run(py, &[], || {
        // SAFETY: `name` is NUL-terminated; `token` has 33 writable bytes.
        unsafe { ffi::mc_lock(handle, name.as_ptr(), ttl, wait_ms, *out.get()) }
    })?;
    Ok(lossy(token.as_ptr()))
}

/// Releases the lock `name` if `token` holds it: whether it did.
#[pyfunction]
pub fn unlock(py: Python<'_>, handle: u64, name: &[u8], token: &str) -> PyResult<bool> {
    let name = check_key(name)?;
    let token = cstring(token.as_bytes(), "token")?;
    let rc = run(py, &[ffi::NOTFOUND], || {
        // SAFETY: both NUL-terminated, alive for the whole call.
        unsafe { ffi::mc_unlock(handle, name.as_ptr(), token.as_ptr()) }
    })?;
    Ok(rc == ffi::OK)
}
