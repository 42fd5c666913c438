//! The Tcl stubs table, found at run time: no C shim, no link to libtcl.
//!
//! A stubs-enabled extension never calls Tcl's functions by symbol. The
//! interpreter passed to `Memcache_Init` carries a pointer to a table of
//! function pointers (`struct TclStubs` in `tclDecls.h`); every call goes
//! through that table. [`init`] does what `Tcl_InitStubs` (`tclStubLib.c`)
//! does:
//!
//! 1. read `stubTable`, the fourth field of the private `Interp` struct
//!    (byte offset 24 on 64-bit targets, after `result`, `freeProc` and
//!    `errorLine` plus padding; the same in Tcl 8.6 and 9.0);
//! 2. tell the Tcl by the table's `magic`: `0xFCA3BACF` is Tcl 8.x,
//!    `0xFCA3BACB + sizeof(void *)` (`0xFCA3BAD3` here) is Tcl 9.x; anything
//!    else is refused with Tcl's own message;
//! 3. call slot 1, `Tcl_PkgRequireEx(interp, "Tcl", "8.6", ...)` (Tcl 9:
//!    `"tcl", "9.0"`); the `clientData` it hands back is the table to use
//!    from then on.
//!
//! # One binary for Tcl 8.6 and 9.0
//!
//! The magic number decides the [`Abi`], kept process-wide beside the
//! table (one process has one libtcl). Most slots are the same in both;
//! the differences are handled here, so the rest of the binding never
//! knows which Tcl it runs in:
//!
//! - lengths and counts are `Tcl_Size` in 9 (`ptrdiff_t`, 64-bit) where 8.6
//!   has `int`. The functions that take or return one are declared twice
//!   (modules `v8` and `v9`) and called through one wrapper that takes a
//!   [`Size`] (`isize`), e.g. [`Tcl_NewStringObj`];
//! - where 9 moved the `Tcl_Size` version to a new slot (`Tcl_GetStringFromObj`
//!   651, `Tcl_ListObjGetElements` 661) or replaced a call
//!   (`Tcl_GetByteArrayFromObj` becomes `Tcl_GetBytesFromObj`, 650, which
//!   refuses a value that is not a byte sequence, TIP 568), the wrapper
//!   calls the right slot;
//! - `Tcl_Obj.refCount` is `Tcl_Size` in 9: the inline reference counting
//!   below uses the width of the running Tcl (the fields this binding reads,
//!   `bytes` and `typePtr`, are at the same offsets in both on LP64);
//! - `Tcl_GetIndexFromObjStruct` in 9 wants the index variable's size in
//!   its flags, as its C macro adds them.
//!
//! Slot `N` of `struct TclStubs` is at byte offset `16 + 8 * N` (after
//! `magic` and `hooks`). Each declaration names its slot; every slot number
//! and parameter count is checked against the `/* N */` comments of the
//! installed `tclDecls.h` of 8.6 and of 9.0 by the unit test at the end of
//! this file.

#![allow(non_snake_case, non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

/// `TCL_STUB_MAGIC` of Tcl 8.x.
const TCL8_STUB_MAGIC: u32 = 0xFCA3_BACF;
/// `TCL_STUB_MAGIC` of Tcl 9.x: `0xFCA3BACB + sizeof(void *)`.
const TCL9_STUB_MAGIC: u32 = 0xFCA3_BACB + std::mem::size_of::<*const c_void>() as u32;
pub const TCL_OK: c_int = 0;
pub const TCL_ERROR: c_int = 1;
pub const TCL_BREAK: c_int = 3;
/// `Tcl_GetIndexFromObjStruct` flag: no unique abbreviations.
pub const TCL_EXACT: c_int = 1;
/// `Tcl_ObjSetVar2` flag: leave an error message in the interpreter.
pub const TCL_LEAVE_ERR_MSG: c_int = 0x200;
/// `Tcl_EvalEx` flag: evaluate at global level.
pub const TCL_EVAL_GLOBAL: c_int = 0x20000;
/// `Tcl_CreateEnsemble` flag: accept unique prefixes of subcommand names,
/// as `namespace ensemble create` does by default.
pub const TCL_ENSEMBLE_PREFIX: c_int = 0x02;
/// `Tcl_SetEnsembleFlags` flag: compile calls of the ensemble into calls
/// of its subcommands' commands (tclInt.h's `ENSEMBLE_COMPILE`; not in
/// tcl.h, but the public call honours it in every 8.6 release).
pub const ENSEMBLE_COMPILE: c_int = 0x04;
/// `<Prefix>_Unload` flag: the last interpreter unloads the library (else
/// `TCL_UNLOAD_DETACH_FROM_INTERPRETER`, 1).
pub const TCL_UNLOAD_DETACH_FROM_PROCESS: c_int = 2;

