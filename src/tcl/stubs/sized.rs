//! The calls whose C signature differs between Tcl 8.6 and 9: a length or
//! count that is an `int` in 8.6 and a `Tcl_Size` in 9, or a slot that 9
//! moved. Each is declared once per Tcl (`v8`, `v9`) and called through one
//! wrapper that takes a [`Size`] and picks by [`abi`].

use std::ffi::{c_char, c_int, c_void};
use std::ptr;

use super::{abi, slot, Abi, Size, Tcl_Interp, Tcl_Obj};

/// The slots whose C signature has an `int` length in Tcl 8.6.
pub(super) mod v8 {
    use super::*;

    tcl_stubs! {
        3 => Tcl_Alloc(size: std::ffi::c_uint) -> *mut c_char;
        33 => Tcl_GetByteArrayFromObj(objPtr: *mut Tcl_Obj, lengthPtr: *mut c_int) -> *mut u8;
        41 => Tcl_GetStringFromObj(objPtr: *mut Tcl_Obj, lengthPtr: *mut c_int) -> *mut c_char;
        45 => Tcl_ListObjGetElements(interp: *mut Tcl_Interp, listPtr: *mut Tcl_Obj, objcPtr: *mut c_int, objvPtr: *mut *mut *mut Tcl_Obj) -> c_int;
        50 => Tcl_NewByteArrayObj(bytes: *const u8, length: c_int) -> *mut Tcl_Obj;
        53 => Tcl_NewListObj(objc: c_int, objv: *const *mut Tcl_Obj) -> *mut Tcl_Obj;
        56 => Tcl_NewStringObj(bytes: *const c_char, length: c_int) -> *mut Tcl_Obj;
        58 => Tcl_SetByteArrayLength(objPtr: *mut Tcl_Obj, numBytes: c_int) -> *mut u8;
        264 => Tcl_WrongNumArgs(interp: *mut Tcl_Interp, objc: c_int, objv: *const *mut Tcl_Obj, message: *const c_char);
        291 => Tcl_EvalEx(interp: *mut Tcl_Interp, script: *const c_char, numBytes: c_int, flags: c_int) -> c_int;
        304 => Tcl_GetIndexFromObjStruct(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, tablePtr: *const c_void, offset: c_int, msg: *const c_char, flags: c_int, indexPtr: *mut c_int) -> c_int;
    }
}

/// The same calls in Tcl 9, with `Tcl_Size` lengths (and new slots where 9
/// kept the old number for an `int` variant).
pub(super) mod v9 {
    use super::*;

    tcl_stubs! {
        3 => Tcl_Alloc(size: usize) -> *mut c_void;
        650 => Tcl_GetBytesFromObj(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, numBytesPtr: *mut Size) -> *mut u8;
        651 => Tcl_GetStringFromObj(objPtr: *mut Tcl_Obj, lengthPtr: *mut Size) -> *mut c_char;
        661 => Tcl_ListObjGetElements(interp: *mut Tcl_Interp, listPtr: *mut Tcl_Obj, objcPtr: *mut Size, objvPtr: *mut *mut *mut Tcl_Obj) -> c_int;
        50 => Tcl_NewByteArrayObj(bytes: *const u8, numBytes: Size) -> *mut Tcl_Obj;
        53 => Tcl_NewListObj(objc: Size, objv: *const *mut Tcl_Obj) -> *mut Tcl_Obj;
        56 => Tcl_NewStringObj(bytes: *const c_char, length: Size) -> *mut Tcl_Obj;
        58 => Tcl_SetByteArrayLength(objPtr: *mut Tcl_Obj, numBytes: Size) -> *mut u8;
        264 => Tcl_WrongNumArgs(interp: *mut Tcl_Interp, objc: Size, objv: *const *mut Tcl_Obj, message: *const c_char);
        291 => Tcl_EvalEx(interp: *mut Tcl_Interp, script: *const c_char, numBytes: Size, flags: c_int) -> c_int;
        304 => Tcl_GetIndexFromObjStruct(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, tablePtr: *const c_void, offset: Size, msg: *const c_char, flags: c_int, indexPtr: *mut c_void) -> c_int;
    }
}

/// Calls an 8.6 function that writes a length or count to an `int`, and
/// gives it back as a [`Size`] in `out`.
#[inline]
fn int_out<T>(out: &mut Size, call: impl FnOnce(*mut c_int) -> T) -> T {
    let mut n: c_int = 0;
    let result = call(&mut n);
    *out = n as Size;
    result
}

