//! Many keys in one call, whole in Rust: `Memcache.mget` and
//! `Client.get_multi` for str, bytes (and, for the Client, int) keys. The
//! keys are copied once into one buffer (each with its NUL), the library
//! reads every server's replies into one block, and the dict is built
//! from it: per key, one value object and one dict entry. Anything else
//! goes to the Python methods (see `fast.rs`).

use std::collections::HashMap;
use std::ffi::{c_char, CStr};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList};

use crate::call::{run, Malloced};
use crate::ffi;
use crate::text::Utf8;

/// memcached's longest key.
const KEY_MAX: usize = 250;

/// Keys as C strings in one buffer.
pub struct Keys {
    bytes: Vec<u8>,
    starts: Vec<usize>,
}

impl Keys {
    pub fn with_capacity(count: usize) -> Keys {
        Keys {
            bytes: Vec::with_capacity(count * 24),
            starts: Vec::with_capacity(count),
        }
    }

    /// Adds `prefix` + `key`; false (nothing added) for a key the fast
    /// path leaves to the Python one: empty (even with a prefix, which
    /// python-memcached refuses), too long, or with a byte the text
    /// protocol cannot carry.
    pub fn push(&mut self, prefix: &[u8], key: &[u8]) -> bool {
        let len = prefix.len() + key.len();
        let bad = |b: &u8| *b <= b' ' || *b == 0x7f;
        if key.is_empty() || len > KEY_MAX || prefix.iter().any(bad) || key.iter().any(bad) {
            return false;
        }
        self.starts.push(self.bytes.len());
        self.bytes.extend_from_slice(prefix);
        self.bytes.extend_from_slice(key);
        self.bytes.push(0);
        true
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Key `i`, without its NUL.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = self.starts[i];
        let end = self.starts.get(i + 1).map_or(self.bytes.len(), |&s| s) - 1;
        &self.bytes[start..end]
    }

    fn pointers(&self) -> Vec<usize> {
        let base = self.bytes.as_ptr() as usize;
        self.starts.iter().map(|&s| base + s).collect()
    }
}

/// A str or bytes key (or, with `ints`, an int, as its decimal digits:
/// python-memcached's get_multi takes those) as bytes; None otherwise.
pub fn key_object<'py>(key: &Bound<'py, PyAny>, ints: bool) -> Option<Utf8<'py>> {
    if ints && key.is_exact_instance_of::<PyInt>() {
        return Utf8::of_str(&key.str().ok()?).ok();
    }
    Utf8::of(key)
}

/// The hits of `keys`, pipelined; with `partial`, a server that fails
/// leaves its keys out instead of failing the call.
fn fetch_many(
    py: Python<'_>,
    handle: u64,
    keys: &Keys,
    partial: bool,
) -> PyResult<(Malloced, usize)> {
    // Addresses as integers: the closure given to `run` must be Send.
    let pointers = keys.pointers();
    let mut hits = Malloced::new();
    let (mut count, mut failed) = (0usize, 0usize);
    run(py, &[], || {
        let list = pointers.as_ptr().cast::<*const c_char>();
        // SAFETY: `list` holds `keys.len()` pointers to NUL-terminated
        // keys in `keys`, alive for the whole call; the out-parameters
        // are this call's own.
        unsafe {
            if partial {
                ffi::mc_get_multi_partial(
                    handle,
                    list,
                    keys.len(),
                    hits.ptr().cast(),
                    &mut count,
                    &mut failed,
                )
            } else {
                ffi::mc_get_multi_by_key(
                    handle,
                    std::ptr::null(),
                    list,
                    keys.len(),
                    hits.ptr().cast(),
                    &mut count,
                )
            }
        }
    })?;
    Ok((hits, count))
}

/// Which hit answers each key (None: a miss). A server answers in the
/// order asked, so the next hit is usually the next key's: a cursor finds
/// it, and a map is built only for a hit out of that order.
fn match_hits(keys: &Keys, hits: &[ffi::Hit]) -> Vec<Option<usize>> {
    // SAFETY: each hit's key is a NUL-terminated string in the library's
    // block, alive as long as `hits`.
    let hit_key = |h: &ffi::Hit| unsafe { CStr::from_ptr(h.key) }.to_bytes();
    let mut cursor = 0;
    let mut map: Option<HashMap<&[u8], usize>> = None;
    (0..keys.len())
        .map(|i| {
            let key = keys.get(i);
            if cursor < hits.len() && hit_key(&hits[cursor]) == key {
                cursor += 1;
                return Some(cursor - 1);
            }
            map.get_or_insert_with(|| {
                hits.iter()
                    .enumerate()
                    .map(|(j, h)| (hit_key(h), j))
                    .collect()
            })
            .get(key)
            .copied()
        })
        .collect()
}

