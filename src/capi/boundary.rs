//! The boundary: every call runs inside `guard` (no panic crosses it; the
//! message of anything but success is kept for `mc_last_error`), and the
//! readers of C arguments and writers of C results are here.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use crate::client::{Client, Options, Placed, Status, EXPIRED};
use crate::error::{Error, Kind, Result};
use crate::registry;

use super::types::*;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(super) fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with`, not `with`: in a thread's exit (a TLS destructor calling
    // into the library) the slot may be gone, and `with` would panic outside
    // any guard, across the C boundary.
    let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = text);
}

/// Runs `body` inside the panic boundary and turns its outcome into a result
/// code, recording the message of anything but success.
pub(super) fn guard(body: impl FnOnce() -> Result<mc_result>) -> mc_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(code)) => {
            if code != mc_result::MC_OK {
                set_last_error(match code {
                    mc_result::MC_NOTFOUND => "not found",
                    mc_result::MC_NOTSTORED => "not stored",
                    mc_result::MC_EXISTS => "exists: the item changed since its CAS value was read",
                    _ => "failed",
                });
            }
            code
        }
        Ok(Err(e)) => {
            set_last_error(e.message());
            e.kind().into()
        }
        Err(panic) => {
            let what = crate::error::panic_message(&*panic);
            set_last_error(&format!("internal error (please report): {what}"));
            mc_result::MC_PANIC
        }
    }
}

pub(super) fn null(name: &str) -> Error {
    Error::new(Kind::Invalid, format!("{name} is a null pointer"))
}

/// Reads a NUL-terminated string argument.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string.
pub(super) unsafe fn text<'a>(p: *const c_char, name: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: `p` is not null, so (by this function's contract) it points to
    // a NUL-terminated string that outlives 'a.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// A key argument: a NUL-terminated string, or (the `_n` calls) a pointer
/// and a length, so that a binary key may hold NUL bytes.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyArg {
    Text(*const c_char),
    Sized(*const c_void, usize),
}

impl KeyArg {
    /// The key's bytes (an empty sized key is the client's "key is empty").
    ///
    /// # Safety
    /// `Text`: null or a NUL-terminated string; `Sized`: `len` readable
    /// bytes, or a length of 0.
    pub(super) unsafe fn bytes<'a>(self) -> Result<&'a [u8]> {
        match self {
            // SAFETY: as this function's contract.
            KeyArg::Text(p) => unsafe { text(p, "key") },
            // SAFETY: as this function's contract.
            KeyArg::Sized(p, len) => unsafe { bytes(p, len, "key") },
        }
    }
}

/// Reads a byte buffer argument; a null pointer is allowed for length 0.
///
/// # Safety
/// `p` points to `len` readable bytes, or `len` is 0.
pub(super) unsafe fn bytes<'a>(p: *const c_void, len: usize, name: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: `p` is not null and (by this function's contract) points to
    // `len` readable bytes that outlive 'a.
    Ok(unsafe { std::slice::from_raw_parts(p.cast(), len) })
}

/// A TTL argument: the library's (relative seconds) or, in the
/// `_exptime` calls, memcached's own exptime (a signed 32-bit number, as
/// memcached reads it).
#[derive(Debug, Clone, Copy)]
pub(super) enum Expiry {
    Ttl(u32),
    Exptime(i32),
}

impl Expiry {
    /// The client's placement `place`, reading TTLs as this one is, and
    /// the TTL to give it (a negative exptime: memcached's own reading).
    pub(super) fn at<'a>(self, client: &'a Client, place: Option<&'a [u8]>) -> (Placed<'a>, u32) {
        match self {
            Expiry::Ttl(ttl) => (client.at(place), ttl),
            Expiry::Exptime(e) => (
                client.at(place).exptimes(),
                u32::try_from(e).unwrap_or(EXPIRED),
            ),
        }
    }
}

/// Reads an optional placement value: null means none (each key by its
/// own hash).
///
/// # Safety
/// `p` is null or points to a NUL-terminated string.
pub(super) unsafe fn place_arg<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        // SAFETY: not null, so a NUL-terminated string (this function's
        // contract).
        Some(unsafe { CStr::from_ptr(p) }.to_bytes())
    }
}

/// A C string of an array the caller passed, read (by `strlen`) where it
/// is used: [`text_array`] hands the caller's array itself to the client
/// as its slice of keys, with no slice of them made first (callgrind, C
/// mget100: 58.2k -> 57.3k a call).
#[repr(transparent)]
pub(super) struct CText(ptr::NonNull<c_char>);

impl AsRef<[u8]> for CText {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: made only by `text_array` from a non-null pointer to a
        // NUL-terminated string that outlives the slice it is in.
        unsafe { CStr::from_ptr(self.0.as_ptr()) }.to_bytes()
    }
}

/// Reads an array of `count` NUL-terminated strings, as a slice of
/// [`CText`] (the array itself); `array_name` names the array and `each`
/// one of its strings in errors. The array may be null only when `count`
/// is 0.
///
/// # Safety
/// `array` is null or points to `count` pointers, each null or pointing to
/// a NUL-terminated string; all outlive 'a.
pub(super) unsafe fn text_array<'a>(
    array: *const *const c_char,
    count: usize,
    array_name: &str,
    each: &str,
) -> Result<&'a [CText]> {
    if count == 0 {
        return Ok(&[]);
    }
    if array.is_null() {
        return Err(null(array_name));
    }
    // SAFETY: `array` points to `count` pointers that outlive 'a (the
    // contract).
    let pointers = unsafe { std::slice::from_raw_parts(array, count) };
    if pointers.iter().any(|p| p.is_null()) {
        return Err(null(each));
    }
    // SAFETY: CText is a transparent NonNull<c_char>, the layout of a
    // `const char *` that is not null (checked just above); each points to
    // a NUL-terminated string that outlives 'a (the contract).
    Ok(unsafe { std::slice::from_raw_parts(array.cast::<CText>(), count) })
}

/// As [`text_array`], each string also UTF-8 (server specs, daemon
/// arguments).
///
/// # Safety
/// As [`text_array`].
pub(super) unsafe fn utf8_texts(
    array: *const *const c_char,
    count: usize,
    array_name: &str,
    each: &str,
) -> Result<Vec<String>> {
    // SAFETY: the same contract as this function's.
    let texts = unsafe { text_array(array, count, array_name, each) }?;
    texts.iter().map(|t| utf8(t.as_ref(), each)).collect()
}

/// `text` as a `String`, or an `Invalid` error naming `what`.
pub(super) fn utf8(text: &[u8], what: &str) -> Result<String> {
    std::str::from_utf8(text)
        .map(str::to_owned)
        .map_err(|_| Error::new(Kind::Invalid, format!("{what} is not UTF-8")))
}

/// One `malloc` block that holds `count` records of type `T` and, after
/// them, `strings` (the NUL-terminated texts the records point into):
/// what a multi-get or `mc_stats` hands out, released with one `mc_free`.
/// `make(i, base)` makes record `i`, `base` being where the strings start
/// in the block.
pub(super) fn pack<T>(
    count: usize,
    strings: &[u8],
    mut make: impl FnMut(usize, *const u8) -> T,
) -> Result<*mut T> {
    let head = count
        .checked_mul(std::mem::size_of::<T>())
        .and_then(|h| h.checked_add(strings.len()))
        .ok_or_else(|| Error::new(Kind::Invalid, "a result too large to hand out"))?;
    let block = alloc(head)?;
    let array = block.cast::<T>();
    let strings_at = head - strings.len();
    // SAFETY: the block has `head` bytes: `count` records (malloc aligns
    // it for any type) and then `strings.len()` bytes, which the copy
    // fills; nothing else uses the new block.
    unsafe {
        let base = block.add(strings_at);
        ptr::copy_nonoverlapping(strings.as_ptr(), base, strings.len());
        for i in 0..count {
            array.add(i).write(make(i, base));
        }
    }
    Ok(array)
}

/// Writes `value` through an output pointer that may be null (not wanted).
///
/// # Safety
/// `p` is null or valid for a write of `T`.
pub(super) unsafe fn put<T>(p: *mut T, value: T) {
    if !p.is_null() {
        // SAFETY: not null, so valid for a write (this function's contract).
        unsafe { p.write(value) };
    }
}

pub(super) fn client(handle: u64) -> Result<Arc<Client>> {
    registry::get(handle)
}

/// Changes a handle's settings with `change`, under the handle's lock.
pub(super) fn configure(handle: u64, change: impl FnOnce(&mut Options)) -> Result<mc_result> {
    client(handle)?.update_options(|options| {
        change(options);
        Ok::<(), Error>(())
    })?;
    Ok(mc_result::MC_OK)
}

/// Allocates `size` bytes with `malloc` so that `mc_free` (`free`) releases it.
pub(super) fn alloc(size: usize) -> Result<*mut u8> {
    // SAFETY: malloc has no preconditions; a null result is handled.
    let p = unsafe { libc::malloc(size.max(1)) }.cast::<u8>();
    if p.is_null() {
        Err(Error::new(
            Kind::Invalid,
            format!("out of memory allocating {size} bytes"),
        ))
    } else {
        Ok(p)
    }
}

/// A `malloc`ed, NUL-terminated copy of `data`.
pub(super) fn malloc_copy(data: &[u8]) -> Result<*mut u8> {
    let p = alloc(data.len() + 1)?;
    // SAFETY: `p` has room for data.len() + 1 bytes.
    unsafe {
        ptr::copy_nonoverlapping(data.as_ptr(), p, data.len());
        *p.add(data.len()) = 0;
    }
    Ok(p)
}

pub(super) fn status(s: Status) -> mc_result {
    match s {
        Status::Stored => mc_result::MC_OK,
        Status::NotStored => mc_result::MC_NOTSTORED,
        Status::Exists => mc_result::MC_EXISTS,
        Status::NotFound => mc_result::MC_NOTFOUND,
    }
}

pub(super) fn found(yes: bool) -> mc_result {
    if yes {
        mc_result::MC_OK
    } else {
        mc_result::MC_NOTFOUND
    }
}

/// The message of the last call on this thread that did not return
/// `MC_OK`, with the server's name and its own words where there were any.
/// Valid until the next `mc_` call on this thread; never null.
#[no_mangle]
pub extern "C" fn mc_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|last| last.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// Releases memory returned by this library (values, arrays, strings).
/// A null pointer is ignored.
///
/// # Safety
/// `p` is null or a pointer this library returned and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mc_free(p: *mut c_void) {
    // SAFETY: `p` is null (free ignores it) or a block this library got
    // from malloc and has not been freed (this function's contract).
    unsafe { libc::free(p) };
}
