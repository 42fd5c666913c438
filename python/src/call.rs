//! One C call: made without the GIL, its failure raised as the package's
//! exception for its result code with the library's message; and the
//! conversions of arguments (keys, strings) and of memory the library
//! hands out.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::ffi;

/// The exception class of each result code, given by `memcache/_errors.py`.
static ERRORS: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

pub fn set_errors(errors: Bound<'_, PyDict>) -> PyResult<()> {
    let py = errors.py();
    ERRORS
        .set(py, errors.unbind())
        .map_err(|_| PyRuntimeError::new_err("memcache._native.init: already initialised"))
}

/// Runs `call` with the GIL released. Success and the codes in `allowed`
/// are returned; any other code raises its exception with the message of
/// `mc_last_error`, read on this thread right after the call.
pub fn run(
    py: Python<'_>,
    allowed: &[ffi::McResult],
    call: impl FnOnce() -> ffi::McResult + Send,
) -> PyResult<ffi::McResult> {
    run_with(py, || {
        let rc = call();
        (rc, allowed.contains(&rc))
    })
}

/// As [`run`], `call` saying itself whether a failure code is an answer
/// (true) rather than a failure of the call.
pub fn run_with(
    py: Python<'_>,
    call: impl FnOnce() -> (ffi::McResult, bool) + Send,
) -> PyResult<ffi::McResult> {
    let (rc, message) = py.detach(|| {
        let (rc, answer) = call();
        if rc == ffi::OK || answer {
            (rc, None)
        } else {
            // SAFETY: never null, NUL-terminated, valid until the next call.
            (rc, Some(lossy(unsafe { ffi::mc_last_error() })))
        }
    });
    match message {
        None => Ok(rc),
        Some(message) => Err(failure(py, rc, message)),
    }
}

/// The exception for result `rc` with `message`.
fn failure(py: Python<'_>, rc: ffi::McResult, message: String) -> PyErr {
    let class = ERRORS
        .get(py)
        .and_then(|errors| errors.bind(py).get_item(rc).ok().flatten());
    match class {
        Some(class) => match class.call1((message.clone(),)) {
            Ok(error) => PyErr::from_value(error),
            Err(e) => e,
        },
        None => PyRuntimeError::new_err(format!("memcache result {rc}: {message}")),
    }
}

/// A key as a C string. A NUL byte cannot be passed as one: the library
/// is asked to check the whole key, which refuses it with its reason.
pub fn check_key(key: &[u8]) -> PyResult<CString> {
    match CString::new(key) {
        Ok(key) => Ok(key),
        Err(_) => {
            // SAFETY: `key` has `key.len()` readable bytes.
            let rc = unsafe { ffi::mc_check_key(key.as_ptr().cast(), key.len()) };
            // SAFETY: as in `run`.
            let message = lossy(unsafe { ffi::mc_last_error() });
            Python::attach(|py| Err(failure(py, rc, message)))
        }
    }
}

/// Any other string argument as a C string; a NUL in it is refused.
pub fn cstring(text: &[u8], what: &str) -> PyResult<CString> {
    CString::new(text).map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!("{what} contains a NUL character"))
    })
}

/// A NUL-terminated string of the library's, copied.
pub fn lossy(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: not null: a NUL-terminated string (every caller's source).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Runs `call` as [`run`] does, giving it the place where the library
/// writes a string it allocates (`mc_server_name`, `mc_option`,
/// `mc_version`); returns that string, copied, then freed.
pub fn run_for_string(
    py: Python<'_>,
    call: impl FnOnce(*mut *mut c_char) -> ffi::McResult + Send,
) -> PyResult<String> {
    let mut out = Shared(ptr::null_mut::<c_char>());
    run(py, &[], || call(out.slot()))?;
    // SAFETY: null, or the string the library wrote there for us.
    Ok(unsafe { taken_string(*out.get()) })
}

/// A string the library allocated for the caller: copied, then freed.
///
/// # Safety
/// `p` is null or a string from the library, not used afterwards.
unsafe fn taken_string(p: *mut c_char) -> String {
    let text = lossy(p);
    // SAFETY: the library's block, released once (this function's contract).
    unsafe { ffi::mc_free(p.cast()) };
    text
}

/// A block the library allocates for the caller (a value, an array of
/// hits or stats), freed with `mc_free` when dropped.
pub struct Malloced {
    p: *mut c_void,
    len: usize,
}

// SAFETY: the block is owned by this value alone (no other pointer to it
// is kept); it is written by the C call on the calling thread and freed
// once, so moving the owner between threads is sound.
unsafe impl Send for Malloced {}

impl Malloced {
    pub fn new() -> Malloced {
        Malloced {
            p: ptr::null_mut(),
            len: 0,
        }
    }

    /// Where the library writes the block's address.
    pub fn ptr(&mut self) -> *mut *mut c_void {
        &mut self.p
    }

    /// Where the library writes a value's length.
    pub fn len(&mut self) -> *mut usize {
        &mut self.len
    }

    /// The value's bytes.
    pub fn bytes(&self) -> &[u8] {
        if self.p.is_null() || self.len == 0 {
            return &[];
        }
        // SAFETY: the library wrote `len` bytes at `p`, alive until drop.
        unsafe { std::slice::from_raw_parts(self.p.cast(), self.len) }
    }

    /// The block as `count` records of `T`.
    pub fn records<T>(&self, count: usize) -> &[T] {
        if self.p.is_null() || count == 0 {
            return &[];
        }
        // SAFETY: the library wrote `count` records of `T` at `p`.
        unsafe { std::slice::from_raw_parts(self.p.cast(), count) }
    }
}

impl Drop for Malloced {
    fn drop(&mut self) {
        // SAFETY: null or the library's block, freed once.
        unsafe { ffi::mc_free(self.p) };
    }
}

/// The pointers of C strings, for an array argument.
pub fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings.iter().map(|s| s.as_ptr()).collect()
}

/// Pointers into memory this call owns and keeps alive (its `CString`s
/// and buffers), handed to the GIL-free closure that makes the C call.
/// The closure must be `Send`; it runs on the calling thread (releasing
/// the GIL does not move it), while the memory pointed to is alive.
pub struct Shared<T>(pub T);
// SAFETY: only read by the C call on the same thread, while the memory
// the pointers point into is alive (see the type's comment).
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as for Send: nothing is shared with another thread.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Where the C call writes an output of type `T`.
    pub fn slot(&mut self) -> *mut T {
        &mut self.0
    }
}

/// One pointer, as [`Shared`].
#[derive(Clone, Copy)]
pub struct Ptr(pub *const c_char);
// SAFETY: as `Shared`.
unsafe impl Send for Ptr {}
// SAFETY: as `Shared`.
unsafe impl Sync for Ptr {}

impl Ptr {
    pub fn get(self) -> *const c_char {
        self.0
    }
}
