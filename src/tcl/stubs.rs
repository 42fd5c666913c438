//! The Tcl stubs table, found at run time: no C shim, no link to libtcl.
//!
//! A stubs-enabled extension never calls Tcl's functions by symbol. The
//! interpreter passed to `Memcache_Init` carries a pointer to a table of
//! function pointers (`struct TclStubs` in `tclDecls.h`); every call goes
//! through that table. [`init`] does what `Tcl_InitStubs` (Tcl 8.6's
//! `tclStubLib.c`) does:
//!
//! 1. read `stubTable`, the fourth field of the private `Interp` struct
//!    (byte offset 24 on 64-bit targets, after `result`, `freeProc` and
//!    `errorLine` plus padding);
//! 2. check the table's `magic` against `TCL_STUB_MAGIC` (0xFCA3BACF for
//!    Tcl 8.x), refusing anything else with Tcl's own message;
//! 3. call slot 1, `Tcl_PkgRequireEx(interp, "Tcl", "8.6", 0, &clientData)`;
//!    the `clientData` it hands back is the table to use from then on.
//!
//! The table is the same for every interpreter (and thread) of a process, so
//! it is kept in one process-wide atomic pointer. It is stored again on each
//! `Init`, as `Tcl_InitStubs` does, so a process that unloads and reloads Tcl
//! itself picks up the new table.
//!
//! Slot `N` of `struct TclStubs` is at byte offset `16 + 8 * N` (after
//! `magic` and `hooks`). Each function below names its slot; every slot
//! number is checked against the `/* N */` comments of
//! `/usr/include/tcl8.6/tclDecls.h` by the unit test at the end of this file
//! (and was checked once by hand with `offsetof(TclStubs, tcl_X)` in C).
//!
//! # Tcl 9 (not implemented)
//!
//! Tcl 9.0 keeps `stubTable` at offset 24 but uses `TCL_STUB_MAGIC`
//! 0xFCA3BAD3 on 64-bit, wants the package name "tcl" in `PkgRequireEx`, and
//! changes the ABI: `Tcl_Obj.refCount` and `.length` become 64-bit
//! `Tcl_Size`, slot 33 (`Tcl_GetByteArrayFromObj`) is NULL (use 650
//! `Tcl_GetBytesFromObj(interp, obj, Tcl_Size *)`), the `Tcl_Size` versions
//! of `Tcl_GetStringFromObj` and `Tcl_ListObjGetElements` are slots 651 and
//! 661, `Tcl_NewIntObj` and `Tcl_Eval` are gone, and 641/642/643 are real
//! `Tcl_IncrRefCount`/`Tcl_DecrRefCount`/`Tcl_IsShared` functions. The usual
//! way to support both is one binary per major version and a `pkgIndex.tcl`
//! that branches on `[package vsatisfies [package provide Tcl] 9.0-]`;
//! checking the magic here and picking a second slot set and `Tcl_Obj`
//! layout at run time would also work. Until then a Tcl 9 interpreter is
//! refused with "interpreter uses an incompatible stubs mechanism".

#![allow(non_snake_case, non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// `TCL_STUB_MAGIC` of Tcl 8.x.
pub const TCL_STUB_MAGIC: u32 = 0xFCA3_BACF;
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

/// A Tcl value, Tcl 8.6 layout (48 bytes on x86_64).
#[repr(C)]
pub struct Tcl_Obj {
    pub refCount: c_int,
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
    if !unsafe { magic_ok(table) } {
        // SAFETY: as above, `head` is the live interpreter's head.
        unsafe { refuse(head) };
        return Err(());
    }
    type PkgRequireEx = unsafe extern "C" fn(
        *mut Tcl_Interp,
        *const c_char,
        *const c_char,
        c_int,
        *mut c_void,
    ) -> *const c_char;
    // SAFETY: the table's magic matched, so slot 1 is Tcl_PkgRequireEx
    // with this C signature (checked against tclDecls.h by a unit test).
    let require: PkgRequireEx = unsafe { std::mem::transmute(slot_in(table, 1)) };
    let mut client_data: *mut c_void = ptr::null_mut();
    // SAFETY: a live interpreter, static NUL-terminated strings, and a
    // pointer to a local that outlives the call.
    let version = unsafe {
        require(
            interp,
            c"Tcl".as_ptr(),
            c"8.6".as_ptr(),
            0,
            (&mut client_data as *mut *mut c_void).cast(),
        )
    };
    if version.is_null() {
        return Err(()); // Tcl_PkgRequireEx has set the error message.
    }
    let table = client_data.cast::<StubsHead>();
    // SAFETY: Tcl_PkgRequireEx gave the Tcl package's stubs table (or null).
    if !unsafe { magic_ok(table) } {
        // SAFETY: `head` is the live interpreter's head (see above).
        unsafe { refuse(head) };
        return Err(());
    }
    STUBS.store(table, Ordering::Release);
    Ok(())
}

