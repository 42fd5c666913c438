//! A small, as-safe-as-possible API over `Tcl_Obj`.
//!
//! - [`Obj`] owns one reference: it increments the reference count when made
//!   and decrements it (freeing through `TclFreeObj` at zero, as the C macro
//!   does) when dropped. It is neither `Send` nor `Sync`: a Tcl value belongs
//!   to the thread that made it.
//! - [`ObjRef`] borrows a value for the length of a command call (the
//!   `objv` words); the borrowed data it returns lives as long as the call.
//!
//! Values cross the boundary by the rule of the design ("Values, keys,
//! time"): a *pure* bytearray (bytearray type, no string representation) is
//! binary data and is used as its bytes; any other value is text and is used
//! as the real UTF-8 of its string ([`super::utf`]).
//!
//! Soundness note: the bytes of a pure bytearray live in its internal
//! representation, which Tcl frees when the value is converted to another
//! type ("shimmering", e.g. by `Tcl_GetWideIntFromObj` when the same value is
//! also passed as a number). So every parser here works on a duplicate when
//! given a bytearray, and this module offers no way to run Tcl code: a
//! borrowed `&[u8]` stays valid for the whole command.

use std::borrow::Cow;
use std::ffi::{c_char, c_int, CStr};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, Ordering};

use super::interp::{CmdError, Interp};
use super::stubs::{self as s, Tcl_Obj, Tcl_ObjType};
use super::utf;
use crate::client::ValueBuf;

/// The type of the values `Tcl_NewByteArrayObj` makes, found once per
/// process by [`init_types`] (object types are process-wide statics of
/// libtcl). It is read off a new value, not looked up by name: Tcl 9's
/// `Tcl_GetObjType("bytearray")` gives a type its byte arrays do not use.
static BYTEARRAY_TYPE: AtomicPtr<Tcl_ObjType> = AtomicPtr::new(ptr::null_mut());

/// Finds the object types this module compares against.
///
/// # Safety
/// The stubs table must be initialised.
pub(crate) unsafe fn init_types() {
    // SAFETY: stubs initialised (the contract); an empty byte array, read
    // and freed at once.
    let t = unsafe {
        let probe = Obj::from_raw(s::Tcl_NewByteArrayObj(ptr::null(), 0));
        (*probe.as_ptr()).typePtr
    };
    BYTEARRAY_TYPE.store(t.cast_mut(), Ordering::Release);
}

fn bytearray_type() -> *const Tcl_ObjType {
    BYTEARRAY_TYPE.load(Ordering::Acquire)
}

/// A length for Tcl. Tcl 8.6 values are limited to 2 GiB; a longer one is a
/// bug of the caller (memcached items are at most 1 GiB, and a value read
/// from a server is checked by [`ObjBuf::new`]).
fn c_len(n: usize) -> s::Size {
    assert!(
        n <= s::abi().max_size(),
        "value of {n} bytes: too large for a Tcl value"
    );
    n as s::Size
}

/// A slice from a pointer and a Tcl length; empty when the length is 0.
///
/// # Safety
/// When `len > 0`, `p` must point to `len` readable bytes that live for `'a`.
unsafe fn bytes_of<'a>(p: *const u8, len: s::Size) -> &'a [u8] {
    match usize::try_from(len) {
        // SAFETY: `len` readable bytes living for 'a (the contract).
        Ok(n) if n > 0 && !p.is_null() => unsafe { std::slice::from_raw_parts(p, n) },
        _ => &[],
    }
}

/// One reference to a Tcl value. Transparent: a slice of them is a C array
/// of `Tcl_Obj *` (for `Tcl_NewListObj`).
#[repr(transparent)]
pub struct Obj {
    ptr: NonNull<Tcl_Obj>,
}

impl Obj {
    /// Takes a new reference to `ptr` (a fresh object, refCount 0, or any
    /// live one).
    ///
    /// # Safety
    /// `ptr` must be a live object of the calling thread.
    pub unsafe fn from_raw(ptr: *mut Tcl_Obj) -> Obj {
        let ptr = NonNull::new(ptr).expect("Tcl returned a NULL Tcl_Obj");
        // SAFETY: a live object of this thread (the contract).
        unsafe { s::Tcl_IncrRefCount(ptr.as_ptr()) };
        Obj { ptr }
    }

    /// A string value from a Rust string.
    pub fn new_text(text: &str) -> Obj {
        Obj::new_tcl_string(&utf::str_to_tcl(text, s::abi()))
    }

