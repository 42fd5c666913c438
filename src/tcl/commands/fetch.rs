//! The reading subcommands: `get`, `gets`, `mget`, `valid`, `ttl`,
//! `flags`.

use super::*;
use crate::client::Client;
use crate::tcl::args::{arity, data_obj, index, key_bytes, list_of, not_found, u64_obj};
use crate::tcl::interp::{CmdResult, Interp};
use crate::tcl::obj::{Obj, ObjBuf, ObjRef};
use std::borrow::Cow;

/// `get handle key ?listindex?`
pub(super) fn get(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 3, "mchandle key ?listindex?")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let at = objv.get(3).map(|&w| index(w)).transpose()?;
    let data = fetch(&client, lead.place.as_deref(), &key, false)?.0;
    match at {
        None => interp.set_result(data),
        Some(at) => {
            let elements = list_of(interp, data.as_obj())?;
            match at.resolve(elements.len()) {
                Some(i) => interp.set_result(elements[i].clone()),
                None => interp.reset_result(),
            }
        }
    }
    Ok(())
}

/// `gets handle key`: {data casid}.
pub(super) fn gets(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let (data, cas) = fetch(&client, lead.place.as_deref(), &key, true)?;
    interp.set_result_list([data, u64_obj(cas)]);
    Ok(())
}

/// The data of `key` (from the server `place` picks) as a Tcl value, read
/// straight into it (see [`ObjBuf`]), and its casid if `cas` (else 0);
/// `NOTFOUND` if none.
pub(super) fn fetch(
    client: &Client,
    place: Option<&[u8]>,
    key: &[u8],
    cas: bool,
) -> Result<(Obj, u64), crate::tcl::CmdError> {
    let format = client.value_format();
    let (buf, _flags, cas) = client
        .at(place)
        .get_with(key, cas, |len, flags| {
            ObjBuf::new(len, format.is_text(flags))
        })?
        .ok_or_else(|| not_found(key))?;
    Ok((buf.into_obj(), cas))
}

/// `mget ?-place value? ?-partial varName? handle keylist`: a dict of the
/// hits, in keylist order. With `-partial`, servers that fail do not fail
/// the command: their keys are left out and their error messages go to
/// the variable (a list, empty when every server answered).
pub(super) fn mget(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, true)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle keylist")?;
    let client = handle(objv[1])?;
    let words = list_of(interp, objv[2])?;
    let keys: Vec<Cow<'_, [u8]>> = words.iter().map(|w| key_bytes(w.as_obj())).collect();
    let at = client.at(lead.place.as_deref());
    let format = client.value_format();
    // Each hit's value goes at its key's place in the keylist. A key
    // given twice is answered at both places and put in the dict twice, so
    // it keeps its first place (and its value), as `dict` does.
    let mut values: Vec<Option<Obj>> = vec![None; keys.len()];
    let each = |i: usize, _: &[u8], flags, _cas, data: &[u8]| {
        values[i] = Some(data_obj(data, flags, format));
    };
    match lead.partial {
        // No cas in the dict: a `get`, whose reply has none.
        None => at.get_many_with(&keys, false, each)?,
        Some(var) => {
            let errors = at.get_many_partial_with(&keys, false, each)?;
            let messages = errors.iter().map(|e| Obj::new_text(e.message()));
            interp.set_var(var, Obj::new_list(messages))?;
        }
    }
    let pairs = words
        .iter()
        .zip(keys.iter())
        .zip(values)
        .filter_map(|((word, key), value)| {
            // The key as given, unless it was binary (then its bytes as text).
            let key = if word.as_obj().is_pure_bytearray() {
                Obj::new_text_utf8(key)
            } else {
                word.clone()
            };
            Some((key, value?))
        });
    interp.set_result_dict(pairs);
    Ok(())
}

/// `valid handle key`: 1 or 0.
pub(super) fn valid(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let exists = client
        .at(lead.place.as_deref())
        .exists(&key_bytes(objv[2]))?;
    interp.set_result_bool(exists);
    Ok(())
}

/// `ttl handle key`: seconds left, -1 for none.
pub(super) fn ttl(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let left = client
        .at(lead.place.as_deref())
        .ttl(&key)?
        .ok_or_else(|| not_found(&key))?;
    interp.set_result_int(left);
    Ok(())
}

/// `flags handle key`: the flags stored, with the text flag.
pub(super) fn flags(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let flags = client
        .at(lead.place.as_deref())
        .flags(&key)?
        .ok_or_else(|| not_found(&key))?;
    interp.set_result_int(i64::from(flags));
    Ok(())
}
