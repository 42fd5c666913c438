//! The calls made most often, whole in Rust: `Memcache.get` and `put`
//! (class `Handle`, the base of `memcache.Memcache`) and `Client.get` and
//! `set` (class `ClientBase`, the base of `memcache.Client`). A Python
//! method frame, its argument checks and a tuple per call cost more than
//! the library's whole get (measured: `make bench`, Python rows), so the
//! common case (a str or bytes key, a str, bytes or int value) goes
//! straight to the C call, the key in a stack buffer. Anything else
//! (tuple keys, pickled values, compression, a bad argument, a failure)
//! goes to the Python methods, which hold the rules and the messages: no
//! rule is written twice.

use std::ffi::{c_char, c_void};
use std::ptr;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PyString, PyTuple};

use crate::call::run;
use crate::landing::{self, Landing};
use crate::{ffi, many};

/// memcached's longest key.
const KEY_MAX: usize = 250;

/// python-memcached's text, int and long flags.
const TEXT: u32 = 16;
const INTEGER: u32 = 2;
const LONG: u32 = 4;

/// A key with its NUL, on the stack.
struct CKey {
    buf: [u8; KEY_MAX + 1],
    len: usize,
}

impl CKey {
    /// None for a key that is empty, too long, or has a byte memcached's
    /// text protocol cannot carry (space, control characters): the
    /// Python path reports those with its own message.
    fn new(key: &[u8]) -> Option<CKey> {
        let bad = |b: u8| b <= b' ' || b == 0x7f;
        if key.is_empty() || key.len() > KEY_MAX || key.iter().any(|&b| bad(b)) {
            return None;
        }
        let mut buf = [0u8; KEY_MAX + 1];
        buf[..key.len()].copy_from_slice(key);
        Some(CKey {
            buf,
            len: key.len(),
        })
    }

    fn len(&self) -> usize {
        self.len
    }

    fn ptr(&self) -> *const c_char {
        self.buf.as_ptr().cast()
    }
}

/// A str or bytes key as a C string; None for any other type, or a key
/// the fast path leaves to the Python one (see [`CKey::new`]).
fn c_key(key: &Bound<'_, PyAny>) -> Option<CKey> {
    if let Ok(bytes) = key.cast::<PyBytes>() {
        return CKey::new(bytes.as_bytes());
    }
    // One bytes object, no Rust copy (the stable ABI of 3.9 has no
    // borrowed UTF-8 view of a str).
    let utf8 = key.cast::<PyString>().ok()?.encode_utf8().ok()?;
    CKey::new(utf8.as_bytes())
}

/// A value to store as bytes, and the flags python-memcached and the Tcl
/// binding give it (str 16; int 2 for the Client); None for another type.
fn value_bytes<'py>(
    value: &Bound<'py, PyAny>,
    ints: bool,
) -> PyResult<Option<(Bound<'py, PyBytes>, u32)>> {
    if let Ok(bytes) = value.cast_exact::<PyBytes>() {
        return Ok(Some((bytes.clone(), 0)));
    }
    if let Ok(text) = value.cast_exact::<PyString>() {
        return Ok(Some((text.encode_utf8()?, TEXT)));
    }
    if ints && value.is_exact_instance_of::<PyInt>() {
        return Ok(Some((value.str()?.encode_utf8()?, INTEGER)));
    }
    Ok(None)
}