    /// A string value from UTF-8 bytes (as read from the wire); malformed
    /// input is read as Tcl's `encoding convertfrom utf-8` reads it.
    pub fn new_text_utf8(bytes: &[u8]) -> Obj {
        Obj::new_tcl_string(&utf::utf8_to_tcl(bytes, s::abi()))
    }

    /// A string value from bytes already in Tcl's internal form.
    fn new_tcl_string(tcl: &[u8]) -> Obj {
        // SAFETY: Tcl copies `tcl` (exact length given, no NUL needed).
        unsafe { Obj::from_raw(s::Tcl_NewStringObj(tcl.as_ptr().cast(), c_len(tcl.len()))) }
    }

    /// A (pure) bytearray value.
    pub fn new_bytes(bytes: &[u8]) -> Obj {
        // SAFETY: Tcl copies the bytes.
        unsafe { Obj::from_raw(s::Tcl_NewByteArrayObj(bytes.as_ptr(), c_len(bytes.len()))) }
    }

    /// A value read back from storage: a string when it was stored as
    /// text (`text`) and is text ([`utf::is_text`]), else a bytearray. The
    /// inverse of [`ObjRef::value`].
    pub fn new_value(bytes: &[u8], text: bool) -> Obj {
        match text.then(|| utf::text_to_tcl(bytes, s::abi())).flatten() {
            Some(tcl) => Obj::new_tcl_string(&tcl),
            None => Obj::new_bytes(bytes),
        }
    }

    /// An integer value (a Tcl wide int).
    pub fn new_int(value: i64) -> Obj {
        // SAFETY: plain constructor.
        unsafe { Obj::from_raw(s::Tcl_NewWideIntObj(value)) }
    }

    /// A boolean value, 0 or 1 (what `Tcl_NewBooleanObj` makes; Tcl 9 has
    /// no `Tcl_NewIntObj`).
    pub fn new_bool(value: bool) -> Obj {
        Obj::new_int(i64::from(value))
    }

    /// A list of `items`.
    pub fn new_list<I: IntoIterator<Item = Obj>>(items: I) -> Obj {
        let items: Vec<Obj> = items.into_iter().collect();
        // SAFETY: `Obj` is a transparent `Tcl_Obj *`, so `items` is the C
        // array of element pointers; the list takes its own reference to
        // each, ours are dropped afterwards.
        unsafe { Obj::from_raw(s::Tcl_NewListObj(c_len(items.len()), items.as_ptr().cast())) }
    }

    /// A dict of `pairs`, in order (a later duplicate key replaces the value).
    pub fn new_dict<I: IntoIterator<Item = (Obj, Obj)>>(pairs: I) -> Obj {
        // SAFETY: plain constructor.
        let dict = unsafe { Obj::from_raw(s::Tcl_NewDictObj()) };
        for (key, value) in pairs {
            // SAFETY: a new dict of this thread that no one else holds yet
            // (so no copy-if-shared check: -30 instructions a pair, Tcl
            // `mget`); Tcl takes its own references.
            unsafe {
                s::Tcl_DictObjPut(ptr::null_mut(), dict.as_ptr(), key.as_ptr(), value.as_ptr())
            };
        }
        dict
    }

    /// Borrows this value, for the readers of [`ObjRef`].
    pub fn as_obj(&self) -> ObjRef<'_> {
        ObjRef {
            ptr: self.ptr,
            _life: PhantomData,
        }
    }

    /// The raw pointer; the reference stays owned by `self`.
    pub fn as_ptr(&self) -> *mut Tcl_Obj {
        self.ptr.as_ptr()
    }
}

/// A new Tcl value's memory, which the client fills straight from the
/// socket ([`ValueBuf`]): copied into once, by the kernel, never through a
/// Rust buffer. Binary data goes into a new bytearray. Text goes into a new
/// string's own bytes (`Tcl_SetObjLength`) and is checked there; text that
/// Tcl keeps as it is (no NUL, and in Tcl 8.6 nothing above U+FFFF) is then
/// the value, with no copy at all. Only text that must be converted, or
/// that is not text after all, is copied once more, into a new value.
/// (Reading text through a Rust buffer and then copying it into a string
/// cost 240 page faults per get of 512 KiB: two such blocks freed at once
/// made glibc hand the memory back to the kernel every time.)
pub struct ObjBuf {
    obj: Obj,
    ptr: *mut u8,
    len: usize,
    text: bool,
}

