//! Where a value read by `mc_get_into` lands. A large value is read
//! straight into a new bytes object (the GIL is taken for the allocation
//! alone): one fresh block instead of two, and no copy; measured on a
//! 512 KiB get, a second block cost ~220 page faults per call. A small one
//! goes to this thread's scratch buffer and is copied into its object
//! afterwards, which is cheaper than taking the GIL.

use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Values of this size or more go straight into their bytes object.
const DIRECT: usize = 64 * 1024;

thread_local! {
    /// The scratch buffer, kept between calls (never larger than DIRECT).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A value's destination for one call.
pub struct Landing {
    scratch: Vec<u8>,
    /// The bytes object a large value is read into (owned), or null.
    object: *mut pyo3::ffi::PyObject,
    len: usize,
}

// SAFETY: a Landing is made, filled (by the library, on the same thread,
// through `alloc`) and consumed by one call; the object it may own is
// referenced from nowhere else until the call hands it to Python.
unsafe impl Send for Landing {}

impl Landing {
    pub fn new() -> Landing {
        Landing {
            scratch: SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut())),
            object: ptr::null_mut(),
            len: 0,
        }
    }

    /// The `user` argument of `mc_get_into`.
    pub fn user(&mut self) -> *mut c_void {
        (self as *mut Landing).cast()
    }

    /// The value's bytes (after a successful call).
    pub fn bytes(&self, _py: Python<'_>) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        let data = if self.object.is_null() {
            self.scratch.as_ptr()
        } else {
            // SAFETY: a live bytes object of `len` bytes (GIL held: `_py`).
            unsafe { pyo3::ffi::PyBytes_AsString(self.object) }.cast::<u8>()
        };
        // SAFETY: the library wrote `len` bytes there (the call succeeded).
        unsafe { std::slice::from_raw_parts(data, self.len) }
    }

    /// The value as a bytes object: the one it was read into, or a copy.
    pub fn into_bytes(mut self, py: Python<'_>) -> Bound<'_, PyBytes> {
        if self.object.is_null() {
            return PyBytes::new(py, self.bytes(py));
        }
        let object = std::mem::replace(&mut self.object, ptr::null_mut());
        // SAFETY: an owned reference to a bytes object, handed over.
        unsafe { Bound::from_owned_ptr(py, object).cast_into_unchecked() }
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        if !self.object.is_null() {
            // A value left unused (the call failed after allocating): its
            // object is released with the GIL, which every caller holds
            // when a Landing is dropped.
            Python::attach(|_| {
                // SAFETY: an owned reference, released once.
                unsafe { pyo3::ffi::Py_DecRef(self.object) }
            });
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        if scratch.capacity() <= DIRECT {
            scratch.clear();
            SCRATCH.with(|s| *s.borrow_mut() = scratch);
        }
    }
}

/// The `alloc` of `mc_get_into`: `len` bytes in the Landing at `user`.
///
/// # Safety
/// `user` is the `user()` of a live Landing, used by this thread alone.
pub unsafe extern "C" fn alloc(user: *mut c_void, len: usize, _flags: u32) -> *mut c_void {
    // SAFETY: `user` points to a live Landing (this function's contract).
    let landing = unsafe { &mut *user.cast::<Landing>() };
    landing.len = len;
    if len < DIRECT {
        landing.scratch.clear();
        landing.scratch.reserve(len);
        return landing.scratch.as_mut_ptr().cast();
    }
    // No panic may cross this C callback: one becomes "no memory".
    catch_unwind(AssertUnwindSafe(|| {
        Python::attach(|py| {
            if !landing.object.is_null() {
                // SAFETY: an owned reference from an earlier attempt.
                unsafe { pyo3::ffi::Py_DecRef(landing.object) };
            }
            let Ok(size) = isize::try_from(len) else {
                landing.object = ptr::null_mut();
                return ptr::null_mut();
            };
            // SAFETY: a new bytes object of `size` bytes, not yet filled.
            let object = unsafe { pyo3::ffi::PyBytes_FromStringAndSize(ptr::null(), size) };
            landing.object = object;
            if object.is_null() {
                // The MemoryError is dropped: the call reports its own.
                drop(PyErr::take(py));
                return ptr::null_mut();
            }
            // SAFETY: the new object's buffer, `size` bytes.
            unsafe { pyo3::ffi::PyBytes_AsString(object) }.cast()
        })
    }))
    .unwrap_or(ptr::null_mut())
}
