//! The storing subcommands: `put`, `append`, `add`, `replace`, `prepend`,
//! `cas`, `mput`.

use super::*;
use crate::client::{Status, StoreVerb};
use crate::error::Kind;
use crate::key;
use crate::tcl::args::{
    arity, data_and_flags, invalid, key_bytes, key_error, list_of, not_found, u64_arg, value_bytes,
};
use crate::tcl::interp::{CmdResult, Interp};
use crate::tcl::obj::ObjRef;

/// `put ?-place value? handle data`, `put ?-place value? handle key data ?ttl? ?flags?`
pub(super) fn put(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    store_any(interp, objv, StoreVerb::Set)
}

/// `append ?-place value? handle data`, `append ?-place value? handle key data ?ttl? ?flags?`
pub(super) fn append(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    store_any(interp, objv, StoreVerb::Append)
}

/// `put` (`verb` Set) and `append` (Append: appended, or added when there
/// is no data): two forms, an empty key means a new unique key.
pub(super) fn store_any(interp: Interp, objv: &[ObjRef<'_>], verb: StoreVerb) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 5, "mchandle ?key? data ?ttl? ?flags?")?;
    let client = handle(objv[1])?;
    let at = client.at(lead.place.as_deref());
    let (key_word, data_word) = if objv.len() == 3 {
        (None, objv[2])
    } else {
        (Some(objv[2]), objv[3])
    };
    let given = key_word.map(key_bytes).filter(|k| !k.is_empty());
    let value = data_word.value();
    let ttl = ttl_or_default(objv, 4, &client)?;
    let flags = data_and_flags(&value, flags_or_zero(objv, 5)?, client.value_format());
    let made = if given.is_none() {
        Some(key::unique()?)
    } else {
        None
    };
    let key: &[u8] = match (&given, &made) {
        (Some(k), _) => k,
        (None, Some(m)) => m.as_bytes(),
        (None, None) => unreachable!("a key is given or made"),
    };
    let status = match verb {
        StoreVerb::Append => at.append_or_add(key, value.bytes(), flags, ttl)?,
        _ => at.set(key, value.bytes(), flags, ttl)?,
    };
    if status != Status::Stored {
        let why = match verb {
            StoreVerb::Append => "not stored: key KEY kept changing while appending to it",
            _ => "not stored: the server refused to store key KEY",
        };
        return Err(key_error(Kind::NotStored, key, why));
    }
    match (made, key_word) {
        (Some(made), _) => interp.set_result_text(&made),
        (None, Some(word)) => interp.set_result(word.to_obj()),
        (None, None) => unreachable!("a key is given or made"),
    }
    Ok(())
}

/// `add handle key data ?ttl? ?flags?`
pub(super) fn add(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    store_if(interp, objv, StoreVerb::Add)
}

/// `replace handle key data ?ttl? ?flags?`
pub(super) fn replace(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    store_if(interp, objv, StoreVerb::Replace)
}

/// `add` (only without data) and `replace` (only with data).
pub(super) fn store_if(interp: Interp, objv: &[ObjRef<'_>], verb: StoreVerb) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 3, 5, "mchandle key data ?ttl? ?flags?")?;
    let client = handle(objv[1])?;
    let at = client.at(lead.place.as_deref());
    let key = key_bytes(objv[2]);
    let value = objv[3].value();
    let ttl = ttl_or_default(objv, 4, &client)?;
    let flags = data_and_flags(&value, flags_or_zero(objv, 5)?, client.value_format());
    if at.store(verb, &key, value.bytes(), flags, ttl)? != Status::Stored {
        let why = match verb {
            StoreVerb::Add => "not stored: key KEY already has data",
            _ => "not stored: key KEY has no data",
        };
        return Err(key_error(Kind::NotStored, &key, why));
    }
    interp.set_result(objv[2].to_obj());
    Ok(())
}

/// `prepend handle key data`
pub(super) fn prepend(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 3, 3, "mchandle key data")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let value = objv[3].value();
    if client
        .at(lead.place.as_deref())
        .prepend(&key, value.bytes())?
        != Status::Stored
    {
        return Err(key_error(
            Kind::NotStored,
            &key,
            "not stored: key KEY has no data",
        ));
    }
    interp.set_result(objv[2].to_obj());
    Ok(())
}

/// `cas handle key data casid ?ttl? ?flags?`
pub(super) fn cas(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 4, 6, "mchandle key data casid ?ttl? ?flags?")?;
    let client = handle(objv[1])?;
    let key = key_bytes(objv[2]);
    let value = objv[3].value();
    let casid = u64_arg(objv[4], "casid")?;
    let ttl = ttl_or_default(objv, 5, &client)?;
    let flags = data_and_flags(&value, flags_or_zero(objv, 6)?, client.value_format());
    match client
        .at(lead.place.as_deref())
        .cas(&key, value.bytes(), flags, ttl, casid)?
    {
        Status::Stored => {}
        Status::Exists => {
            return Err(key_error(
                Kind::Exists,
                &key,
                "not stored: the data of key KEY changed since it was read",
            ))
        }
        Status::NotFound => return Err(not_found(&key)),
        Status::NotStored => {
            return Err(key_error(
                Kind::NotStored,
                &key,
                "not stored: the server refused to store key KEY",
            ))
        }
    }
    interp.set_result(objv[2].to_obj());
    Ok(())
}

/// `mput handle dict ?ttl? ?flags?`: returns the keys not stored.
pub(super) fn mput(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 4, "mchandle dict ?ttl? ?flags?")?;
    let client = handle(objv[1])?;
    let words = list_of(interp, objv[2])?;
    if words.len() % 2 != 0 {
        return Err(invalid("bad dict: missing value to go with key"));
    }
    let ttl = ttl_or_default(objv, 3, &client)?;
    let flags = flags_or_zero(objv, 4)?;
    let format = client.value_format();
    let items: Vec<_> = words
        .chunks(2)
        .map(|pair| {
            let value = pair[1].as_obj().value();
            let flags = data_and_flags(&value, flags, format);
            (key_bytes(pair[0].as_obj()), value_bytes(value), flags)
        })
        .collect();
    let outcomes = client.at(lead.place.as_deref()).set_many(&items, ttl)?;
    let failed = words
        .chunks(2)
        .zip(outcomes)
        .filter(|(_, outcome)| *outcome != Ok(Status::Stored))
        .map(|(pair, _)| pair[0].clone());
    interp.set_result_list(failed);
    Ok(())
}