/// `(found, value, flags)` of a key.
fn fetch(py: Python<'_>, handle: u64, key: &CKey) -> PyResult<(bool, Landing, u32)> {
    let mut landing = Landing::new();
    let mut flags = 0u32;
    let rc = run(py, &[ffi::NOTFOUND], || {
        let user = landing.user();
        // SAFETY: `key` is NUL-terminated; `user` is the Landing that
        // `landing::alloc` expects; the out-parameters are this call's
        // own, alive for the whole call.
        unsafe {
            ffi::mc_get_into(
                handle,
                ptr::null(),
                key.ptr(),
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
fn store(
    py: Python<'_>,
    handle: u64,
    verb: u32,
    key: &CKey,
    value: &[u8],
    flags: u32,
    ttl: u32,
) -> PyResult<u32> {
    run(py, &[ffi::NOTFOUND, ffi::NOTSTORED, ffi::EXISTS], || {
        // SAFETY: `key` is NUL-terminated and `value` has `value.len()`
        // bytes, both alive for the whole call.
        unsafe {
            ffi::mc_store(
                handle,
                verb,
                ptr::null(),
                key.ptr(),
                value.as_ptr().cast::<c_void>(),
                value.len(),
                flags,
                ttl,
                0,
            )
        }
    })
}

/// A TTL argument that is plainly valid: None (`default`), or an int of
/// 0 to 2^32-2. Else None: the Python path checks it.
fn plain_ttl(ttl: Option<&Bound<'_, PyAny>>, default: u32) -> Option<u32> {
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
}

#[pymethods]
impl Handle {
    #[new]
    fn new(handle: u64) -> Handle {
        Handle { handle }
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
        if flags & TEXT != 0 {
            if let Ok(text) = std::str::from_utf8(value.bytes(py)) {
                return Ok(PyString::new(py, text).into_any());
            }
        }
        Ok(value.into_bytes(py).into_any())
    }

    /// A dict of the keys that have data (one pipelined request per
    /// server), in the order given.
    fn mget<'py>(slf: &Bound<'py, Self>, keys: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        many::mget(slf.as_any(), slf.get().handle, keys)
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
        let (Some((value, flags)), Some(ttl)) =
            (value_bytes(&data, false)?, plain_ttl(ttl, ffi::TTL_DEFAULT))
        else {
            return slow();
        };
        let rc = store(py, slf.get().handle, 0, &ckey, value.as_bytes(), flags, ttl)?;
        if rc != ffi::OK {
            return slf.call_method1(intern!(py, "_refused"), (key,));
        }
        Ok(key)
    }
}

/// The base of `memcache.Client`: python-memcached's `get` and `set` for
/// the common case. `_fast` is set by the Python class when its hooks are
/// the defaults (no key encoder, zlib's decompressor: the handle then
/// decompresses flag 8 itself).
#[pyclass(subclass, module = "memcache._native")]
pub struct ClientBase {
    #[pyo3(get, set)]
    _h: Option<u64>,
    #[pyo3(get, set)]
    _fast: bool,
    #[pyo3(get, set)]
    do_check_key: bool,
    #[pyo3(get, set)]
    server_max_key_length: usize,
    #[pyo3(get, set)]
    server_max_value_length: usize,
    /// python-memcached's `stats`: calls per method name.
    #[pyo3(get, set)]
    stats: Py<PyDict>,
}

impl ClientBase {
    /// The handle and key of a call the fast path can make, else None.
    fn fast_key(&self, key: &Bound<'_, PyAny>) -> Option<(u64, CKey)> {
        let handle = self._h.filter(|_| self._fast)?;
        let key = c_key(key)?;
        let limit = self.server_max_key_length;
        if self.do_check_key && limit != 0 && key.len() > limit {
            return None;
        }
        Some((handle, key))
    }
}

/// A value as python-memcached returns it: bytes for flags 0, str for
/// text, int for int and long; pickles (and anything else) through the
/// Python method `_recv_value`, which holds the rules.
pub fn client_value<'py>(
    slf: &Bound<'py, PyAny>,
    data: &[u8],
    flags: u32,
) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    match flags {
        0 => Ok(PyBytes::new(py, data).into_any()),
        f if f & TEXT != 0 && f & 1 == 0 => match std::str::from_utf8(data) {
            Ok(text) => Ok(PyString::new(py, text).into_any()),
            Err(_) => slf.call_method1(intern!(py, "_recv_value"), (PyBytes::new(py, data), flags)),
        },
        f if f & (INTEGER | LONG) != 0 && f & 1 == 0 => {
            py.get_type::<PyInt>().call1((PyBytes::new(py, data),))
        }
        _ => slf.call_method1(intern!(py, "_recv_value"), (PyBytes::new(py, data), flags)),
    }
}

/// Adds one to `stats[name]` (python-memcached's `_statlog`).
pub fn count_call(stats: &Bound<'_, PyDict>, name: &Bound<'_, PyString>) -> PyResult<()> {
    let n = match stats.get_item(name)? {
        Some(n) => n.extract::<u64>()? + 1,
        None => 1,
    };
    stats.set_item(name, n)
}

#[pymethods]
impl ClientBase {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> ClientBase {
        let stats = Python::attach(|py| PyDict::new(py).unbind());
        ClientBase {
            stats,
            _h: None,
            _fast: false,
            do_check_key: true,
            server_max_key_length: KEY_MAX,
            server_max_value_length: 1024 * 1024,
        }
    }

    /// The value of the key, or ``default``.
    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let default = default.unwrap_or_else(|| py.None().into_bound(py));
        let this = slf.borrow();
        let Some((handle, ckey)) = this.fast_key(key) else {
            drop(this);
            return slf.call_method1(intern!(py, "_get"), (key, default, false));
        };
        count_call(this.stats.bind(py), intern!(py, "get"))?;
        drop(this);
        let (found, value, flags) = match fetch(py, handle, &ckey) {
            Ok(hit) => hit,
            Err(e) => return slf.call_method1(intern!(py, "_get_failed"), (e.value(py),)),
        };
        if !found {
            return Ok(default);
        }
        if flags == 0 {
            return Ok(value.into_bytes(py).into_any());
        }
        client_value(slf.as_any(), value.bytes(py), flags)
    }

    /// A dict of the keys that have values (``key_prefix`` put in front
    /// of each key sent, not of the dict's keys); one pipelined request per
    /// server.
    #[pyo3(signature = (keys, key_prefix=None))]
    fn get_multi<'py>(
        slf: &Bound<'py, Self>,
        keys: &Bound<'py, PyAny>,
        key_prefix: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let empty = PyString::new(py, "").into_any();
        let prefix = key_prefix.unwrap_or(&empty);
        let this = slf.borrow();
        let Some(handle) = this._h.filter(|_| this._fast) else {
            drop(this);
            let list = PyList::new(py, keys.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
            return slf.call_method1(intern!(py, "_get_multi"), (list, prefix));
        };
        let limit = (this.do_check_key && this.server_max_key_length != 0)
            .then_some(this.server_max_key_length);
        let stats = this.stats.bind(py).clone();
        drop(this);
        many::get_multi(slf.as_any(), handle, keys, prefix, limit, &stats)
    }

    /// Stores the value: True when stored.
    #[pyo3(signature = (key, val, time=None, min_compress_len=None, noreply=false))]
    fn set<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        val: &Bound<'py, PyAny>,
        time: Option<&Bound<'py, PyAny>>,
        min_compress_len: Option<&Bound<'py, PyAny>>,
        noreply: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let zero = 0i32.into_pyobject(py)?.into_any();
        let time = time.cloned().unwrap_or_else(|| zero.clone());
        let compress = min_compress_len.cloned().unwrap_or_else(|| zero.clone());
        let slow = || {
            slf.call_method1(
                intern!(py, "_set"),
                (0, key, val, &time, &compress, noreply),
            )
        };
        let this = slf.borrow();
        let Some((handle, ckey)) = this.fast_key(key) else {
            drop(this);
            return slow();
        };
        let plain =
            compress.is_exact_instance_of::<PyInt>() && compress.extract::<u64>().ok() == Some(0);
        let (true, Some(ttl), Some((value, flags))) =
            (plain, plain_ttl(Some(&time), 0), value_bytes(val, true)?)
        else {
            drop(this);
            return slow();
        };
        let limit = this.server_max_value_length;
        if limit != 0 && value.as_bytes().len() > limit {
            drop(this);
            return slow();
        }
        count_call(this.stats.bind(py), intern!(py, "set"))?;
        drop(this);
        match store(py, handle, 0, &ckey, value.as_bytes(), flags, ttl) {
            Ok(ffi::OK) => Ok(pyo3::types::PyBool::new(py, true).to_owned().into_any()),
            Ok(code) => slf.call_method1(intern!(py, "_store_result"), (code, noreply)),
            Err(e) => slf.call_method1(intern!(py, "_store_failed"), (e.value(py),)),
        }
    }
}