/// An interpreter (opaque; only its public head is ever read, see [`init`]).
#[repr(C)]
pub struct Tcl_Interp {
    _opaque: [u8; 0],
}

/// A Tcl value, Tcl 8.6 layout (48 bytes on x86_64). Tcl 9's is the same
/// size with the same offsets, but `refCount` and `length` are 64-bit: only
/// [`Tcl_IncrRefCount`] and its siblings touch `refCount`, and only
/// [`sized`]'s string functions `length`; they know which Tcl runs.
#[repr(C)]
pub struct Tcl_Obj {
    refCount: c_int,
    /// String representation in Tcl's internal UTF-8, NUL-terminated, or
    /// NULL when only the internal representation is valid.
    pub bytes: *mut c_char,
    pub length: c_int,
    pub typePtr: *const Tcl_ObjType,
    pub internalRep: [*mut c_void; 2],
}

/// An object type; compared by address only.
#[repr(C)]
pub struct Tcl_ObjType {
    _opaque: [u8; 0],
}

#[repr(C)]
pub struct Tcl_Namespace {
    _opaque: [u8; 0],
}

#[repr(C)]
pub struct Tcl_CommandToken {
    _opaque: [u8; 0],
}

pub type Tcl_Command = *mut Tcl_CommandToken;
pub type ClientData = *mut c_void;
/// A command procedure: `objc` is an `int` in Tcl 9 too (`Tcl_ObjCmdProc`;
/// 9's `Tcl_ObjCmdProc2` would take a `Tcl_Size`).
pub type Tcl_ObjCmdProc = unsafe extern "C" fn(
    clientData: ClientData,
    interp: *mut Tcl_Interp,
    objc: c_int,
    objv: *const *mut Tcl_Obj,
) -> c_int;
pub type Tcl_CmdDeleteProc = unsafe extern "C" fn(clientData: ClientData);
pub type Tcl_ExitProc = unsafe extern "C" fn(clientData: ClientData);
pub type Tcl_NamespaceDeleteProc = unsafe extern "C" fn(clientData: ClientData);

const _: () = assert!(std::mem::size_of::<Tcl_Obj>() == 48);
const _: () = assert!(std::mem::offset_of!(Tcl_Obj, typePtr) == 24);

/// The public head of the private `struct Interp` (`tclInt.h`): the
/// deprecated `Tcl_Interp` fields, then `stubTable`.
#[repr(C)]
struct InterpHead {
    result: *const c_char,
    free_proc: *const c_void,
    error_line: c_int,
    stub_table: *const StubsHead,
}

const _: () = assert!(std::mem::offset_of!(InterpHead, stub_table) == 24);

/// The fixed head of `struct TclStubs`; slot 0 follows at offset 16.
#[repr(C)]
struct StubsHead {
    magic: c_int,
    hooks: *const c_void,
}

/// The process-wide stubs table, NULL until the first successful [`init`].
static STUBS: AtomicPtr<StubsHead> = AtomicPtr::new(ptr::null_mut());

/// Which Tcl the process's stubs table belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// Tcl 8.6: `int` lengths, surrogate pairs in strings.
    Tcl8,
    /// Tcl 9.x: `Tcl_Size` lengths, 4-byte UTF-8 in strings.
    Tcl9,
}

impl Abi {
    fn of_magic(magic: c_int) -> Option<Abi> {
        match magic as u32 {
            TCL8_STUB_MAGIC => Some(Abi::Tcl8),
            TCL9_STUB_MAGIC => Some(Abi::Tcl9),
            _ => None,
        }
    }

    /// The largest length a value can have in this Tcl.
    pub fn max_size(self) -> usize {
        match self {
            Abi::Tcl8 => c_int::MAX as usize,
            Abi::Tcl9 => Size::MAX as usize,
        }
    }
}

/// The [`Abi`] of [`STUBS`]: 0 until [`init`], else 8 or 9.
static ABI: AtomicU8 = AtomicU8::new(0);

/// The Tcl this process runs in (Tcl 8 before [`init`], which only unit
/// tests see).
#[inline]
pub fn abi() -> Abi {
    if ABI.load(Ordering::Relaxed) == 9 {
        Abi::Tcl9
    } else {
        Abi::Tcl8
    }
}