/// Whether [`init`] has succeeded at least once in this process.
pub fn initialised() -> bool {
    !STUBS.load(Ordering::Acquire).is_null()
}

/// # Safety
/// `table` is null or points to a stubs table (at least its head).
unsafe fn magic_ok(table: *const StubsHead) -> bool {
    // SAFETY: not null, so a readable stubs table head (the contract).
    !table.is_null() && unsafe { (*table).magic } as u32 == TCL_STUB_MAGIC
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

        /// (name, slot, parameter count) of every declared function, for
        /// the header check.
        #[cfg(test)]
        pub(crate) const SLOTS: &[(&str, usize, usize)] =
            &[$((stringify!($name), $slot, <[&str]>::len(&[$(stringify!($arg)),*]))),*];
    };
}

tcl_stubs! {
    0 => Tcl_PkgProvideEx(interp: *mut Tcl_Interp, name: *const c_char, version: *const c_char, clientData: *const c_void) -> c_int;
    29 => Tcl_DuplicateObj(objPtr: *mut Tcl_Obj) -> *mut Tcl_Obj;
    30 => TclFreeObj(objPtr: *mut Tcl_Obj);
    32 => Tcl_GetBooleanFromObj(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, intPtr: *mut c_int) -> c_int;
    33 => Tcl_GetByteArrayFromObj(objPtr: *mut Tcl_Obj, lengthPtr: *mut c_int) -> *mut u8;
    40 => Tcl_GetObjType(typeName: *const c_char) -> *const Tcl_ObjType;
    35 => Tcl_GetDoubleFromObj(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, doublePtr: *mut f64) -> c_int;
    41 => Tcl_GetStringFromObj(objPtr: *mut Tcl_Obj, lengthPtr: *mut c_int) -> *mut c_char;
    45 => Tcl_ListObjGetElements(interp: *mut Tcl_Interp, listPtr: *mut Tcl_Obj, objcPtr: *mut c_int, objvPtr: *mut *mut *mut Tcl_Obj) -> c_int;
    50 => Tcl_NewByteArrayObj(bytes: *const u8, length: c_int) -> *mut Tcl_Obj;
    52 => Tcl_NewIntObj(intValue: c_int) -> *mut Tcl_Obj;
    53 => Tcl_NewListObj(objc: c_int, objv: *const *mut Tcl_Obj) -> *mut Tcl_Obj;
    56 => Tcl_NewStringObj(bytes: *const c_char, length: c_int) -> *mut Tcl_Obj;
    58 => Tcl_SetByteArrayLength(objPtr: *mut Tcl_Obj, numBytes: c_int) -> *mut u8;
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
    264 => Tcl_WrongNumArgs(interp: *mut Tcl_Interp, objc: c_int, objv: *const *mut Tcl_Obj, message: *const c_char);
    291 => Tcl_EvalEx(interp: *mut Tcl_Interp, script: *const c_char, numBytes: c_int, flags: c_int) -> c_int;
    293 => Tcl_EvalObjEx(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, flags: c_int) -> c_int;
    304 => Tcl_GetIndexFromObjStruct(interp: *mut Tcl_Interp, objPtr: *mut Tcl_Obj, tablePtr: *const c_void, offset: c_int, msg: *const c_char, flags: c_int, indexPtr: *mut c_int) -> c_int;
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

/// `Tcl_IncrRefCount` (a macro in 8.6, not a slot).
///
/// # Safety
/// `obj` must be a live object of the calling thread.
#[inline]
pub unsafe fn Tcl_IncrRefCount(obj: *mut Tcl_Obj) {
    // SAFETY: a live object of this thread (the contract): no other thread
    // touches its count.
    unsafe { (*obj).refCount += 1 };
}

/// `Tcl_DecrRefCount` (a macro in 8.6): frees the object through
/// `TclFreeObj` when the last reference goes.
///
/// # Safety
/// `obj` must be a live object of the calling thread on which the caller
/// holds a reference.
#[inline]
pub unsafe fn Tcl_DecrRefCount(obj: *mut Tcl_Obj) {
    // SAFETY: a live object of this thread (the contract).
    let count = unsafe { (*obj).refCount };
    // SAFETY: as above.
    unsafe { (*obj).refCount = count - 1 };
    if count <= 1 {
        // SAFETY: the last reference is gone: the object is Tcl's to free.
        unsafe { TclFreeObj(obj) };
    }
}

/// `Tcl_IsShared` (a macro in 8.6).
///
/// # Safety
/// `obj` must be a live object of the calling thread.
#[inline]
pub unsafe fn Tcl_IsShared(obj: *mut Tcl_Obj) -> bool {
    // SAFETY: a live object of this thread (the contract).
    unsafe { (*obj).refCount > 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// A Tcl 9 (or unknown) table is refused with Tcl's own message, set
    /// the way Tcl_InitStubs sets it, without calling through the table.
    #[test]
    fn refuses_a_foreign_stubs_table() {
        for magic in [0xFCA3_BAD3_u32, 0] {
            let table = StubsHead {
                magic: magic as c_int,
                hooks: ptr::null(),
            };
            let mut head = InterpHead {
                result: c"".as_ptr(),
                free_proc: std::ptr::NonNull::<c_void>::dangling().as_ptr(),
                error_line: 0,
                stub_table: &table,
            };
            // SAFETY: `head` mirrors an interpreter's public head, which
            // is all `init` reads before it refuses a foreign table.
            let rc = unsafe { init((&mut head as *mut InterpHead).cast()) };
            assert!(rc.is_err());
            // SAFETY: `init` set `result` to a static NUL-terminated string.
            assert_eq!(unsafe { CStr::from_ptr(head.result) }, INCOMPATIBLE);
            assert!(head.free_proc.is_null());
        }
        let mut head = InterpHead {
            result: c"".as_ptr(),
            free_proc: ptr::null(),
            error_line: 0,
            stub_table: ptr::null(),
        };
        // SAFETY: as above; a null table is refused before anything else.
        assert!(unsafe { init((&mut head as *mut InterpHead).cast()) }.is_err());
        assert_eq!(
            // SAFETY: as above.
            unsafe { CStr::from_ptr(head.result) }.to_str().unwrap(),
            "interpreter uses an incompatible stubs mechanism"
        );
    }

    /// Every slot number used here matches the `/* N */` comment of the
    /// member in `struct TclStubs` of the installed `tclDecls.h`, and its
    /// parameter count the member's. CI installs the header (tcl-dev); on
    /// a machine without it the test says so and checks nothing, but under
    /// CI (the `CI` variable set) it fails.
    #[test]
    fn slots_match_tcldecls_h() {
        let path = "/usr/include/tcl8.6/tclDecls.h";
        let Ok(header) = std::fs::read_to_string(path) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{path} is missing: CI must install tcl-dev"
            );
            println!("{path} not installed (apt-get install tcl-dev): slot check not done");
            return;
        };
        let start = header
            .find("typedef struct TclStubs {")
            .expect("struct TclStubs");
        let end = start
            + header[start..]
                .find("} TclStubs;")
                .expect("end of TclStubs");
        let body = &header[start..end];
        for &(name, slot, params) in SLOTS {
            // Member names are `tcl_` + the name without its `Tcl_` prefix,
            // except TclFreeObj, whose member is `tclFreeObj`.
            let member = match name.strip_prefix("Tcl_") {
                Some(rest) => format!("(*tcl_{rest})"),
                None => format!("(*tcl{})", &name[3..]),
            };
            let line = body
                .lines()
                .find(|l| l.contains(&member))
                .unwrap_or_else(|| panic!("{name}: {member} not in struct TclStubs"));
            let comment = line.rsplit("/*").next().unwrap();
            let number: usize = comment
                .trim_end()
                .trim_end_matches("*/")
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: no slot comment in {line:?}"));
            assert_eq!(number, slot, "{name}");
            // The parameter list: between the parentheses after the member.
            let after = &line[line.find(&member).unwrap() + member.len()..];
            let list = after
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once(')'))
                .map(|(list, _)| list.trim())
                .unwrap_or_else(|| panic!("{name}: no parameter list in {line:?}"));
            let count = match list {
                "void" | "" => 0,
                list => list.split(',').count(),
            };
            assert_eq!(count, params, "{name}: parameters in {line:?}");
        }
    }
}
