//! `fetch` and `invalidate`: get-or-compute with a lease, and
//! stale-while-revalidate (see `client/fetch.rs`).

use std::time::Duration;

use super::*;
use crate::client::FetchOptions;
use crate::tcl::args::{
    arity, data_and_flags, data_obj, invalid, key_bytes, not_found, options, seconds, u32_arg,
};
use crate::tcl::interp::{CmdResult, Interp};
use crate::tcl::obj::{IndexTable, ObjRef};
use crate::tcl::stubs::{TCL_ERROR, TCL_OK};
use crate::tcl::CmdError;

static FETCH_OPTIONS: IndexTable = IndexTable::new(&[
    c"-lease".as_ptr(),
    c"-wait".as_ptr(),
    c"-recache".as_ptr(),
    c"-place".as_ptr(),
    std::ptr::null(),
]);

/// `fetch ?-lease seconds? ?-wait ms? ?-recache seconds? ?-place value?
/// handle key ttl script`: the key's value; on a miss, `script` is run in
/// the caller's frame by one caller among all that ask at once (threads
/// and processes), its result stored with `ttl` and returned; the others
/// wait for it (`-wait` ms, default 10000), then run the script
/// themselves. An error of the script stores nothing, gives the lease back
/// at once, and is the command's error, unchanged.
pub(super) fn fetch(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let mut chosen = FetchOptions::default();
    let mut place = None;
    let rest = options(interp, objv, &FETCH_OPTIONS, |which, value| {
        match which {
            0 => chosen.lease = seconds(value, "lease")?,
            1 => chosen.wait = Duration::from_millis(u32_arg(value, "wait")?.into()),
            2 => chosen.recache = seconds(value, "recache")?,
            _ => place = Some(key_bytes(value)),
        }
        Ok(())
    })?;
    arity(
        interp,
        &rest,
        4,
        4,
        "?-lease seconds? ?-wait ms? ?-recache seconds? ?-place value? mchandle key ttl script",
    )?;
    let client = handle(rest[1])?;
    let key = key_bytes(rest[2]);
    let ttl = seconds(rest[3], "ttl")?;
    let script = rest[4];
    let format = client.value_format();
    let (data, flags) =
        client
            .at(place.as_deref())
            .fetch(&key, ttl, chosen, || match interp.eval(script) {
                TCL_OK => {
                    let result = interp.result();
                    let value = result.as_obj().value();
                    let flags = data_and_flags(&value, 0, format);
                    Ok((value.bytes().to_vec(), flags))
                }
                TCL_ERROR => Err(CmdError::Reported),
                code => Err(invalid(format!(
                "fetch script ended with code {code} (break, continue or return): nothing stored"
            ))),
            })?;
    interp.set_result(data_obj(&data, flags, format));
    Ok(())
}

/// `invalidate handle key ?ttl?`: marks the key's value stale instead of
/// removing it (the next `fetch`es get it at once while one recomputes);
/// `ttl`: how long it may still be served (default: its lifetime is kept).
/// NOTFOUND when there is no value.
pub(super) fn invalidate(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 2, 3, "mchandle key ?ttl?")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let ttl = objv.get(3).map(|&w| seconds(w, "ttl")).transpose()?;
    if !client.invalidate(&key, ttl)? {
        return Err(not_found(&key));
    }
    interp.reset_result();
    Ok(())
}