impl ObjBuf {
    /// Memory for `len` bytes of data stored as text (`text`) or binary.
    pub fn new(len: usize, text: bool) -> crate::Result<ObjBuf> {
        if len > s::abi().max_size() {
            return Err(crate::Error::new(
                crate::Kind::TooLarge,
                format!("a value of {len} bytes is too large for a Tcl value"),
            ));
        }
        let n = len as s::Size;
        // SAFETY: a fresh, unshared object of this thread. For text,
        // init_string_rep gives the empty string `len` bytes (plus its NUL)
        // of its own in `bytes` (`len` checked just above); for binary
        // data, Tcl_SetByteArrayLength makes room for `n` bytes and returns
        // them. Nothing else uses them until `into_obj`.
        unsafe {
            let (obj, ptr) = if text {
                let obj = Obj::from_raw(s::Tcl_NewStringObj(ptr::null(), 0));
                let ptr = s::init_string_rep(obj.as_ptr(), len);
                (obj, ptr)
            } else {
                let obj = Obj::from_raw(s::Tcl_NewByteArrayObj(ptr::null(), 0));
                let ptr = s::Tcl_SetByteArrayLength(obj.as_ptr(), n);
                (obj, ptr)
            };
            Ok(ObjBuf {
                obj,
                ptr,
                len,
                text,
            })
        }
    }

    /// The value, once filled: as [`Obj::new_value`] makes it.
    pub fn into_obj(self) -> Obj {
        if !self.text {
            return self.obj;
        }
        // SAFETY: the `len` bytes the client filled (it calls `into_obj`
        // only once every byte is written), owned by `self.obj`, which
        // lives until the end of this function.
        let bytes = unsafe { bytes_of(self.ptr, self.len as s::Size) };
        match utf::text_to_tcl(bytes, s::abi()) {
            Some(Cow::Borrowed(_)) => self.obj,
            Some(Cow::Owned(tcl)) => Obj::new_tcl_string(&tcl),
            None => Obj::new_bytes(bytes),
        }
    }
}

impl ValueBuf for ObjBuf {
    fn slots(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: `ptr` points to `len` writable bytes owned by the value,
        // which `self` owns; MaybeUninit needs no initialisation.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.cast(), self.len) }
    }

    /// Nothing to record: the value already has its length.
    unsafe fn set_filled(&mut self) {}
}

impl Clone for Obj {
    fn clone(&self) -> Obj {
        // SAFETY: live object; takes one more reference.
        unsafe { Obj::from_raw(self.as_ptr()) }
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        // SAFETY: we hold one reference.
        unsafe { s::Tcl_DecrRefCount(self.as_ptr()) }
    }
}

impl std::fmt::Debug for Obj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_obj().fmt(f)
    }
}

/// A Tcl value borrowed for `'a` (typically one command call).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct ObjRef<'a> {
    ptr: NonNull<Tcl_Obj>,
    _life: PhantomData<&'a Tcl_Obj>,
}

/// A value as bytes, by the design's rule (see [`ObjRef::value`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// A pure bytearray: stored as is, without the text flag.
    Binary(&'a [u8]),
    /// Anything else: the real UTF-8 of its string, stored with the text flag.
    Text(Cow<'a, [u8]>),
}

impl Value<'_> {
    /// The bytes to store.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Value::Binary(b) => b,
            Value::Text(t) => t,
        }
    }

    /// Whether the value is text (to be stored with the text flag).
    pub fn is_text(&self) -> bool {
        matches!(self, Value::Text(_))
    }
}