/// A length or count as the binding passes it: `Tcl_Size` of Tcl 9, and
/// converted to 8.6's `int` by the wrappers (lengths are checked against
/// [`Abi::max_size`] before they get there).
pub type Size = isize;

const INCOMPATIBLE: &std::ffi::CStr = c"interpreter uses an incompatible stubs mechanism";

/// Finds the stubs table of `interp` and makes it the process's table.
///
/// On failure the interpreter's result holds the reason (Tcl's own message
/// for a foreign magic number, `Tcl_PkgRequireEx`'s message for a version
/// conflict) and `Err(())` is returned.
///
/// # Safety
/// `interp` must be a live Tcl interpreter passed in by Tcl.
pub unsafe fn init(interp: *mut Tcl_Interp) -> Result<(), ()> {
    let head = interp.cast::<InterpHead>();
    // SAFETY: a live interpreter starts with Tcl's public `Tcl_Interp`
    // fields, which `InterpHead` mirrors (this function's contract).
    let table = unsafe { (*head).stub_table };
    // SAFETY: `table` is null or the interpreter's stubs table.
    let Some(abi) = (unsafe { abi_of(table) }) else {
        // SAFETY: as above, `head` is the live interpreter's head.
        unsafe { refuse(head) };
        return Err(());
    };
    type PkgRequireEx = unsafe extern "C" fn(
        *mut Tcl_Interp,
        *const c_char,
        *const c_char,
        c_int,
        *mut c_void,
    ) -> *const c_char;
    // SAFETY: the table's magic matched, so slot 1 is Tcl_PkgRequireEx
    // with this C signature in both Tcls (checked against both tclDecls.h
    // by a unit test).
    let require: PkgRequireEx = unsafe { std::mem::transmute(slot_in(table, 1)) };
    // Tcl 9's package is "tcl" (its stubs library asks for that name).
    let (name, version) = match abi {
        Abi::Tcl8 => (c"Tcl", c"8.6"),
        Abi::Tcl9 => (c"tcl", c"9.0"),
    };
    let mut client_data: *mut c_void = ptr::null_mut();
    // SAFETY: a live interpreter, static NUL-terminated strings, and a
    // pointer to a local that outlives the call.
    let provided = unsafe {
        require(
            interp,
            name.as_ptr(),
            version.as_ptr(),
            0,
            (&mut client_data as *mut *mut c_void).cast(),
        )
    };
    if provided.is_null() {
        return Err(()); // Tcl_PkgRequireEx has set the error message.
    }
    let table = client_data.cast::<StubsHead>();
    let code = match abi {
        Abi::Tcl8 => 8,
        Abi::Tcl9 => 9,
    };
    // A process has one Tcl, so a second init must see the same one.
    let known = ABI.load(Ordering::Acquire);
    // SAFETY: Tcl_PkgRequireEx gave the Tcl package's stubs table (or null).
    let same = unsafe { abi_of(table) } == Some(abi) && (known == 0 || known == code);
    if !same {
        // SAFETY: `head` is the live interpreter's head (see above).
        unsafe { refuse(head) };
        return Err(());
    }
    ABI.store(code, Ordering::Release);
    STUBS.store(table, Ordering::Release);
    Ok(())
}

/// Whether [`init`] has succeeded at least once in this process.
pub fn initialised() -> bool {
    !STUBS.load(Ordering::Acquire).is_null()
}

/// The Tcl a stubs table belongs to, from its magic number; `None` for a
/// null or foreign table.
///
/// # Safety
/// `table` is null or points to a stubs table (at least its head).
unsafe fn abi_of(table: *const StubsHead) -> Option<Abi> {
    if table.is_null() {
        return None;
    }
    // SAFETY: not null, so a readable stubs table head (the contract).
    Abi::of_magic(unsafe { (*table).magic })
}

/// Sets the message the way `Tcl_InitStubs` does: no table to call through,
/// so write the deprecated `result`/`freeProc` fields (`TCL_STATIC` = 0).
///
/// # Safety
/// `head` points to a live interpreter.
unsafe fn refuse(head: *mut InterpHead) {
    // SAFETY: the public head of a live interpreter (the contract); Tcl
    // reads these fields when the init function returns an error.
    unsafe {
        (*head).result = INCOMPATIBLE.as_ptr();
        (*head).free_proc = ptr::null();
    }
}

