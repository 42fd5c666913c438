//! `ClientBase`, the base of `memcache.Client`: python-memcached's `get`,
//! `set` and `get_multi` whole in Rust for the common case (see `fast`),
//! and the settings they read, kept in atomics so that the class is
//! frozen (no borrow check a call) and its threads never wait on each
//! other. `stats`, python-memcached's calls per method, is counted here
//! too: a dict updated on every call cost ~570 instructions, a tenth of a
//! get (`make bench`, Python rows).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyString, PyTuple};

use crate::fast::{c_key, fetch, plain_ttl, store, value_bytes, INTEGER, KEY_MAX, LONG, TEXT};
use crate::ffi;
use crate::many;
use crate::text::Utf8;

/// `_h` when the client has no servers.
const NO_HANDLE: u64 = u64::MAX;

/// memcached's longest relative exptime (30 days).
const MAX_RELATIVE: u32 = 30 * 24 * 3600;

/// The methods counted without a lock, in this order.
const COUNTED: [&str; 3] = ["get", "set", "get_multi"];
const GET: usize = 0;
const SET: usize = 1;
const GET_MULTI: usize = 2;

/// python-memcached's `stats`: the three calls of the fast paths in
/// atomics, any other in a list.
struct Stats {
    fast: [AtomicU64; 3],
    other: Mutex<Vec<(String, u64)>>,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            fast: Default::default(),
            other: Mutex::new(Vec::new()),
        }
    }

    /// Counts a call of `COUNTED[i]`.
    fn count_fast(&self, i: usize) {
        self.fast[i].fetch_add(1, Relaxed);
    }

    fn count(&self, name: &str) {
        if let Some(i) = COUNTED.iter().position(|&n| n == name) {
            self.fast[i].fetch_add(1, Relaxed);
            return;
        }
        let mut other = self.other.lock().unwrap_or_else(|e| e.into_inner());
        match other.iter_mut().find(|(n, _)| n == name) {
            Some((_, count)) => *count += 1,
            None => other.push((name.to_string(), 1)),
        }
    }
}

/// The base of `memcache.Client`. `_fast` is set by the Python class when
/// its hooks are the defaults (no key encoder, zlib's decompressor: the
/// handle then decompresses flag 8 itself).
#[pyclass(subclass, frozen, module = "memcache._native")]
pub struct ClientBase {
    handle: AtomicU64,
    fast: AtomicBool,
    check: AtomicBool,
    max_key: AtomicUsize,
    max_value: AtomicUsize,
    stats: Stats,
}

impl ClientBase {
    /// The handle and key of a call the fast path can make, else None.
    fn fast_key<'py>(&self, key: &Bound<'py, PyAny>) -> Option<(u64, Utf8<'py>)> {
        let handle = self.fast_handle()?;
        let key = c_key(key)?;
        match self.key_limit() {
            Some(limit) if key.as_bytes().len() > limit => None,
            _ => Some((handle, key)),
        }
    }

    /// The handle, when the fast path may be taken.
    fn fast_handle(&self) -> Option<u64> {
        let handle = self.handle.load(Relaxed);
        (handle != NO_HANDLE && self.fast.load(Relaxed)).then_some(handle)
    }

    /// The longest key accepted, when keys are checked.
    fn key_limit(&self) -> Option<usize> {
        let limit = self.max_key.load(Relaxed);
        (self.check.load(Relaxed) && limit != 0).then_some(limit)
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
    let general = || slf.call_method1(intern!(py, "_recv_value"), (PyBytes::new(py, data), flags));
    match flags {
        0 => Ok(PyBytes::new(py, data).into_any()),
        f if f & TEXT != 0 && f & 1 == 0 => match std::str::from_utf8(data) {
            Ok(text) => Ok(PyString::new(py, text).into_any()),
            Err(_) => general(),
        },
        f if f & (INTEGER | LONG) != 0 && f & 1 == 0 => {
            py.get_type::<PyInt>().call1((PyBytes::new(py, data),))
        }
        _ => general(),
    }
}

#[pymethods]
impl ClientBase {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> ClientBase {
        ClientBase {
            handle: AtomicU64::new(NO_HANDLE),
            fast: AtomicBool::new(false),
            check: AtomicBool::new(true),
            max_key: AtomicUsize::new(KEY_MAX),
            max_value: AtomicUsize::new(1024 * 1024),
            stats: Stats::new(),
        }
    }

    /// The library handle of the servers (None without servers).
    #[getter(_h)]
    fn get_handle(&self) -> Option<u64> {
        Some(self.handle.load(Relaxed)).filter(|&h| h != NO_HANDLE)
    }

    #[setter(_h)]
    fn set_handle(&self, handle: Option<u64>) {
        self.handle.store(handle.unwrap_or(NO_HANDLE), Relaxed);
    }

