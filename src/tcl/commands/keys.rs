//! Changing and removing: `incr`, `decr`, `touch`, `remove`, `mremove`,
//! `flush`.

use super::*;
use crate::client::Placed;
use crate::tcl::args::{arity, key_bytes, list_of, not_found, seconds, u64_arg, u64_obj};
use crate::tcl::interp::{CmdResult, Interp};
use crate::tcl::obj::ObjRef;
use std::borrow::Cow;

/// `incr handle key ?delta?`
pub(super) fn incr(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arith(interp, objv, |at, key, delta| at.incr(key, delta))
}

/// `decr handle key ?delta?`
pub(super) fn decr(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arith(interp, objv, |at, key, delta| at.decr(key, delta))
}

/// `incr` and `decr`: `op` is the client's.
pub(super) fn arith(
    interp: Interp,
    objv: &[ObjRef<'_>],
    op: impl FnOnce(Placed<'_>, &[u8], u64) -> crate::Result<Option<u64>>,
) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 3, "mchandle key ?delta?")?;
    let client = handle(objv[1])?;
    let at = client.at(lead.place.as_deref());
    let key = key_bytes(objv[2]);
    let delta = objv.get(3).map_or(Ok(1), |&w| u64_arg(w, "delta"))?;
    let result = op(at, &key, delta)?;
    interp.set_result(u64_obj(result.ok_or_else(|| not_found(&key))?));
    Ok(())
}

/// `touch handle key ttl`
pub(super) fn touch(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 3, 3, "mchandle key ttl")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let ttl = seconds(objv[3], "ttl")?;
    if !client.at(lead.place.as_deref()).touch(&key, ttl)? {
        return Err(not_found(&key));
    }
    interp.reset_result();
    Ok(())
}

/// `remove handle key ?ttl?`: now (no ttl, or 0), or in ttl seconds.
pub(super) fn remove(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 3, "mchandle key ?ttl?")?;
    let client = handle(objv[1])?;
    let at = client.at(lead.place.as_deref());
    let key = key_bytes(objv[2]);
    let ttl = objv.get(3).map_or(Ok(0), |&w| seconds(w, "ttl"))?;
    let had = if ttl == 0 {
        at.delete(&key)?
    } else {
        at.touch(&key, ttl)?
    };
    if !had {
        return Err(not_found(&key));
    }
    interp.reset_result();
    Ok(())
}

/// `mremove handle keylist`: how many had data.
pub(super) fn mremove(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle keylist")?;
    let client = handle(objv[1])?;
    let words = list_of(interp, objv[2])?;
    let keys: Vec<Cow<'_, [u8]>> = words.iter().map(|w| key_bytes(w.as_obj())).collect();
    let found = client.at(lead.place.as_deref()).delete_many(&keys)?;
    let count = found.into_iter().filter(|&had| had).count();
    interp.set_result_int(i64::try_from(count).unwrap_or(i64::MAX));
    Ok(())
}

/// `flush handle ?delay?`
pub(super) fn flush(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 2, "mchandle ?delay?")?;
    let client = handle(objv[1])?;
    let delay = objv.get(2).map(|&w| seconds(w, "delay")).transpose()?;
    client.flush_all(delay)?;
    interp.reset_result();
    Ok(())
}
