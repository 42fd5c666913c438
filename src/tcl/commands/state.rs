//! CGI state: `update` (read-modify-write without lost updates), `lock`
//! and `unlock`.

use std::time::Duration;

use super::*;
use crate::client::Change;
use crate::tcl::args::{
    arity, data_and_flags, data_obj, invalid, key_bytes, options, seconds, u32_arg,
};
use crate::tcl::interp::{CmdResult, Interp};
use crate::tcl::obj::{IndexTable, Obj, ObjRef};
use crate::tcl::stubs::{TCL_BREAK, TCL_ERROR, TCL_OK};
use crate::tcl::CmdError;

/// A lock's lifetime when `-ttl` is not given: a crashed holder blocks
/// others this long at most.
const LOCK_TTL: u32 = 60;

/// How long `lock` waits for a held lock when `-wait` is not given.
const LOCK_WAIT_MS: u32 = 10_000;

static LOCK_OPTIONS: IndexTable =
    IndexTable::new(&[c"-ttl".as_ptr(), c"-wait".as_ptr(), std::ptr::null()]);

/// `update ?-place value? handle key varName script ?ttl?`: the item's
/// value in `varName` (unset when there is none), `script` run in the
/// caller's frame, the variable's new value stored with the CAS value read
/// (`add` when there was none); when another writer got there first, read
/// and run again. `break` stores nothing; the variable unset removes the
/// item; an error stores nothing and is the command's error. Returns the
/// value stored (empty when nothing was).
pub(super) fn update(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 4, 5, "mchandle key varName script ?ttl?")?;
    let client = handle(objv[1])?;
    let at = client.at(lead.place.as_deref());
    let key = key_bytes(objv[2]);
    let (var, script) = (objv[3], objv[4]);
    let ttl = ttl_or_default(objv, 5, &client)?;
    let mut stored = None;
    let format = client.value_format();
    at.update(&key, ttl, |item| {
        // The user's flags of the item read are kept (its text bit follows
        // the new value).
        let user_flags = match item {
            Some(item) => {
                interp.set_var(var, data_obj(&item.value, item.flags, format))?;
                item.flags & !format.text_flag()
            }
            None => {
                interp.unset_var(var);
                0
            }
        };
        match interp.eval(script) {
            TCL_OK => {}
            TCL_BREAK => return Ok(Change::Keep),
            TCL_ERROR => return Err(CmdError::Reported),
            code => {
                return Err(invalid(format!(
                    "update script ended with code {code} (return or continue): nothing stored"
                )))
            }
        }
        let Some(new) = interp.get_var(var) else {
            return Ok(Change::Remove);
        };
        let value = new.as_obj().value();
        let flags = data_and_flags(&value, user_flags, format);
        let change = Change::Store {
            value: value.bytes().to_vec(),
            flags,
        };
        stored = Some(new);
        Ok(change)
    })
    .map(|change| match (change, stored) {
        (Change::Store { .. }, Some(value)) => interp.set_result(value),
        _ => interp.reset_result(),
    })
}

/// `lock ?-ttl seconds? ?-wait ms? handle name`: takes the lock `name` and
/// returns its token; CONFLICT when it is still held after `-wait` ms
/// (default 10000). The lock lives `-ttl` seconds at most (default 60).
pub(super) fn lock(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let mut ttl = LOCK_TTL;
    let mut wait = LOCK_WAIT_MS;
    let rest = options(interp, objv, &LOCK_OPTIONS, |which, value| {
        match which {
            0 => ttl = seconds(value, "ttl")?,
            _ => wait = u32_arg(value, "wait")?,
        }
        Ok(())
    })?;
    arity(
        interp,
        &rest,
        2,
        2,
        "?-ttl seconds? ?-wait ms? mchandle name",
    )?;
    let client = handle(rest[1])?;
    let token = client.lock(&key_bytes(rest[2]), ttl, Duration::from_millis(wait.into()))?;
    interp.set_result(Obj::new_text(&token));
    Ok(())
}

/// `unlock handle name token`: 1 when `token` held the lock and released
/// it, 0 when it no longer did (expired, maybe taken by another, who keeps
/// it).
pub(super) fn unlock(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 3, 3, "mchandle name token")?;
    let client = handle(objv[1])?;
    let released = client.unlock(&key_bytes(objv[2]), &objv[3].to_string_lossy())?;
    interp.set_result_bool(released);
    Ok(())
}