/// # Safety
/// `table` is a Tcl stubs table with more than `n` slots.
unsafe fn slot_in(table: *const StubsHead, n: usize) -> *const c_void {
    // SAFETY: the slots follow the 16-byte head (magic, hooks) of a stubs
    // table that has more than `n` of them (the contract).
    let f = unsafe { *table.cast::<u8>().add(16).cast::<*const c_void>().add(n) };
    assert!(!f.is_null(), "Tcl stubs table slot {n} is empty");
    f
}

/// The function pointer in slot `n` of the process's stubs table.
///
/// # Safety
/// The caller must transmute the result to the slot's exact C signature.
unsafe fn slot(n: usize) -> *const c_void {
    let table = STUBS.load(Ordering::Acquire);
    assert!(
        !table.is_null(),
        "Tcl stubs table used before Memcache_Init"
    );
    // SAFETY: the table [`init`] checked; its slots include every one this
    // file declares (checked against tclDecls.h by a unit test).
    unsafe { slot_in(table, n) }
}

/// Declares one Rust function per stubs slot, named like the C function, with
/// the C signature: `slot => Name(args) -> ret;`.
macro_rules! tcl_stubs {
    ($( $slot:literal => $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? ; )*) => {
        $(
            #[doc = concat!("`", stringify!($name), "`, stubs slot ", stringify!($slot), ".")]
            ///
            /// # Safety
            /// [`init`] must have succeeded, the call must come from a thread
            /// where Tcl is running, and the arguments must be valid as for
            /// the C function.
            #[inline]
            pub unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
                type Fn = unsafe extern "C" fn($($ty),*) $(-> $ret)?;
                // SAFETY: the slot holds this function, whose C signature
                // this declaration copies (checked against tclDecls.h by a
                // unit test).
                let f = unsafe { std::mem::transmute::<*const c_void, Fn>(slot($slot)) };
                // SAFETY: the arguments are valid as for the C function
                // (this function's contract).
                unsafe { f($($arg),*) }
            }
        )*

        /// (name, slot, parameter types) of every declared function, for
        /// the header check.
        #[cfg(test)]
        pub(crate) const SLOTS: &[(&str, usize, &[&str])] =
            &[$((stringify!($name), $slot, &[$(stringify!($ty)),*])),*];
    };
}

