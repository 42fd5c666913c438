//! The Tcl binding: `libmemcache.so` is also a stubs-enabled Tcl 8.6
//! extension, with no C code and no link to libtcl.
//!
//! - [`stubs`]: finding Tcl's function table at `Memcache_Init` time, one
//!   Rust function per slot used.
//! - [`obj`]: [`Obj`] (an owned `Tcl_Obj` reference) and [`ObjRef`] (a
//!   borrowed one: the words of a command), with Tcl's own parsers.
//! - [`utf`]: real UTF-8 <-> Tcl's internal "modified UTF-8".
//! - [`interp`]: [`Interp`]: results, errors (`MEMCACHE <KIND>`), `wrong #
//!   args`.
//! - [`args`]: words to the core's arguments (keys, data, numbers, list
//!   indexes) and results to values.
//! - [`config`]: the options of `memcache configure` and `create`.
//! - [`commands`]: the table of subcommands and their implementations.
//!
//! `Memcache_Init` creates the namespace `::memcache`, one command
//! `::memcache::<name>` per entry of [`commands::SUBCOMMANDS`] (exported),
//! and the ensemble `::memcache` over the namespace's exports, so
//! `memcache put ...` calls `::memcache::put`. Every command runs inside
//! `catch_unwind`: a panic becomes a Tcl error with errorCode
//! `MEMCACHE PANIC`, never an unwind into Tcl.
//!
//! There is deliberately no `Memcache_SafeInit`: the extension starts and
//! stops local daemons and opens sockets to any host, which a safe
//! interpreter must not be able to do, so `load` refuses it in a safe
//! interpreter ("can't use package in a safe interpreter: no
//! Memcache_SafeInit procedure").

pub mod args;
pub mod commands;
pub mod config;
pub mod interp;
pub mod obj;
pub mod stubs;
pub mod utf;

