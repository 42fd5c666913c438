//! Settings by name (`mc_configure`, `mc_option`): every option of Tcl's
//! `configure` for C, and the way the Python binding reaches them; and
//! where the library itself was loaded from (`mc_library_path`).

use std::ffi::{c_char, CStr};
use std::sync::OnceLock;

use crate::client::Options;
use crate::error::Result;
use crate::registry;

use super::boundary::*;
use super::types::*;

/// As `mc_create`, with settings: `settings` holds `count_settings`
/// pairs of strings, a name and its value (names and values as
/// `mc_configure`), applied in order before the handle exists, so that a
/// daemon started for a socket file nothing answers on is started with
/// them (`memory`, `daemonargs`...), and `autostart 0` starts none. A bad
/// setting is `MC_INVALID` and makes no handle.
///
/// # Safety
/// `servers` points to `count` NUL-terminated strings, `settings` to
/// `2 * count_settings` (or is null when that is 0); `handle` is valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_create_configured(
    servers: *const *const c_char,
    count: usize,
    settings: *const *const c_char,
    count_settings: usize,
    handle: *mut u64,
) -> mc_result {
    guard(|| {
        if handle.is_null() {
            return Err(null("handle"));
        }
        // SAFETY: `count` NUL-terminated strings (this function's contract).
        let specs = unsafe { utf8_texts(servers, count, "servers", "a server name") }?;
        // SAFETY: `2 * count_settings` NUL-terminated strings (this
        // function's contract).
        let words = unsafe { pairs(settings, count_settings) }?;
        let mut options = Options::default();
        apply(&mut options, &words)?;
        let id = registry::create(&specs, options)?;
        // SAFETY: checked non-null, valid for a write (this function's contract).
        unsafe { handle.write(id) };
        Ok(mc_result::MC_OK)
    })
}

/// Changes settings of a handle: `settings` holds `count` pairs of
/// strings, a name and its value, named as Tcl's `configure` options
/// without the dash, the value as text: `ttl` (the default TTL of the
/// Tcl and Python `put`, seconds), `timeout` and `connecttimeout`
/// (milliseconds), `prefix`, `memcached`, `memory` (MB), `socketmode`
/// (octal), `daemonargs` (one argument a line), `distribution` (`ketama`
/// or `modula`), `retry` (seconds, may have a fraction), `failover`,
/// `autostart` and `persist` (`1`/`0`, `true`/`false`), `username`,
/// `password`, `compress` (bytes, 0 for off), and TLS: `tls` (`1` for
/// every TCP server; a server written `tls://host:port` uses TLS anyway,
/// one written `tcp://host:port` never, socket files never), `tlsca` (PEM
/// file of the CAs to trust; default the system's), `tlscert` and `tlskey`
/// (the client certificate and its key, PEM), `tlsname` (the name the
/// server's certificate must carry; default the host of each server),
/// `tlsverify` (`0` accepts any certificate: tests only), and
/// `valueformat` (`raw`, `python`, `php`: as `mc_set_value_format`), and
/// `binarykeys` (`1`: a key the classic commands cannot carry, any bytes
/// up to 186, goes base64 over the meta commands of memcached 1.6; pass
/// one holding NUL to the `_n` calls). An
/// empty value clears a file or name. All are applied together (a
/// username and its password, a certificate and its key): a bad name or
/// value, or with TLS on a file that cannot be read, is `MC_INVALID` with
/// Tcl's message, and changes nothing.
///
/// # Safety
/// `settings` points to `2 * count` NUL-terminated strings (or is null
/// when `count` is 0).
#[no_mangle]
pub unsafe extern "C" fn mc_configure(
    handle: u64,
    settings: *const *const c_char,
    count: usize,
) -> mc_result {
    guard(|| {
        // SAFETY: `2 * count` NUL-terminated strings (this function's contract).
        let words = unsafe { pairs(settings, count) }?;
        client(handle)?.update_options(|options| apply(options, &words))?;
        Ok(mc_result::MC_OK)
    })
}

/// Reads `count` pairs of strings.
///
/// # Safety
/// `settings` points to `2 * count` NUL-terminated strings, or is null
/// when `count` is 0.
unsafe fn pairs(settings: *const *const c_char, count: usize) -> Result<Vec<String>> {
    let strings = count.checked_mul(2).ok_or_else(|| null("settings"))?;
    // SAFETY: as this function's contract.
    unsafe { utf8_texts(settings, strings, "settings", "a setting") }
}

/// Sets every (name, value) pair of `words` in `options`.
fn apply(options: &mut Options, words: &[String]) -> Result<()> {
    for pair in words.chunks(2) {
        options.set_text(&pair[0], &pair[1])?;
    }
    Ok(())
}

/// Reads one setting of a handle (names as `mc_configure`) into `*value`,
/// a string to release with `mc_free`. The password is never given back:
/// `********` when one is set, else empty.
///
/// # Safety
/// `name` is a NUL-terminated string; `value` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mc_option(
    handle: u64,
    name: *const c_char,
    value: *mut *mut c_char,
) -> mc_result {
    guard(|| {
        // SAFETY: a NUL-terminated string (this function's contract).
        let name = utf8(unsafe { text(name, "name") }?, "name")?;
        if value.is_null() {
            return Err(null("value"));
        }
        let setting = client(handle)?.options().text(&name)?;
        let copy = malloc_copy(setting.as_bytes())?;
        // SAFETY: checked non-null, valid for a write (this function's contract).
        unsafe { put(value, copy.cast()) };
        Ok(mc_result::MC_OK)
    })
}

/// The path of the shared library this function is in, as the dynamic
/// linker loaded it. Each copy of the library loaded into a process has
/// its own handles: Tcl, C and Python share handles when they use the one
/// at this path. Never null; empty if the system cannot tell.
#[no_mangle]
pub extern "C" fn mc_library_path() -> *const c_char {
    static PATH: OnceLock<std::ffi::CString> = OnceLock::new();
    PATH.get_or_init(|| {
        // SAFETY: Dl_info is plain data (pointers), for which zero is valid.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        let here = mc_library_path as *const libc::c_void;
        // SAFETY: dladdr reads the address and fills `info`; a zero result
        // leaves it unset, and dli_fname then is not read.
        let found = unsafe { libc::dladdr(here, &mut info) } != 0 && !info.dli_fname.is_null();
        if found {
            // SAFETY: dladdr gave a NUL-terminated name that lives as long
            // as the library.
            unsafe { CStr::from_ptr(info.dli_fname) }.to_owned()
        } else {
            Default::default()
        }
    })
    .as_ptr()
}