// The slots that are the same in Tcl 8.6 and 9.0.
tcl_stubs! {
    0 => Tcl_PkgProvideEx(interp: *mut Tcl_Interp, name: *const c_char, version: *const c_char, clientData: *const c_void) -> c_int;
    29 => Tcl_DuplicateObj(objPtr: *mut Tcl_Obj) -> *mut Tcl_Obj;
    30 => TclFreeObj(objPtr: *mut Tcl_Obj);
    32 => Tcl_GetBooleanFromObj(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, intPtr: *mut c_int) -> c_int;
    35 => Tcl_GetDoubleFromObj(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, doublePtr: *mut f64) -> c_int;
    93 => Tcl_CreateExitHandler(proc_: Tcl_ExitProc, clientData: ClientData);
    96 => Tcl_CreateObjCommand(interp: *mut Tcl_Interp, cmdName: *const c_char, proc_: Tcl_ObjCmdProc, clientData: ClientData, deleteProc: Option<Tcl_CmdDeleteProc>) -> Tcl_Command;
    107 => Tcl_DeleteExitHandler(proc_: Tcl_ExitProc, clientData: ClientData);
    166 => Tcl_GetObjResult(interp: *mut Tcl_Interp) -> *mut Tcl_Obj;
    195 => Tcl_ObjGetVar2(interp: *mut Tcl_Interp, part1Ptr: *mut Tcl_Obj, part2Ptr: *mut Tcl_Obj, flags: c_int) -> *mut Tcl_Obj;
    196 => Tcl_ObjSetVar2(interp: *mut Tcl_Interp, part1Ptr: *mut Tcl_Obj, part2Ptr: *mut Tcl_Obj, newValuePtr: *mut Tcl_Obj, flags: c_int) -> *mut Tcl_Obj;
    217 => Tcl_ResetResult(interp: *mut Tcl_Interp);
    234 => Tcl_SetObjErrorCode(interp: *mut Tcl_Interp, errorObjPtr: *mut Tcl_Obj);
    235 => Tcl_SetObjResult(interp: *mut Tcl_Interp, resultObjPtr: *mut Tcl_Obj);
    254 => Tcl_UnsetVar2(interp: *mut Tcl_Interp, part1: *const c_char, part2: *const c_char, flags: c_int) -> c_int;
    293 => Tcl_EvalObjEx(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, flags: c_int) -> c_int;
    371 => Tcl_StringCaseMatch(str_: *const c_char, pattern: *const c_char, nocase: c_int) -> c_int;
    487 => Tcl_GetWideIntFromObj(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, widePtr: *mut i64) -> c_int;
    488 => Tcl_NewWideIntObj(wideValue: i64) -> *mut Tcl_Obj;
    494 => Tcl_DictObjPut(interp: *mut Tcl_Interp, dictPtr: *mut Tcl_Obj, keyPtr: *mut Tcl_Obj, valuePtr: *mut Tcl_Obj) -> c_int;
    503 => Tcl_NewDictObj() -> *mut Tcl_Obj;
    506 => Tcl_CreateNamespace(interp: *mut Tcl_Interp, name: *const c_char, clientData: ClientData, deleteProc: Option<Tcl_NamespaceDeleteProc>) -> *mut Tcl_Namespace;
    507 => Tcl_DeleteNamespace(nsPtr: *mut Tcl_Namespace);
    509 => Tcl_Export(interp: *mut Tcl_Interp, nsPtr: *mut Tcl_Namespace, pattern: *const c_char, resetListFirst: c_int) -> c_int;
    514 => Tcl_FindNamespace(interp: *mut Tcl_Interp, name: *const c_char, contextNsPtr: *mut Tcl_Namespace, flags: c_int) -> *mut Tcl_Namespace;
    541 => Tcl_CreateEnsemble(interp: *mut Tcl_Interp, name: *const c_char, namespacePtr: *mut Tcl_Namespace, flags: c_int) -> Tcl_Command;
    544 => Tcl_SetEnsembleMappingDict(interp: *mut Tcl_Interp, token: Tcl_Command, mapDict: *mut Tcl_Obj) -> c_int;
    546 => Tcl_SetEnsembleFlags(interp: *mut Tcl_Interp, token: Tcl_Command, flags: c_int) -> c_int;
}

mod sized;
pub use sized::*;

/// The reference count of `obj`, as the running Tcl lays it out: a 64-bit
/// `Tcl_Size` in 9, an `int` in 8.6 (both at offset 0).
///
/// # Safety
/// `obj` must be a live object of the calling thread.
#[inline]
unsafe fn ref_count(obj: *mut Tcl_Obj) -> Size {
    // SAFETY: a live object (the contract), whose first field is the count.
    unsafe {
        match abi() {
            Abi::Tcl8 => (*obj).refCount as Size,
            Abi::Tcl9 => *obj.cast::<Size>(),
        }
    }
}

/// Sets the reference count of `obj` (see [`ref_count`]).
///
/// # Safety
/// `obj` must be a live object of the calling thread; no other thread
/// touches its count.
#[inline]
unsafe fn set_ref_count(obj: *mut Tcl_Obj, count: Size) {
    // SAFETY: a live object of this thread (the contract).
    unsafe {
        match abi() {
            Abi::Tcl8 => (*obj).refCount = count as c_int,
            Abi::Tcl9 => *obj.cast::<Size>() = count,
        }
    }
}

/// `Tcl_IncrRefCount` (a macro in 8.6; in 9 also a function, slot 641, but
/// the macro is what C extensions compile to).
///
/// # Safety
/// `obj` must be a live object of the calling thread.
#[inline]
pub unsafe fn Tcl_IncrRefCount(obj: *mut Tcl_Obj) {
    // SAFETY: a live object of this thread (the contract).
    unsafe { set_ref_count(obj, ref_count(obj) + 1) };
}

/// `Tcl_DecrRefCount` (a macro): frees the object through `TclFreeObj` when
/// the last reference goes.
///
/// # Safety
/// `obj` must be a live object of the calling thread on which the caller
/// holds a reference.
#[inline]
pub unsafe fn Tcl_DecrRefCount(obj: *mut Tcl_Obj) {
    // SAFETY: a live object of this thread (the contract).
    let count = unsafe { ref_count(obj) };
    // SAFETY: as above.
    unsafe { set_ref_count(obj, count - 1) };
    if count <= 1 {
        // SAFETY: the last reference is gone: the object is Tcl's to free.
        unsafe { TclFreeObj(obj) };
    }
}

#[cfg(test)]
mod tests;