use std::any::Any;
use std::ffi::{c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Mutex;

pub use interp::{CmdError, CmdResult, Interp};
pub use obj::ObjRef;

use obj::Obj;
use stubs::{ClientData, Tcl_Interp, Tcl_Obj, TCL_ERROR, TCL_OK};

/// The implementation of one subcommand. `objv[0]` is the command's own
/// name (`::memcache::put`), `objv[1..]` its arguments; on `Ok` the
/// interpreter's result is the command's result.
pub type CmdFn = fn(Interp, &[ObjRef<'_>]) -> CmdResult;

/// One entry of [`commands::SUBCOMMANDS`].
pub struct Subcommand {
    /// The subcommand's name: lower-case ASCII letters, digits, `_`.
    pub name: &'static str,
    pub run: CmdFn,
}

/// The namespace, and the ensemble command over it.
const NAMESPACE: &str = "::memcache";
const NAMESPACE_C: &CStr = c"::memcache";
const PACKAGE: &CStr = c"memcache";
/// The package version: the crate's.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("CARGO_PKG_VERSION contains a NUL"),
    };

/// Entry point of `load libmemcache.so Memcache`, once per interpreter.
///
/// # Safety
/// Called by Tcl with a live interpreter.
#[no_mangle]
pub unsafe extern "C" fn Memcache_Init(interp: *mut Tcl_Interp) -> c_int {
    // SAFETY: Tcl calls this with a live interpreter, in its thread.
    boundary(interp, "load", || unsafe { init(interp) })
}

/// Entry point of `unload`: `flags` is `TCL_UNLOAD_DETACH_FROM_INTERPRETER`
/// when other interpreters still use the library, else
/// `TCL_UNLOAD_DETACH_FROM_PROCESS` (the library is unmapped afterwards).
///
/// # Safety
/// Called by Tcl with a live interpreter.
#[no_mangle]
pub unsafe extern "C" fn Memcache_Unload(interp: *mut Tcl_Interp, flags: c_int) -> c_int {
    // SAFETY: Tcl calls this with a live interpreter, in its thread.
    boundary(interp, "unload", || unsafe { unload(interp, flags) })
}

/// # Safety
/// `raw` is null or a live interpreter, in its thread.
unsafe fn init(raw: *mut Tcl_Interp) -> c_int {
    // SAFETY: a live interpreter passed in by Tcl (the contract).
    if raw.is_null() || unsafe { stubs::init(raw) }.is_err() {
        return TCL_ERROR;
    }
    // SAFETY: the stubs table was just initialised.
    unsafe { obj::init_types() };
    // SAFETY: as above.
    let interp = unsafe { Interp::from_raw(raw) };
    // SAFETY: a live interpreter in its thread, stubs initialised.
    match unsafe { create_ensemble(interp, commands::SUBCOMMANDS) } {
        Ok(()) => {}
        Err(CmdError::Reported) => return TCL_ERROR,
        Err(CmdError::Memcache(e)) => {
            interp.set_error(&e);
            return TCL_ERROR;
        }
    }
    register_exit_handler();
    // SAFETY: a live interpreter and static NUL-terminated strings.
    unsafe { stubs::Tcl_PkgProvideEx(raw, PACKAGE.as_ptr(), VERSION.as_ptr(), ptr::null()) }
}

/// Creates `::memcache`, its commands, their exports and the ensemble.
///
/// # Safety
/// `interp` is live, in its thread, and the stubs table is initialised.
/// Every stubs call below gets this interpreter, NUL-terminated strings
/// that outlive the call, and namespace and ensemble tokens Tcl just gave.
unsafe fn create_ensemble(interp: Interp, table: &'static [Subcommand]) -> CmdResult {
    let raw = interp.as_ptr();
    // SAFETY: see the function's Safety.
    let mut ns = unsafe { stubs::Tcl_FindNamespace(raw, NAMESPACE_C.as_ptr(), ptr::null_mut(), 0) };
    if ns.is_null() {
        // SAFETY: see the function's Safety.
        ns =
            unsafe { stubs::Tcl_CreateNamespace(raw, NAMESPACE_C.as_ptr(), ptr::null_mut(), None) };
        if ns.is_null() {
            return Err(CmdError::Reported);
        }
    }
    for sub in table {
        let name = CString::new(sub.name).expect("subcommand name without NUL");
        let full = CString::new(format!("{NAMESPACE}::{}", sub.name)).expect("no NUL");
        let client_data: ClientData = (sub as *const Subcommand).cast_mut().cast();
        // SAFETY: see the function's Safety; `client_data` is a `&'static
        // Subcommand`, which `dispatch` reads back.
        let token =
            unsafe { stubs::Tcl_CreateObjCommand(raw, full.as_ptr(), dispatch, client_data, None) };
        // SAFETY: see the function's Safety.
        if token.is_null() || unsafe { stubs::Tcl_Export(raw, ns, name.as_ptr(), 0) } != TCL_OK {
            return Err(CmdError::Reported);
        }
    }
    // Subcommands = the namespace's exports; unique prefixes accepted, as
    // with `namespace ensemble create`.
    // SAFETY: see the function's Safety.
    let ensemble = unsafe {
        stubs::Tcl_CreateEnsemble(raw, NAMESPACE_C.as_ptr(), ns, stubs::TCL_ENSEMBLE_PREFIX)
    };
    if ensemble.is_null() {
        return Err(CmdError::Reported);
    }
    // Compiled like Tcl's own ensembles (string, dict): in a procedure,
    // `memcache get $h $k` becomes a direct call of ::memcache::get, which
    // saves the ensemble's lookup at run time (~1,500 instructions of a
    // get's ~6,700). Errors and `wrong # args` read the same. The compiler
    // resolves subcommands only through a mapping dict, so one is set
    // (the same names and commands as the exports).
    let map = Obj::new_dict(table.iter().map(|sub| {
        let command = format!("{NAMESPACE}::{}", sub.name);
        (Obj::new_text(sub.name), Obj::new_text(&command))
    }));
    // SAFETY: see the function's Safety; `map` is a live dict value.
    if unsafe { stubs::Tcl_SetEnsembleMappingDict(raw, ensemble, map.as_ptr()) } != TCL_OK {
        return Err(CmdError::Reported);
    }
    let flags = stubs::TCL_ENSEMBLE_PREFIX | stubs::ENSEMBLE_COMPILE;
    // SAFETY: see the function's Safety.
    if unsafe { stubs::Tcl_SetEnsembleFlags(raw, ensemble, flags) } != TCL_OK {
        return Err(CmdError::Reported);
    }
    Ok(())
}

/// The `Tcl_ObjCmdProc` of every subcommand; `client_data` is its
/// `&'static Subcommand`.
unsafe extern "C" fn dispatch(
    client_data: ClientData,
    raw: *mut Tcl_Interp,
    objc: c_int,
    objv: *const *mut Tcl_Obj,
) -> c_int {
    // SAFETY: registered by `create_ensemble` with a `&'static Subcommand`.
    let sub = unsafe { &*client_data.cast::<Subcommand>() };
    // SAFETY: Tcl calls a command with its live interpreter, in its thread,
    // and `objc` live argument objects in `objv` for the call.
    boundary(raw, sub.name, || unsafe {
        let interp = Interp::from_raw(raw);
        let args = ObjRef::slice_from_raw(objc, objv);
        match (sub.run)(interp, args) {
            Ok(()) => TCL_OK,
            Err(CmdError::Reported) => TCL_ERROR,
            Err(CmdError::Memcache(e)) => {
                interp.set_error(&e);
                TCL_ERROR
            }
        }
    })
}

/// Runs `f`, turning a panic into a Tcl error (`MEMCACHE PANIC`) so that
/// it never unwinds into Tcl. `what` names the command for the message.
fn boundary(raw: *mut Tcl_Interp, what: &str, f: impl FnOnce() -> c_int) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(rc) => rc,
        Err(payload) => {
            // Reporting must not unwind either (a panicking payload Drop, a
            // failing allocation): then just fail.
            let reported = catch_unwind(AssertUnwindSafe(|| report_panic(raw, what, payload)));
            if let Err(again) = reported {
                std::mem::forget(again);
            }
            TCL_ERROR
        }
    }
}