/// A length for Tcl 8.6, where it is an `int`.
fn int(n: Size) -> c_int {
    c_int::try_from(n).expect("length over Tcl 8.6's limit (callers check Abi::max_size)")
}

/// Declares a function that calls `v8::$name` or `v9::$name` by the running
/// Tcl, converting each `Size` argument to an `int` for 8.6.
macro_rules! by_abi {
    ($( $(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ty $(=> $conv:ident)?),* ) $(-> $ret:ty)? ; )*) => {
        $(
            $(#[$doc])*
            ///
            /// # Safety
            /// As for the C function (see the slot declarations above).
            #[inline]
            pub unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: the same call through the running Tcl's slot,
                // with each length converted to its C type (the contract).
                unsafe {
                    match abi() {
                        Abi::Tcl8 => v8::$name($(by_abi!(@arg $arg $($conv)?)),*),
                        Abi::Tcl9 => v9::$name($($arg),*),
                    }
                }
            }
        )*
    };
    (@arg $arg:ident int) => { int($arg) };
    (@arg $arg:ident) => { $arg };
}

by_abi! {
    /// `Tcl_NewByteArrayObj`.
    Tcl_NewByteArrayObj(bytes: *const u8, length: Size => int) -> *mut Tcl_Obj;
    /// `Tcl_NewListObj`.
    Tcl_NewListObj(objc: Size => int, objv: *const *mut Tcl_Obj) -> *mut Tcl_Obj;
    /// `Tcl_NewStringObj`.
    Tcl_NewStringObj(bytes: *const c_char, length: Size => int) -> *mut Tcl_Obj;
    /// `Tcl_SetByteArrayLength`.
    Tcl_SetByteArrayLength(objPtr: *mut Tcl_Obj, numBytes: Size => int) -> *mut u8;
    /// `Tcl_WrongNumArgs`.
    Tcl_WrongNumArgs(interp: *mut Tcl_Interp, objc: Size => int, objv: *const *mut Tcl_Obj, message: *const c_char);
    /// `Tcl_EvalEx`.
    Tcl_EvalEx(interp: *mut Tcl_Interp, script: *const c_char, numBytes: Size => int, flags: c_int) -> c_int;
}

/// The bytes of a value that is a byte sequence, or NULL: 8.6's
/// `Tcl_GetByteArrayFromObj` (which converts anything, keeping the low byte
/// of each character: callers only pass pure bytearrays) or 9's
/// `Tcl_GetBytesFromObj` (which refuses a value with a character above
/// U+00FF, TIP 568).
///
/// # Safety
/// `obj` is a live object of the calling thread and `len` is writable.
#[inline]
pub unsafe fn Tcl_GetBytes(obj: *mut Tcl_Obj, len: &mut Size) -> *mut u8 {
    // SAFETY: a live object and writable lengths (the contract).
    unsafe {
        match abi() {
            Abi::Tcl8 => int_out(len, |n| v8::Tcl_GetByteArrayFromObj(obj, n)),
            Abi::Tcl9 => v9::Tcl_GetBytesFromObj(ptr::null_mut(), obj, len),
        }
    }
}

/// Gives `obj`, a new unshared value with the empty string of
/// `Tcl_NewStringObj(NULL, 0)` and no internal representation, a string of
/// `len` bytes (and the NUL after them) in memory from `Tcl_Alloc`, and
/// returns those bytes for the caller to write, as Tcl's own
/// `TclInitStringRep` does. `Tcl_SetObjLength` would also attach a string
/// internal representation: a second allocation, freed again with the
/// value (measured: 230 instructions a Tcl `get`).
///
/// # Safety
/// `obj` is as said; `len` is at most the running Tcl's limit
/// ([`Abi::max_size`]). The caller writes all `len` bytes before the value
/// is read.
pub unsafe fn init_string_rep(obj: *mut Tcl_Obj, len: usize) -> *mut u8 {
    // SAFETY: the allocation is Tcl's (freed by Tcl with the value); the
    // object is the caller's alone, `len` within the limit (the contract).
    unsafe {
        let bytes = match abi() {
            Abi::Tcl8 => {
                let size = std::ffi::c_uint::try_from(len + 1).expect("checked by the caller");
                v8::Tcl_Alloc(size)
            }
            Abi::Tcl9 => v9::Tcl_Alloc(len + 1).cast::<c_char>(),
        };
        set_length(obj, len as Size);
        *bytes.add(len) = 0;
        (*obj).bytes = bytes;
        bytes.cast()
    }
}

