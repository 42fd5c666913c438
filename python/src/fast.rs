//! The calls made most often, whole in Rust: `Memcache.get`, `put` and
//! `mget` (class `Handle`, the base of `memcache.Memcache`), and the
//! helpers of `Client.get`, `set` and `get_multi` (`client.rs`). A Python
//! method frame, its argument checks and a tuple per call cost more than
//! the library's whole get (measured: `make bench`, Python rows), so the
//! common case (a str or bytes key, a str, bytes or int value) goes
//! straight to the C call, the key borrowed from its object. Anything else
//! (tuple keys, pickled values, compression, a bad argument, a failure)
//! goes to the Python methods, which hold the rules and the messages: no
//! rule is written twice.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyString, PyTuple};

use crate::call::{run, Shared};
use crate::landing::{self, Landing};
use crate::text::Utf8;
use crate::{ffi, many};

/// memcached's longest key.
pub const KEY_MAX: usize = 250;

/// python-memcached's text, int and long flags.
pub const TEXT: u32 = 16;
pub const INTEGER: u32 = 2;
pub const LONG: u32 = 4;

/// A str or bytes key, borrowed with the NUL after it (see [`Utf8`]);
/// None for any other type, or a key the fast path leaves to the Python
/// one: empty, too long, or with a byte memcached's text protocol cannot
/// carry (space, control characters, NUL), which the Python path reports
/// with its own message.
pub fn c_key<'py>(key: &Bound<'py, PyAny>) -> Option<Utf8<'py>> {
    let key = Utf8::of(key)?;
    let bytes = key.as_bytes();
    let bad = |b: &u8| *b <= b' ' || *b == 0x7f;
    if bytes.is_empty() || bytes.len() > KEY_MAX || bytes.iter().any(bad) {
        return None;
    }
    Some(key)
}

/// A value to store as bytes, and the flags it gets: a str the format's
/// `text_flag` (16 for python-memcached and the Tcl binding, 0 in PHP's),
/// an int 2 for the Client; None for another type.
pub fn value_bytes<'py>(
    value: &Bound<'py, PyAny>,
    ints: bool,
    text_flag: u32,
) -> PyResult<Option<(Utf8<'py>, u32)>> {
    if let Ok(bytes) = value.cast_exact::<PyBytes>() {
        return Ok(Some((Utf8::of_bytes(bytes), 0)));
    }
    if let Ok(text) = value.cast_exact::<PyString>() {
        return Ok(Some((Utf8::of_str(text)?, text_flag)));
    }
    if ints && value.is_exact_instance_of::<PyInt>() {
        return Ok(Some((Utf8::of_str(&value.str()?)?, INTEGER)));
    }
    Ok(None)
}

/// `(found, value, flags)` of a key.
pub fn fetch(py: Python<'_>, handle: u64, key: &Utf8<'_>) -> PyResult<(bool, Landing, u32)> {
    let mut landing = Landing::new();
    let mut flags = 0u32;
    let key = Shared(key.c_str());
    let rc = run(py, &[ffi::NOTFOUND], || {
        let user = landing.user();
        // SAFETY: `key` is NUL-terminated; `user` is the Landing that
        // `landing::alloc` expects; the out-parameters are this call's
        // own, alive for the whole call.
        unsafe {
            ffi::mc_get_into(
                handle,
                ptr::null(),
                *key.get(),
                Some(landing::alloc),
                user,
                ptr::null_mut(),
                &mut flags,
                ptr::null_mut(),
            )
        }
    })?;
    Ok((rc == ffi::OK, landing, flags))
}

/// Stores with `mc_store`: the result code.
pub fn store(
    py: Python<'_>,
    handle: u64,
    verb: u32,
    key: &Utf8<'_>,
    value: &[u8],
    flags: u32,
    ttl: u32,
) -> PyResult<u32> {
    let key = Shared(key.c_str());
    run(py, &[ffi::NOTFOUND, ffi::NOTSTORED, ffi::EXISTS], || {
        // SAFETY: `key` is NUL-terminated and `value` has `value.len()`
        // bytes, both alive for the whole call.
        unsafe {
            ffi::mc_store(
                handle,
                verb,
                ptr::null(),
                *key.get(),
                value.as_ptr().cast::<c_void>(),
                value.len(),
                flags,
                ttl,
                0,
            )
        }
    })
}

/// A value as seed 000's interface returns it when it is text: the str of
/// UTF-8 data that the handle's value `format` reads as text (the core's
/// rule, `mc_is_text`); None for bytes.
pub fn text<'py>(
    py: Python<'py>,
    data: &[u8],
    flags: u32,
    format: u32,
) -> Option<Bound<'py, PyString>> {
    if !crate::handles::is_text(format, flags) {
        return None;
    }
    Some(PyString::new(py, std::str::from_utf8(data).ok()?))
}