fn report_panic(raw: *mut Tcl_Interp, what: &str, payload: Box<dyn Any + Send>) {
    let detail = crate::error::panic_message(&*payload);
    drop(payload);
    if raw.is_null() || !stubs::initialised() {
        return;
    }
    // SAFETY: the live interpreter of the call being reported.
    let interp = unsafe { Interp::from_raw(raw) };
    let message = if what == "load" || what == "unload" {
        format!("internal error in memcache {what}: {detail}")
    } else {
        format!("internal error in \"memcache {what}\": {detail}")
    };
    interp.set_error_parts(crate::Kind::Panic.word(), &message);
}

/// # Safety
/// `raw` is null or a live interpreter, in its thread.
unsafe fn unload(raw: *mut Tcl_Interp, flags: c_int) -> c_int {
    if raw.is_null() || !stubs::initialised() {
        return TCL_ERROR;
    }
    // SAFETY: a live interpreter (the contract), stubs initialised; the
    // stubs calls below get it and static NUL-terminated strings.
    let interp = unsafe { Interp::from_raw(raw) };
    // Deleting the namespace deletes its commands and the ensemble bound
    // to it.
    // SAFETY: see above.
    let ns = unsafe { stubs::Tcl_FindNamespace(raw, NAMESPACE_C.as_ptr(), ptr::null_mut(), 0) };
    if !ns.is_null() {
        // SAFETY: a namespace Tcl just found.
        unsafe { stubs::Tcl_DeleteNamespace(ns) };
    }
    // So that a later `package require memcache` loads it again (the
    // package index is read again by `package unknown`).
    // SAFETY: see above.
    unsafe {
        stubs::Tcl_EvalEx(
            raw,
            c"package forget memcache".as_ptr(),
            -1,
            stubs::TCL_EVAL_GLOBAL,
        )
    };
    interp.reset_result();
    let detach = if flags == stubs::TCL_UNLOAD_DETACH_FROM_PROCESS {
        Detach::Process
    } else {
        Detach::Interp
    };
    on_unload(detach);
    if detach == Detach::Process {
        // The library is unmapped next: Tcl must not call into it at exit.
        unregister_exit_handler();
    }
    TCL_OK
}

/// What [`on_unload`] is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detach {
    /// One interpreter unloaded the extension; others (maybe in other
    /// threads) still use it.
    Interp,
    /// The last interpreter unloaded it, or the process is exiting
    /// (`Tcl_Finalize` runs the exit handler): the library goes away.
    Process,
}

/// Called by `Memcache_Unload` (after this interpreter's commands are
/// gone) and by the exit handler.
///
/// On [`Detach::Process`] every handle is deleted, closing its
/// connections: seed 000 says `memcache delete all` "is automatically
/// executed if the memcache command extension is unloaded". Running daemons
/// are left alone, and so is the data on the servers.
///
/// On [`Detach::Interp`] nothing is deleted: handles belong to the process,
/// not to an interpreter (`memcache create` in one interpreter or thread
/// makes a handle every other one, and C code using the library, can use),
/// and the library stays loaded for those other users.
fn on_unload(detach: Detach) {
    if detach == Detach::Process {
        crate::registry::clear();
    }
}

/// Whether our exit handler is registered with Tcl (once per process).
static EXIT_HANDLER: Mutex<bool> = Mutex::new(false);

fn register_exit_handler() {
    let mut registered = EXIT_HANDLER.lock().unwrap_or_else(|e| e.into_inner());
    if !*registered {
        // SAFETY: stubs initialised by the caller (Init).
        unsafe { stubs::Tcl_CreateExitHandler(exit_handler, ptr::null_mut()) };
        *registered = true;
    }
}

fn unregister_exit_handler() {
    let mut registered = EXIT_HANDLER.lock().unwrap_or_else(|e| e.into_inner());
    if *registered {
        // SAFETY: same handler and client data as registered.
        unsafe { stubs::Tcl_DeleteExitHandler(exit_handler, ptr::null_mut()) };
        *registered = false;
    }
}

unsafe extern "C" fn exit_handler(_client_data: ClientData) {
    let result = catch_unwind(|| {
        *EXIT_HANDLER.lock().unwrap_or_else(|e| e.into_inner()) = false;
        on_unload(Detach::Process);
    });
    if let Err(payload) = result {
        std::mem::forget(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::commands::SUBCOMMANDS;

    /// Names are plain words (they are also `Tcl_Export` glob patterns),
    /// unique and sorted.
    #[test]
    fn subcommand_table_is_well_formed() {
        for sub in SUBCOMMANDS {
            assert!(
                !sub.name.is_empty()
                    && sub
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "bad subcommand name {:?}",
                sub.name
            );
        }
        for pair in SUBCOMMANDS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
    }

    #[test]
    fn version_is_the_crate_version() {
        assert_eq!(super::VERSION.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