impl<'a> ObjRef<'a> {
    /// The words of a command call as a slice.
    ///
    /// # Safety
    /// `objv` must hold `objc` non-NULL objects that live for `'a` (Tcl
    /// guarantees this for a command's arguments during the call).
    pub(crate) unsafe fn slice_from_raw(
        objc: c_int,
        objv: *const *mut Tcl_Obj,
    ) -> &'a [ObjRef<'a>] {
        match usize::try_from(objc) {
            // ObjRef is a transparent NonNull<Tcl_Obj>, same layout as the
            // (non-NULL) `Tcl_Obj *` entries of objv.
            // SAFETY: `objc` non-NULL objects living for 'a (the contract).
            Ok(n) if n > 0 && !objv.is_null() => unsafe {
                std::slice::from_raw_parts(objv.cast(), n)
            },
            _ => &[],
        }
    }

    /// The raw pointer (borrowed).
    pub fn as_ptr(self) -> *mut Tcl_Obj {
        self.ptr.as_ptr()
    }

    /// Takes an owned reference to the same value.
    pub fn to_obj(self) -> Obj {
        // SAFETY: live object of this thread.
        unsafe { Obj::from_raw(self.as_ptr()) }
    }

    fn raw(&self) -> &Tcl_Obj {
        // SAFETY: live for 'a; only plain fields are read.
        unsafe { self.ptr.as_ref() }
    }

    /// Whether this is a pure bytearray: bytearray type and no string
    /// representation, i.e. binary data that was never used as a string.
    pub fn is_pure_bytearray(self) -> bool {
        let o = self.raw();
        !o.typePtr.is_null() && o.typePtr == bytearray_type() && o.bytes.is_null()
    }

    /// The bytes of a pure bytearray, or `None` for any other value.
    /// (Tcl 8.6's `Tcl_GetByteArrayFromObj` on text would silently keep only
    /// the low byte of each character, so it is never offered for other
    /// values; Tcl 9 refuses those, and a refusal is `None` too.)
    pub fn pure_bytearray(self) -> Option<&'a [u8]> {
        if !self.is_pure_bytearray() {
            return None;
        }
        let mut len: s::Size = 0;
        // SAFETY: already a bytearray, so no conversion happens; the bytes
        // live in the internal representation, which nothing here changes
        // during 'a (see the module's soundness note).
        unsafe {
            let p = s::Tcl_GetBytes(self.as_ptr(), &mut len);
            (!p.is_null()).then(|| bytes_of(p, len))
        }
    }

    /// The string representation in Tcl's internal form (modified UTF-8),
    /// generating it if needed.
    pub fn tcl_string(self) -> &'a [u8] {
        let mut len: s::Size = 0;
        // SAFETY: a string representation, once made, lasts until the value
        // is modified, and borrowed values are not modified.
        unsafe {
            let p = s::Tcl_GetStringFromObj(self.as_ptr(), &mut len);
            bytes_of(p.cast(), len)
        }
    }

    /// The string as real UTF-8 (`encoding convertto utf-8`).
    pub fn to_utf8(self) -> Cow<'a, [u8]> {
        utf::tcl_to_utf8(self.tcl_string(), s::abi())
    }

    /// The string as a Rust string, for names and messages; anything that is
    /// not valid UTF-8 after conversion (an unpaired surrogate) becomes
    /// U+FFFD.
    pub fn to_string_lossy(self) -> Cow<'a, str> {
        match self.to_utf8() {
            Cow::Borrowed(b) => String::from_utf8_lossy(b),
            Cow::Owned(v) => match String::from_utf8(v) {
                Ok(s) => Cow::Owned(s),
                Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            },
        }
    }

    /// The value as bytes to store: a pure bytearray as its bytes, anything
    /// else as the UTF-8 of its string.
    pub fn value(self) -> Value<'a> {
        match self.pure_bytearray() {
            Some(bytes) => Value::Binary(bytes),
            None => Value::Text(self.to_utf8()),
        }
    }

    /// Runs a Tcl parser that may change the internal representation. A
    /// bytearray is parsed through a duplicate, so bytes borrowed from it by
    /// [`pure_bytearray`](Self::pure_bytearray) stay valid.
    fn parse<T>(self, f: impl FnOnce(*mut Tcl_Obj) -> T) -> T {
        if self.raw().typePtr == bytearray_type() {
            // SAFETY: live object; the duplicate is ours until dropped.
            let dup = unsafe { Obj::from_raw(s::Tcl_DuplicateObj(self.as_ptr())) };
            f(dup.as_ptr())
        } else {
            f(self.as_ptr())
        }
    }

    /// A wide integer in Tcl's syntax, or `None` (no error message is made).
    pub fn quiet_wide(self) -> Option<i64> {
        let mut v: i64 = 0;
        // SAFETY: live object; a NULL interp is allowed and gets no message.
        let rc = self.parse(|o| unsafe { s::Tcl_GetWideIntFromObj(ptr::null_mut(), o, &mut v) });
        (rc == s::TCL_OK).then_some(v)
    }

    /// A boolean in Tcl's syntax (`1`, `0`, `true`, `no`, `on`, ...), with
    /// Tcl's error (`expected boolean value but got "x"`) left in `interp`.
    pub fn get_boolean(self, interp: Interp) -> Result<bool, CmdError> {
        let mut v: c_int = 0;
        // SAFETY: live interp and object.
        let rc = self.parse(|o| unsafe { s::Tcl_GetBooleanFromObj(interp.as_ptr(), o, &mut v) });
        if rc == s::TCL_OK {
            Ok(v != 0)
        } else {
            Err(CmdError::Reported)
        }
    }

    /// A floating-point number in Tcl's syntax, or `None` (no message).
    pub fn quiet_double(self) -> Option<f64> {
        let mut v: f64 = 0.0;
        // SAFETY: live object; a NULL interp is allowed and gets no message.
        let rc = self.parse(|o| unsafe { s::Tcl_GetDoubleFromObj(ptr::null_mut(), o, &mut v) });
        (rc == s::TCL_OK).then_some(v)
    }

    /// The position of this word in `table` (`Tcl_GetIndexFromObjStruct`):
    /// unique prefixes are accepted unless `exact`; otherwise Tcl's error
    /// (`bad option "x": must be -a, -b, or -c` for `what` = `"option"`,
    /// errorCode `TCL LOOKUP INDEX option x`) is left in `interp`.
    pub fn get_index(
        self,
        interp: Interp,
        table: &'static IndexTable,
        what: &CStr,
        exact: bool,
    ) -> Result<usize, CmdError> {
        let mut index: c_int = 0;
        let flags = if exact { s::TCL_EXACT } else { 0 };
        // SAFETY: `table` is a static NULL-terminated array of C strings
        // (Tcl caches its address in the object, hence `'static`).
        let rc = self.parse(|o| unsafe {
            s::Tcl_GetIndexFromObjStruct(
                interp.as_ptr(),
                o,
                table.entries.as_ptr().cast(),
                std::mem::size_of::<*const c_char>() as s::Size,
                what.as_ptr(),
                flags,
                &mut index,
            )
        });
        if rc == s::TCL_OK {
            Ok(usize::try_from(index).expect("Tcl index is non-negative"))
        } else {
            Err(CmdError::Reported)
        }
    }

    /// The elements of a list, each as an owned reference, with Tcl's error
    /// (`unmatched open brace in list`) left in `interp`.
    pub fn list_elements(self, interp: Interp) -> Result<Vec<Obj>, CmdError> {
        self.parse(|o| {
            let mut n: s::Size = 0;
            let mut elems: *mut *mut Tcl_Obj = ptr::null_mut();
            // SAFETY: live interp and object; the element array is read at
            // once, before anything can change the list.
            unsafe {
                if s::Tcl_ListObjGetElements(interp.as_ptr(), o, &mut n, &mut elems) != s::TCL_OK {
                    return Err(CmdError::Reported);
                }
                let n = usize::try_from(n).unwrap_or(0);
                if n == 0 || elems.is_null() {
                    return Ok(Vec::new());
                }
                Ok(std::slice::from_raw_parts(elems, n)
                    .iter()
                    .map(|&e| Obj::from_raw(e))
                    .collect())
            }
        })
    }
}

