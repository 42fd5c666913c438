//! The interpreter as seen by a command: setting the result, raising errors.

use std::ffi::{c_int, CString};
use std::ptr::NonNull;

use super::obj::{Obj, ObjRef};
use super::stubs::{self as s, Tcl_Interp};
use crate::error::Error;

/// How a command failed.
#[derive(Debug)]
pub enum CmdError {
    /// The interpreter's result and errorCode are already set, by Tcl (a
    /// parser of [`ObjRef`], [`Interp::wrong_num_args`]) or by the command.
    Reported,
    /// A library error: the result becomes its message and errorCode the
    /// list `MEMCACHE <KIND>` ([`crate::Kind::word`]).
    Memcache(Error),
}

impl From<Error> for CmdError {
    fn from(err: Error) -> CmdError {
        CmdError::Memcache(err)
    }
}

/// What a subcommand returns: `Ok(())` with the result set (empty if not),
/// or the error.
pub type CmdResult = Result<(), CmdError>;

/// An interpreter, valid for the command call (or `Init`) it was given to.
/// Not `Send`: an interpreter belongs to one thread.
#[derive(Debug, Clone, Copy)]
pub struct Interp {
    ptr: NonNull<Tcl_Interp>,
}

impl Interp {
    /// # Safety
    /// `ptr` must be a live interpreter of the calling thread, used only
    /// while Tcl keeps it alive (the command call).
    pub unsafe fn from_raw(ptr: *mut Tcl_Interp) -> Interp {
        Interp {
            ptr: NonNull::new(ptr).expect("NULL Tcl_Interp"),
        }
    }

    pub fn as_ptr(self) -> *mut Tcl_Interp {
        self.ptr.as_ptr()
    }

    /// Sets the result to `value`.
    pub fn set_result(self, value: Obj) {
        // SAFETY: live interp; Tcl takes its own reference, ours drops.
        unsafe { s::Tcl_SetObjResult(self.as_ptr(), value.as_ptr()) }
    }

    /// Sets the result to a string.
    pub fn set_result_text(self, text: &str) {
        self.set_result(Obj::new_text(text));
    }

    /// Sets the result to an integer.
    pub fn set_result_int(self, value: i64) {
        self.set_result(Obj::new_int(value));
    }

    /// Sets the result to 0 or 1.
    pub fn set_result_bool(self, value: bool) {
        self.set_result(Obj::new_bool(value));
    }

    /// Sets the result to a list.
    pub fn set_result_list<I: IntoIterator<Item = Obj>>(self, items: I) {
        self.set_result(Obj::new_list(items));
    }

    /// Sets the result to a dict.
    pub fn set_result_dict<I: IntoIterator<Item = (Obj, Obj)>>(self, pairs: I) {
        self.set_result(Obj::new_dict(pairs));
    }

    /// The result as a string, e.g. the message a Tcl parser left there.
    pub fn result_text(self) -> String {
        let text = self.result().as_obj().to_string_lossy().into_owned();
        text
    }

    /// The result (a new reference to it).
    pub fn result(self) -> Obj {
        // SAFETY: live interp; Tcl_GetObjResult never returns NULL.
        unsafe { Obj::from_raw(s::Tcl_GetObjResult(self.as_ptr())) }
    }

    /// Empties the result and clears errorCode/errorInfo state.
    pub fn reset_result(self) {
        // SAFETY: live interp.
        unsafe { s::Tcl_ResetResult(self.as_ptr()) }
    }

    /// Sets the variable `name` (as `set` would, in the current scope) to
    /// `value`; Tcl's error is left in the interpreter if it cannot be set.
    pub fn set_var(self, name: ObjRef<'_>, value: Obj) -> Result<(), CmdError> {
        // SAFETY: live interp and objects; Tcl takes its own reference to
        // the value (ours is dropped after the call).
        let set = unsafe {
            s::Tcl_ObjSetVar2(
                self.as_ptr(),
                name.as_ptr(),
                std::ptr::null_mut(),
                value.as_ptr(),
                s::TCL_LEAVE_ERR_MSG,
            )
        };
        if set.is_null() {
            Err(CmdError::Reported)
        } else {
            Ok(())
        }
    }

    /// The value of the variable `name` in the current scope, if it exists
    /// (no error message is left when it does not).
    pub fn get_var(self, name: ObjRef<'_>) -> Option<Obj> {
        // SAFETY: live interp and name object; a variable's value is a live
        // object, of which the Obj takes its own reference.
        unsafe {
            let value = s::Tcl_ObjGetVar2(self.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0);
            (!value.is_null()).then(|| Obj::from_raw(value))
        }
    }

    /// Unsets the variable `name` in the current scope, if it exists.
    pub fn unset_var(self, name: ObjRef<'_>) {
        let Ok(name) = CString::new(name.tcl_string()) else {
            return; // a Tcl string holds no NUL byte
        };
        // SAFETY: live interp and a NUL-terminated name; no part2.
        unsafe { s::Tcl_UnsetVar2(self.as_ptr(), name.as_ptr(), std::ptr::null(), 0) };
    }

    /// Evaluates `script` in the current scope (the caller's frame of the
    /// running command): Tcl's return code; the result (or error, with its
    /// errorInfo and errorCode) is left in the interpreter.
    pub fn eval(self, script: ObjRef<'_>) -> c_int {
        // SAFETY: live interp and script object (Tcl takes its own
        // reference while evaluating).
        unsafe { s::Tcl_EvalObjEx(self.as_ptr(), script.as_ptr(), 0) }
    }

    /// Sets the result to `err`'s message and errorCode to
    /// `MEMCACHE <KIND>`. The command must then return `TCL_ERROR` (the
    /// dispatcher does this for [`CmdError::Memcache`]).
    pub fn set_error(self, err: &Error) {
        self.set_error_parts(err.kind().word(), err.message());
    }

    /// Sets the result to `message` and errorCode to `MEMCACHE <word>`.
    pub(crate) fn set_error_parts(self, word: &str, message: &str) {
        self.reset_result();
        self.set_result_text(message);
        let code = Obj::new_list([Obj::new_text("MEMCACHE"), Obj::new_text(word)]);
        // SAFETY: live interp; Tcl takes its own reference.
        unsafe { s::Tcl_SetObjErrorCode(self.as_ptr(), code.as_ptr()) }
    }

    /// Sets the standard message `wrong # args: should be "memcache put
    /// mchandle data"` (errorCode `TCL WRONGARGS`) and returns
    /// [`CmdError::Reported`] for `return Err(...)`.
    ///
    /// `objc` is the number of leading words of `objv` to repeat (1 for a
    /// subcommand: its own name, which the ensemble rewrites into
    /// `memcache <sub>`); `usage` is the rest, e.g. `"mchandle data"`.
    pub fn wrong_num_args(self, objc: usize, objv: &[ObjRef<'_>], usage: &str) -> CmdError {
        let objc = objc.min(objv.len());
        let usage = CString::new(usage.replace('\0', "")).expect("NUL removed");
        // SAFETY: live interp; `objv[..objc]` are live objects (ObjRef has
        // the layout of `Tcl_Obj *`).
        unsafe {
            s::Tcl_WrongNumArgs(
                self.as_ptr(),
                objc as s::Size,
                objv.as_ptr().cast(),
                usage.as_ptr(),
            )
        };
        CmdError::Reported
    }
}