    /// Whether get and set may take the fast path (the hooks are the
    /// defaults).
    #[getter(_fast)]
    fn get_fast(&self) -> bool {
        self.fast.load(Relaxed)
    }

    #[setter(_fast)]
    fn set_fast(&self, fast: bool) {
        self.fast.store(fast, Relaxed);
    }

    /// python-memcached's `do_check_key` (the `check_keys` argument).
    #[getter]
    fn get_do_check_key(&self) -> bool {
        self.check.load(Relaxed)
    }

    #[setter]
    fn set_do_check_key(&self, check: bool) {
        self.check.store(check, Relaxed);
    }

    /// The longest key sent (0: no limit).
    #[getter]
    fn get_server_max_key_length(&self) -> usize {
        self.max_key.load(Relaxed)
    }

    #[setter]
    fn set_server_max_key_length(&self, limit: usize) {
        self.max_key.store(limit, Relaxed);
    }

    /// The largest value sent (0: no limit); larger ones are not stored.
    #[getter]
    fn get_server_max_value_length(&self) -> usize {
        self.max_value.load(Relaxed)
    }

    #[setter]
    fn set_server_max_value_length(&self, limit: usize) {
        self.max_value.store(limit, Relaxed);
    }

    /// python-memcached's `stats`: how many times each method was called
    /// (a new dict each time it is read; assign a dict to reset it).
    #[getter]
    fn get_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, count) in COUNTED.iter().zip(&self.stats.fast) {
            let n = count.load(Relaxed);
            if n > 0 {
                out.set_item(name, n)?;
            }
        }
        let other = self.stats.other.lock().unwrap_or_else(|e| e.into_inner());
        for (name, n) in other.iter() {
            out.set_item(name, n)?;
        }
        Ok(out)
    }

    #[setter]
    fn set_stats(&self, stats: &Bound<'_, PyDict>) -> PyResult<()> {
        let mut other = self.stats.other.lock().unwrap_or_else(|e| e.into_inner());
        other.clear();
        for count in &self.stats.fast {
            count.store(0, Relaxed);
        }
        for (name, n) in stats.iter() {
            let (name, n) = (name.extract::<String>()?, n.extract::<u64>()?);
            match COUNTED.iter().position(|&c| c == name) {
                Some(i) => self.stats.fast[i].store(n, Relaxed),
                None => other.push((name, n)),
            }
        }
        Ok(())
    }

    /// Counts a call of `name` in `stats` (python-memcached's `_statlog`).
    fn _statlog(&self, name: &str) {
        self.stats.count(name);
    }

    /// The value of the key, or ``default``.
    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let Some((handle, key_bytes)) = this.fast_key(key) else {
            return slf.call_method1(intern!(py, "_get"), (key, default, false));
        };
        this.stats.count_fast(GET);
        let (found, value, flags) = match fetch(py, handle, &key_bytes) {
            Ok(hit) => hit,
            Err(e) => return slf.call_method1(intern!(py, "_get_failed"), (e.value(py),)),
        };
        if !found {
            return Ok(default.unwrap_or_else(|| py.None().into_bound(py)));
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
        let this = slf.get();
        let Some(handle) = this.fast_handle() else {
            return slf.call_method1(intern!(py, "_get_multi"), (many::listed(keys)?, prefix));
        };
        let count = || this.stats.count_fast(GET_MULTI);
        many::get_multi(slf.as_any(), handle, keys, prefix, this.key_limit(), count)
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
        let this = slf.get();
        let Some((handle, key_bytes)) = this.fast_key(key) else {
            return slow();
        };
        let plain =
            compress.is_exact_instance_of::<PyInt>() && compress.extract::<u64>().ok() == Some(0);
        let (true, Some(ttl), Some((value, flags))) = (
            plain,
            // Up to 30 days, memcached's exptime (python-memcached's
            // `time`) is the library's TTL; beyond, `_set` says which.
            plain_ttl(Some(&time), 0).filter(|&t| t <= MAX_RELATIVE),
            value_bytes(val, true, TEXT)?,
        ) else {
            return slow();
        };
        let limit = this.max_value.load(Relaxed);
        if limit != 0 && value.as_bytes().len() > limit {
            return slow();
        }
        this.stats.count_fast(SET);
        match store(py, handle, 0, &key_bytes, value.as_bytes(), flags, ttl) {
            Ok(ffi::OK) => Ok(PyBool::new(py, true).to_owned().into_any()),
            Ok(code) => slf.call_method1(intern!(py, "_store_result"), (code, noreply)),
            Err(e) => slf.call_method1(intern!(py, "_store_failed"), (e.value(py),)),
        }
    }
}