impl std::fmt::Debug for ObjRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pure_bytearray() {
            Some(b) => write!(f, "Obj(bytearray, {} bytes)", b.len()),
            None => write!(f, "Obj({:?})", self.to_string_lossy()),
        }
    }
}

/// A static, NULL-terminated table of names for [`ObjRef::get_index`]:
///
/// ```text
/// static OPTIONS: IndexTable =
///     IndexTable::new(&[c"-ttl".as_ptr(), c"-flags".as_ptr(), std::ptr::null()]);
/// let i = word.get_index(interp, &OPTIONS, c"option", false)?; // 0 or 1
/// ```
///
/// It must be a `static`: Tcl caches the table's address in the word.
pub struct IndexTable {
    entries: &'static [*const c_char],
}

// SAFETY: the entries point to immutable static C strings.
unsafe impl Sync for IndexTable {}

impl IndexTable {
    /// `entries`: pointers to static C strings (`c"..."` literals), then one
    /// NULL. Checked at compile time when used in a `static`.
    pub const fn new(entries: &'static [*const c_char]) -> IndexTable {
        assert!(
            !entries.is_empty() && entries[entries.len() - 1].is_null(),
            "IndexTable must end with NULL"
        );
        let mut i = 0;
        while i + 1 < entries.len() {
            assert!(!entries[i].is_null(), "IndexTable has NULL before its end");
            i += 1;
        }
        IndexTable { entries }
    }

    /// The number of names.
    const fn len(&self) -> usize {
        self.entries.len() - 1
    }

    /// The name at `index`, lossily as a Rust string.
    pub fn name(&self, index: usize) -> Cow<'static, str> {
        assert!(index < self.len(), "index {index} out of range");
        // SAFETY: entries before the NULL are static C strings.
        unsafe { CStr::from_ptr(self.entries[index]) }.to_string_lossy()
    }
}
