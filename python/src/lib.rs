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
mod client;
mod fast;
mod ffi;
mod handles;
mod items;
mod landing;
mod many;
mod state;
mod text;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use call::lossy;

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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    text::init(m.py());
    m.add_class::<fast::Handle>()?;
    m.add_class::<client::ClientBase>()?;
    m.add_function(wrap_pyfunction!(init, m)?)?;
    m.add_function(wrap_pyfunction!(state::update, m)?)?;
    m.add_function(wrap_pyfunction!(state::lock, m)?)?;
    m.add_function(wrap_pyfunction!(state::unlock, m)?)?;
    m.add_function(wrap_pyfunction!(state::fetch, m)?)?;
    m.add_function(wrap_pyfunction!(state::invalidate, m)?)?;
    m.add_function(wrap_pyfunction!(handles::set_value_format, m)?)?;
    m.add_function(wrap_pyfunction!(handles::text_flag, m)?)?;
    m.add_function(wrap_pyfunction!(handles::is_text, m)?)?;
    m.add_function(wrap_pyfunction!(library_path, m)?)?;
    m.add_function(wrap_pyfunction!(handles::create, m)?)?;
    m.add_function(wrap_pyfunction!(handles::delete, m)?)?;
    m.add_function(wrap_pyfunction!(handles::delete_all, m)?)?;
    m.add_function(wrap_pyfunction!(handles::handles, m)?)?;
    m.add_function(wrap_pyfunction!(handles::find, m)?)?;
    m.add_function(wrap_pyfunction!(handles::servers, m)?)?;
    m.add_function(wrap_pyfunction!(handles::configure, m)?)?;
    m.add_function(wrap_pyfunction!(handles::option, m)?)?;
    m.add_function(wrap_pyfunction!(handles::unique_key, m)?)?;
    m.add_function(wrap_pyfunction!(handles::start, m)?)?;
    m.add_function(wrap_pyfunction!(handles::stop, m)?)?;
    m.add_function(wrap_pyfunction!(handles::forget_dead, m)?)?;
    m.add_function(wrap_pyfunction!(handles::disconnect, m)?)?;
    m.add_function(wrap_pyfunction!(handles::mark_dead, m)?)?;
    m.add_function(wrap_pyfunction!(handles::set_servers, m)?)?;
    m.add_function(wrap_pyfunction!(handles::server_for_key, m)?)?;
    m.add_function(wrap_pyfunction!(items::store, m)?)?;
    m.add_function(wrap_pyfunction!(items::get, m)?)?;
    m.add_function(wrap_pyfunction!(items::get_multi, m)?)?;
    m.add_function(wrap_pyfunction!(items::set_multi, m)?)?;
    m.add_function(wrap_pyfunction!(items::remove, m)?)?;
    m.add_function(wrap_pyfunction!(items::remove_multi, m)?)?;
    m.add_function(wrap_pyfunction!(items::touch, m)?)?;
    m.add_function(wrap_pyfunction!(items::count, m)?)?;
    m.add_function(wrap_pyfunction!(items::exists, m)?)?;
    m.add_function(wrap_pyfunction!(items::ttl, m)?)?;
    m.add_function(wrap_pyfunction!(items::flags, m)?)?;
    m.add_function(wrap_pyfunction!(handles::flush, m)?)?;
    m.add_function(wrap_pyfunction!(handles::stats, m)?)?;
    m.add_function(wrap_pyfunction!(handles::stats_of, m)?)?;
    m.add_function(wrap_pyfunction!(handles::version, m)?)?;
    Ok(())
}