/// A hit's value bytes.
fn value_of(hit: &ffi::Hit) -> &[u8] {
    if hit.value_len == 0 {
        return &[];
    }
    // SAFETY: the library's block holds `value_len` bytes at `value`.
    unsafe { std::slice::from_raw_parts(hit.value, hit.value_len) }
}

/// The items of an iterable as a list (iterated once: it may be a
/// generator).
pub fn listed<'py>(keys: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    PyList::new(keys.py(), keys.try_iter()?.collect::<PyResult<Vec<_>>>()?)
}

/// The keys of an iterable, or None when one of them is not for the
/// fast path; and the list of them (the Python path's argument).
fn collect<'py>(
    keys: &Bound<'py, PyAny>,
    prefix: &[u8],
    ints: bool,
) -> PyResult<(Bound<'py, PyList>, Option<Keys>)> {
    let list = listed(keys)?;
    let mut out = Keys::with_capacity(list.len());
    for key in list.iter() {
        match key_object(&key, ints) {
            Some(bytes) if out.push(prefix, bytes.as_bytes()) => {}
            _ => return Ok((list, None)),
        }
    }
    Ok((list, Some(out)))
}

/// Seed 000's `mget`: a dict of the keys that have data, in the order
/// given, str for text and bytes otherwise.
pub fn mget<'py>(
    slf: &Bound<'py, PyAny>,
    handle: u64,
    format: u32,
    keys: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    // The keys collected once: the Python path gets the same list.
    let (list, wanted) = collect(keys, b"", false)?;
    let Some(wanted) = wanted else {
        return slf.call_method1(intern!(py, "_mget"), (list,));
    };
    let (block, count) = fetch_many(py, handle, &wanted, false)?;
    let hits = block.records::<ffi::Hit>(count);
    let out = PyDict::new(py);
    for (key, at) in list.iter().zip(match_hits(&wanted, hits)) {
        let Some(at) = at else { continue };
        let hit = &hits[at];
        let data = value_of(hit);
        match crate::fast::text(py, data, hit.flags, format) {
            Some(text) => out.set_item(key, text)?,
            None => out.set_item(key, PyBytes::new(py, data))?,
        }
    }
    Ok(out.into_any())
}

/// python-memcached's `get_multi` for the fast path's keys: `prefix` is
/// put in front of each key sent, not of the dict's keys; a server that
/// fails leaves its keys out (and is logged by `_failed`).
pub fn get_multi<'py>(
    slf: &Bound<'py, PyAny>,
    handle: u64,
    keys: &Bound<'py, PyAny>,
    prefix: &Bound<'py, PyAny>,
    limit: Option<usize>,
    count_call: impl FnOnce(),
) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    let slow =
        |list: Bound<'py, PyList>| slf.call_method1(intern!(py, "_get_multi"), (list, prefix));
    let Some(prefix_bytes) = key_object(prefix, false) else {
        return slow(listed(keys)?);
    };
    let (list, wanted) = collect(keys, prefix_bytes.as_bytes(), true)?;
    let Some(wanted) = wanted else {
        return slow(list);
    };
    if let Some(limit) = limit {
        if (0..wanted.len()).any(|i| wanted.get(i).len() > limit) {
            return slow(list);
        }
    }
    count_call();
    let out = PyDict::new(py);
    if wanted.len() == 0 {
        return Ok(out.into_any());
    }
    let (block, count) = match fetch_many(py, handle, &wanted, true) {
        Ok(hits) => hits,
        Err(e) => {
            slf.call_method1(intern!(py, "_failed"), (e.value(py),))?;
            return Ok(out.into_any());
        }
    };
    let hits = block.records::<ffi::Hit>(count);
    for (key, at) in list.iter().zip(match_hits(&wanted, hits)) {
        let Some(at) = at else { continue };
        let hit = &hits[at];
        out.set_item(
            key,
            crate::client::client_value(slf, value_of(hit), hit.flags)?,
        )?;
    }
    Ok(out.into_any())
}
