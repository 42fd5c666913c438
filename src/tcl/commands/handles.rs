//! `create`, `delete`, `list`, `configure`, and the server list of a
//! handle (`servers`, `serverof`, `setservers`, `forgetdead`).

use super::*;
use crate::client::{Options, ValueFormat};
use crate::daemon;
use crate::registry;
use crate::tcl::args::{arity, key_bytes, string_match};
use crate::tcl::config::{self, Opt};
use crate::tcl::interp::{CmdResult, Interp};
use crate::tcl::obj::{Obj, ObjRef};
use std::borrow::Cow;

/// `create ?-option value ...? ?--? server ?server ...?`
pub(super) fn create(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    const USAGE: &str = "?-option value ...? server ?server ...?";
    let mut i = 1;
    let mut option_words = Vec::new();
    while let Some(&word) = objv.get(i) {
        let text = word.tcl_string();
        if text == b"--" {
            i += 1;
            break;
        }
        if !text.starts_with(b"-") {
            break;
        }
        option_words.push(word);
        if let Some(&value) = objv.get(i + 1) {
            option_words.push(value);
        }
        i += 2;
    }
    // Tcl handles follow python-memcached's flags (16 text, 8 zlib).
    let mut options = Options {
        value_format: ValueFormat::Python,
        ..Options::default()
    };
    config::apply(interp, &mut options, &option_words)?;
    let specs: Vec<Cow<'_, str>> = objv
        .get(i..)
        .unwrap_or(&[])
        .iter()
        .map(|w| w.to_string_lossy())
        .collect();
    if specs.is_empty() {
        return Err(interp.wrong_num_args(1, objv, USAGE));
    }
    let id = registry::create(&specs, options)?;
    interp.set_result_text(&registry::name(id));
    Ok(())
}

/// `delete all`, `delete ?handle ...?`
pub(super) fn delete(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let words = &objv[1..];
    if words.len() == 1 && words[0].tcl_string() == b"all" {
        let count = registry::clear();
        interp.set_result_int(i64::try_from(count).unwrap_or(i64::MAX));
        return Ok(());
    }
    // Every name is checked first: an unknown one deletes nothing.
    let mut ids = Vec::with_capacity(words.len());
    for word in words {
        let id = registry::parse_name(&word.to_string_lossy())?;
        registry::get(id)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    // Another thread may delete one meanwhile: count what this call did.
    let count = ids
        .into_iter()
        .filter(|&id| registry::remove(id).is_ok())
        .count();
    interp.set_result_int(i64::try_from(count).unwrap_or(i64::MAX));
    Ok(())
}

/// `list ?pattern?`
pub(super) fn list(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 0, 1, "?pattern?")?;
    let pattern = objv.get(1).copied();
    let names = registry::ids()
        .into_iter()
        .map(registry::name)
        .filter(|name| pattern.is_none_or(|p| string_match(p, name)))
        .map(|name| Obj::new_text(&name));
    interp.set_result_list(names);
    Ok(())
}

/// `configure handle ?option? ?value option value ...?`
pub(super) fn configure(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(
        interp,
        objv,
        1,
        usize::MAX,
        "mchandle ?option? ?value option value ...?",
    )?;
    let client = handle(objv[1])?;
    let words = &objv[2..];
    match words.len() {
        0 => {
            let options = client.options();
            interp.set_result_dict(config::ALL.iter().map(|o| (o.name(), o.get(&options))));
        }
        1 => {
            let opt = Opt::from_word(interp, words[0])?;
            interp.set_result(opt.get(&client.options()));
        }
        _ => {
            client.update_options(|options| config::apply(interp, options, words))?;
            interp.reset_result();
        }
    }
    Ok(())
}

/// `servers handle`
pub(super) fn servers(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    let client = handle(objv[1])?;
    interp.set_result_list(client.servers().map(|s| Obj::new_text(&s.name)));
    Ok(())
}

/// `serverof ?-place value? handle key`: the name of the server the key
/// (or the placement value) belongs to, dead or not.
pub(super) fn serverof(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    let (lead, objv) = lead(interp, objv, false)?;
    let objv = &objv[..];
    arity(interp, objv, 2, 2, "mchandle key")?;
    let client = handle(objv[1])?;
    let n = client
        .at(lead.place.as_deref())
        .server_for(&key_bytes(objv[2]))?;
    interp.set_result_text(&client.server(n)?.name);
    Ok(())
}

/// `setservers handle server ?server ...?`: a new server list for the
/// handle (its settings stay); socket files get daemons as at `create`.
pub(super) fn setservers(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 2, usize::MAX, "mchandle server ?server ...?")?;
    let client = handle(objv[1])?;
    let specs: Vec<Cow<'_, str>> = objv[2..].iter().map(|w| w.to_string_lossy()).collect();
    daemon::replace_servers(&client, &specs)?;
    interp.reset_result();
    Ok(())
}

/// `forgetdead handle`: clears the dead marks of the handle's servers.
pub(super) fn forgetdead(interp: Interp, objv: &[ObjRef<'_>]) -> CmdResult {
    arity(interp, objv, 1, 1, "mchandle")?;
    handle(objv[1])?.forget_dead();
    interp.reset_result();
    Ok(())
}