/// The `length` of `obj`'s string representation: an `int` in 8.6, a
/// `Tcl_Size` at the same offset in 9 (`Tcl_Obj` of tcl.h).
///
/// # Safety
/// `obj` is a live object of the calling thread with a string
/// representation (`bytes` not null).
unsafe fn length(obj: *const Tcl_Obj) -> Size {
    // SAFETY: a live object (the contract); the field as the running Tcl
    // lays it out.
    unsafe {
        match abi() {
            Abi::Tcl8 => (*obj).length as Size,
            Abi::Tcl9 => ptr::addr_of!((*obj).length).cast::<Size>().read(),
        }
    }
}

/// Sets the `length` of `obj`'s string representation, as [`length`]
/// reads it.
///
/// # Safety
/// `obj` is a live object of the calling thread, its own; `len` is at most
/// the running Tcl's limit ([`Abi::max_size`]).
unsafe fn set_length(obj: *mut Tcl_Obj, len: Size) {
    // SAFETY: as for `length`; the object is the caller's alone.
    unsafe {
        match abi() {
            Abi::Tcl8 => (*obj).length = int(len),
            Abi::Tcl9 => ptr::addr_of_mut!((*obj).length).cast::<Size>().write(len),
        }
    }
}

/// `Tcl_GetStringFromObj`.
///
/// # Safety
/// `obj` is a live object of the calling thread.
#[inline]
pub unsafe fn Tcl_GetStringFromObj(obj: *mut Tcl_Obj, len: &mut Size) -> *mut c_char {
    // SAFETY: a live object and a writable length (the contract). A string
    // representation already made is read from the value's public fields
    // (`bytes` and [`length`]), as Tcl's own `TclGetStringFromObj` macro does, without
    // the call through the stubs table (callgrind: Tcl get 4,940 -> 4,874,
    // set 4,636 -> 4,548, mget100 159.4k -> 157.2k).
    unsafe {
        let bytes = (*obj).bytes;
        if !bytes.is_null() {
            *len = length(obj);
            return bytes;
        }
        match abi() {
            Abi::Tcl8 => int_out(len, |n| v8::Tcl_GetStringFromObj(obj, n)),
            Abi::Tcl9 => v9::Tcl_GetStringFromObj(obj, len),
        }
    }
}

/// `Tcl_ListObjGetElements`.
///
/// # Safety
/// Live interpreter (or NULL) and object of the calling thread.
#[inline]
pub unsafe fn Tcl_ListObjGetElements(
    interp: *mut Tcl_Interp,
    list: *mut Tcl_Obj,
    objc: &mut Size,
    objv: *mut *mut *mut Tcl_Obj,
) -> c_int {
    // SAFETY: live interpreter and object, writable outputs (the contract).
    unsafe {
        match abi() {
            Abi::Tcl8 => int_out(objc, |n| v8::Tcl_ListObjGetElements(interp, list, n, objv)),
            Abi::Tcl9 => v9::Tcl_ListObjGetElements(interp, list, objc, objv),
        }
    }
}

/// `Tcl_GetIndexFromObjStruct` into an `int` index. Tcl 9 learns the
/// index variable's size from the flags, `sizeof(*indexPtr) << 1`, as its C
/// macro adds it.
///
/// # Safety
/// As for the C function.
#[inline]
pub unsafe fn Tcl_GetIndexFromObjStruct(
    interp: *mut Tcl_Interp,
    obj: *mut Tcl_Obj,
    table: *const c_void,
    offset: Size,
    msg: *const c_char,
    flags: c_int,
    index: &mut c_int,
) -> c_int {
    // SAFETY: as for the C function (the contract).
    unsafe {
        match abi() {
            Abi::Tcl8 => {
                v8::Tcl_GetIndexFromObjStruct(interp, obj, table, int(offset), msg, flags, index)
            }
            Abi::Tcl9 => {
                let size = (std::mem::size_of::<c_int>() << 1) as c_int;
                let index: *mut c_int = index;
                v9::Tcl_GetIndexFromObjStruct(
                    interp,
                    obj,
                    table,
                    offset,
                    msg,
                    flags | size,
                    index.cast(),
                )
            }
        }
    }
}
