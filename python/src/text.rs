//! The UTF-8 bytes of a str or bytes argument, borrowed where Python
//! lends them. CPython 3.10 and later (and their stable ABI) give a str's
//! UTF-8 without a copy (`PyUnicode_AsUTF8AndSize`, kept in the str);
//! 3.9's stable ABI does not, so there the str is encoded into a new bytes
//! object. Measured: the copy costs ~200 instructions a call, a tenth of
//! what the binding adds to the library's get.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// Whether the running Python lends a str's UTF-8 (3.10 or later).
static LENDS_UTF8: AtomicBool = AtomicBool::new(false);

extern "C" {
    /// In the stable ABI from 3.10 (and in every CPython 3 before, outside
    /// it): called only where the running version has it in the ABI.
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::ffi::c_char;
}

/// Notes the running Python's version (at module initialisation).
pub fn init(py: Python<'_>) {
    LENDS_UTF8.store(py.version_info() >= (3, 10), Ordering::Relaxed);
}

/// UTF-8 bytes and the object that keeps them alive. CPython keeps a NUL
/// after them (after a bytes object's data, and after a str's UTF-8), so
/// they are a C string too when they hold no NUL themselves.
pub struct Utf8<'py> {
    _owner: Bound<'py, PyAny>,
    ptr: *const u8,
    len: usize,
}

impl<'py> Utf8<'py> {
    pub fn as_bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `len` bytes at `ptr`, owned by `_owner` (a bytes object,
        // or a str with its UTF-8 kept), alive as long as self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes as a C string: only for bytes without a NUL among them.
    pub fn c_str(&self) -> *const std::ffi::c_char {
        self.ptr.cast()
    }

    /// A bytes object's bytes.
    pub fn of_bytes(bytes: &Bound<'py, PyBytes>) -> Utf8<'py> {
        let data = bytes.as_bytes();
        Utf8 {
            ptr: data.as_ptr(),
            len: data.len(),
            _owner: bytes.clone().into_any(),
        }
    }

    /// A str's UTF-8; an error for a str with lone surrogates.
    pub fn of_str(text: &Bound<'py, PyString>) -> PyResult<Utf8<'py>> {
        if !LENDS_UTF8.load(Ordering::Relaxed) {
            return Ok(Utf8::of_bytes(&text.encode_utf8()?));
        }
        let mut size: pyo3::ffi::Py_ssize_t = 0;
        // SAFETY: a live str (GIL held); the result is null (with an
        // exception set) or `size` bytes kept by the str.
        let data = unsafe { PyUnicode_AsUTF8AndSize(text.as_ptr(), &mut size) };
        if data.is_null() {
            return Err(PyErr::fetch(text.py()));
        }
        Ok(Utf8 {
            ptr: data.cast(),
            len: usize::try_from(size).unwrap_or(0),
            _owner: text.clone().into_any(),
        })
    }

    /// A str's or bytes' bytes; None for any other type (or a str that
    /// has no UTF-8: the Python path reports it).
    pub fn of(value: &Bound<'py, PyAny>) -> Option<Utf8<'py>> {
        if let Ok(bytes) = value.cast::<PyBytes>() {
            return Some(Utf8::of_bytes(bytes));
        }
        Utf8::of_str(value.cast::<PyString>().ok()?).ok()
    }
}