/// A TTL argument that is plainly valid: None (`default`), or an int of
/// 0 to 2^32-2. Else None: the Python path checks it.
pub fn plain_ttl(ttl: Option<&Bound<'_, PyAny>>, default: u32) -> Option<u32> {
    match ttl {
        None => Some(default),
        Some(t) if t.is_none() => Some(default),
        Some(t) if t.is_exact_instance_of::<PyInt>() => {
            t.extract::<u32>().ok().filter(|&n| n != ffi::TTL_DEFAULT)
        }
        Some(_) => None,
    }
}

/// The base of `memcache.Memcache`: a handle number, and seed 000's `get`
/// and `put` for the common case.
#[pyclass(subclass, frozen, module = "memcache._native")]
pub struct Handle {
    handle: u64,
    /// The handle's value format (`MC_VALUES_*`), read when the object is
    /// made and when it configures one: what is text is decided by it
    /// without a call per value. (A change made from Tcl or C is seen by
    /// a new object, `memcache.ref(name)`.)
    format: AtomicU32,
}

/// A handle's value format, python's if it cannot be read (the handle is
/// gone: the call made with it then says so).
pub fn format_of(handle: u64) -> u32 {
    let mut format = ffi::VALUES_PYTHON;
    // SAFETY: `format` is this call's own, valid for the write.
    unsafe { ffi::mc_get_value_format(handle, &mut format) };
    format
}

impl Handle {
    /// The value format in force.
    pub fn format(&self) -> u32 {
        self.format.load(Ordering::Relaxed)
    }
}

#[pymethods]
impl Handle {
    #[new]
    fn new(handle: u64) -> Handle {
        Handle {
            handle,
            format: AtomicU32::new(format_of(handle)),
        }
    }

    /// The value format (`MC_VALUES_*`: 0 raw, 1 python, 2 php).
    #[getter(_format)]
    fn format_number(&self) -> u32 {
        self.format()
    }

    /// Reads the handle's value format again (after a configure).
    fn _refresh_format(&self) {
        self.format.store(format_of(self.handle), Ordering::Relaxed);
    }

    /// The handle's number (`memcache3` is 3).
    #[getter(_h)]
    fn number(&self) -> u64 {
        self.handle
    }

    /// The data of the key (`NotFound` if none): str for text, bytes
    /// otherwise; with ``listindex``, that element of it read as a Tcl
    /// list.
    #[pyo3(signature = (key, listindex=None))]
    fn get<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        listindex: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let fast = c_key(key);
        let (Some(ckey), None) = (fast, listindex) else {
            return slf.call_method1(intern!(py, "_get"), (key, listindex));
        };
        let (found, value, flags) = fetch(py, slf.get().handle, &ckey)?;
        if !found {
            return slf.call_method1(intern!(py, "_miss"), (key,));
        }
        match text(py, value.bytes(py), flags, slf.get().format()) {
            Some(text) => Ok(text.into_any()),
            None => Ok(value.into_bytes(py).into_any()),
        }
    }

    /// A dict of the keys that have data (one pipelined request per
    /// server), in the order given.
    fn mget<'py>(slf: &Bound<'py, Self>, keys: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        many::mget(slf.as_any(), slf.get().handle, slf.get().format(), keys)
    }

    /// ``put(data)`` or ``put(key, data, ttl=None, flags=0)``: stores the
    /// data and returns its key (a new unique one without a key).
    #[pyo3(signature = (*args, ttl=None, flags=None))]
    fn put<'py>(
        slf: &Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        ttl: Option<&Bound<'py, PyAny>>,
        flags: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let slow = || {
            let kwargs = PyDict::new(py);
            if let Some(t) = ttl {
                kwargs.set_item("ttl", t)?;
            }
            if let Some(f) = flags {
                kwargs.set_item("flags", f)?;
            }
            slf.call_method(intern!(py, "_put"), args.clone(), Some(&kwargs))
        };
        if args.len() != 2 || flags.is_some() {
            return slow();
        }
        let (key, data) = (args.get_item(0)?, args.get_item(1)?);
        let Some(ckey) = c_key(&key) else {
            return slow();
        };
        let text_flag = crate::handles::text_flag(slf.get().format());
        let (Some((value, flags)), Some(ttl)) = (
            value_bytes(&data, false, text_flag)?,
            plain_ttl(ttl, ffi::TTL_DEFAULT),
        ) else {
            return slow();
        };
        let rc = store(py, slf.get().handle, 0, &ckey, value.as_bytes(), flags, ttl)?;
        if rc != ffi::OK {
            return slf.call_method1(intern!(py, "_refused"), (key,));
        }
        Ok(key)
    }
}
